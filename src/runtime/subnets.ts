/**
 * Subnets for Project networks once the engine's own address pools are used up. Docker's default
 * pools hold 31 bridge networks (172.17–31.0.0/16 and 192.168.0.0/16 in /20s): a Berth with more
 * Projects than that could not create the next network. Berth then picks the first /24 of its
 * own pool (BERTH_NETWORK_POOL, default 172.16.0.0/16, the one /16 of 172.16.0.0/12 Docker's
 * defaults leave out) that overlaps no existing network (README, Configuration). The engine's own choice stays first: an
 * installation under 31 Projects sees no difference.
 */

export const DEFAULT_NETWORK_POOL = "172.16.0.0/16";

interface Cidr {
  base: number;
  bits: number;
}

function ipToInt(ip: string): number | undefined {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** An IPv4 CIDR, its base masked; undefined for anything else (IPv6, garbage). */
export function parseCidr(text: string): Cidr | undefined {
  const [ip, len] = text.trim().split("/");
  const base = ipToInt(ip ?? "");
  const bits = Number(len);
  if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return undefined;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (base & mask) >>> 0, bits };
}

function size(c: Cidr): number {
  return 2 ** (32 - c.bits);
}

function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/** The first /24 of `pool` that overlaps none of `used` (and none of `skip`), or undefined. */
export function firstFreeSubnet(pool: string, used: string[], skip: ReadonlySet<string> = new Set()): string | undefined {
  const p = parseCidr(pool);
  if (!p || p.bits > 24) return undefined;
  const taken = used.map(parseCidr).filter((c): c is Cidr => !!c);
  for (let base = p.base; base < p.base + size(p); base += 256) {
    const candidate = { base, bits: 24 };
    const text = `${intToIp(base)}/24`;
    if (!skip.has(text) && !taken.some((t) => overlaps(t, candidate))) return text;
  }
  return undefined;
}

/** The engine said its default address pools are used up. */
export function poolExhausted(message: string): boolean {
  return /could not find an available, non-overlapping IPv4 address pool/i.test(message);
}

/** Another network got that subnet first (a concurrent create, or one made by hand meanwhile). */
export function subnetTaken(message: string): boolean {
  return /overlaps with other one on this address space|pool overlaps/i.test(message);
}

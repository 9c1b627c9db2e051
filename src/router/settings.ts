/** Let's Encrypt's production directory: the ACME CA used when none is configured. */
export const LETS_ENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory";
/** The image `scripts/build-caddy-image.sh` builds from Debian's caddy package. */
export const DEFAULT_CADDY_IMAGE = "berth/caddy:2.6";
export const DEFAULT_CADDY_ADMIN = "http://127.0.0.1:2019";

/**
 * How `berth serve` reaches its router (Caddy), as the CLI or a caller gives it. Routing is on when
 * `adminUrl` is set (a Caddy Berth is pointed at) or `managed` is true (a Caddy container Berth
 * runs itself); without either, Domains report RouterNotConfigured.
 */
export interface RouterOptions {
  /** Caddy's admin API, e.g. http://127.0.0.1:2019 (--caddy-admin, BERTH_CADDY_ADMIN). */
  adminUrl?: string;
  /** Run Caddy as a container on the host network and manage it (--caddy-managed). */
  managed?: boolean;
  /** The image of the managed Caddy (--caddy-image). */
  image?: string;
  /** Ports Caddy serves HTTP and HTTPS on (default 80 and 443). */
  httpPort?: number;
  httpsPort?: number;
  /** Address Caddy's listeners bind to; empty (default) means every interface. */
  bindHost?: string;
  acme?: {
    /** ACME directory URL; default Let's Encrypt. */
    directory?: string;
    /** Account e-mail sent to the ACME CA. */
    email?: string;
    /** PEM files (paths as Caddy sees them) of roots to trust for a private ACME CA such as pebble. */
    trustedRootsPemFiles?: string[];
  };
  /** How often the managed Caddy container is checked (default 10 s). */
  superviseMs?: number;
}

/** RouterOptions with every default filled in. */
export interface RouterSettings {
  adminUrl: string;
  managed: boolean;
  image: string;
  httpPort: number;
  httpsPort: number;
  bindHost: string;
  /** Where Berth connects to read the certificate Caddy serves: the admin URL's host. */
  probeHost: string;
  acme: { directory: string; email?: string; trustedRootsPemFiles: string[] };
  superviseMs: number;
}

function portOf(v: number | undefined, fallback: number, what: string): number {
  const n = v ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${what} must be a port number, got ${v}`);
  return n;
}

function adminUrlOf(o: RouterOptions): URL {
  const u = new URL((o.adminUrl || DEFAULT_CADDY_ADMIN).replace(/\/+$/, ""));
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`--caddy-admin must be an http(s) URL, got "${o.adminUrl}"`);
  return u;
}

function acmeOf(o: RouterOptions): RouterSettings["acme"] {
  return { directory: o.acme?.directory || LETS_ENCRYPT_DIRECTORY, email: o.acme?.email || undefined, trustedRootsPemFiles: o.acme?.trustedRootsPemFiles ?? [] };
}

/** The settings, or undefined when routing is off. */
export function resolveRouterSettings(o: RouterOptions | undefined): RouterSettings | undefined {
  if (!o || (!o.adminUrl && !o.managed)) return undefined;
  const u = adminUrlOf(o);
  const httpPort = portOf(o.httpPort, 80, "--caddy-http-port");
  const httpsPort = portOf(o.httpsPort, 443, "--caddy-https-port");
  if (httpPort === httpsPort) throw new Error("--caddy-http-port and --caddy-https-port must differ");
  const host = u.hostname.replace(/^\[|\]$/g, "");
  return {
    adminUrl: (o.adminUrl || DEFAULT_CADDY_ADMIN).replace(/\/+$/, ""),
    managed: !!o.managed,
    image: o.image || DEFAULT_CADDY_IMAGE,
    httpPort,
    httpsPort,
    bindHost: o.bindHost ?? "",
    probeHost: host === "localhost" || host === "0.0.0.0" ? "127.0.0.1" : host,
    acme: acmeOf(o),
    superviseMs: o.superviseMs ?? 10_000,
  };
}

/** Where Caddy's admin API listens, as the managed container's admin listen address. */
export function adminListenAddress(s: RouterSettings): string {
  const u = new URL(s.adminUrl);
  return `${u.hostname.replace(/^\[|\]$/g, "")}:${u.port || (u.protocol === "https:" ? "443" : "80")}`;
}

/** The `berth serve` flags for the router (commander fills env equivalents in). */
export interface CliRouterFlags {
  caddyAdmin?: string;
  caddyManaged?: boolean;
  caddyImage?: string;
  caddyHttpPort?: string;
  caddyHttpsPort?: string;
  acmeDirectory?: string;
  acmeEmail?: string;
  acmeCaRoot?: string;
}

export function routerOptionsFromFlags(f: CliRouterFlags, env: NodeJS.ProcessEnv): RouterOptions | undefined {
  const managed = !!f.caddyManaged || env.BERTH_CADDY_MANAGED === "true";
  if (!f.caddyAdmin && !managed) return undefined;
  const num = (v: string | undefined): number | undefined => (v === undefined || v === "" ? undefined : Number(v));
  const opts: RouterOptions = {
    adminUrl: f.caddyAdmin,
    managed,
    image: f.caddyImage,
    httpPort: num(f.caddyHttpPort),
    httpsPort: num(f.caddyHttpsPort),
    bindHost: env.BERTH_CADDY_BIND_HOST,
    acme: { directory: f.acmeDirectory, email: f.acmeEmail, trustedRootsPemFiles: f.acmeCaRoot ? f.acmeCaRoot.split(",").filter(Boolean) : undefined },
  };
  resolveRouterSettings(opts); // a bad URL or port fails `berth serve` at once, not in the controllers
  return opts;
}

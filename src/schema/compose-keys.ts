/**
 * The translation of each compose service key Berth supports into the fields of an Application
 * spec (docs/compose.md lists them). Each reports what it cannot carry out to `Problems`,
 * naming the service and key; none throws.
 */
import path from "node:path";
import type { HealthcheckSpec, PortSpec } from "../core/specs.js";

export type Json = unknown;
export type Obj = Record<string, Json>;

export const isObj = (v: Json): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** How a translation reads files (env_file). Tests pass an in-memory one. */
export type ReadFile = (absolutePath: string) => string;

/** A host path outside the directories the server allows compose files to be read from. */
export class HostPathRefused extends Error {}

/** Why a file could not be read, without anything of its content. */
export function readFailure(file: string, e: unknown): string {
  return e instanceof HostPathRefused ? e.message : `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? "error"})`;
}

/** Problems collected while translating: `services.web.privileged: not supported by Berth`. */
export class Problems {
  readonly list: string[] = [];
  add(where: string, message: string): void {
    this.list.push(`${where}: ${message}`);
  }
  unsupported(where: string): void {
    this.add(where, "not supported by Berth");
  }
  /** Every key of `v` outside `allowed` (x- extensions aside) is refused. */
  onlyKeys(v: Obj, where: string, allowed: readonly string[]): void {
    for (const k of Object.keys(v)) if (!allowed.includes(k) && !k.startsWith("x-")) this.unsupported(where ? `${where}.${k}` : k);
  }
}

/** What a key translator gets: the Application name, the compose file's directory, a reader, the declared volumes. */
export interface TranslateContext {
  app: string;
  dir?: string;
  read: ReadFile;
  volumes: Set<string>;
  /** Set for a compose file read from git: build contexts come from that commit. */
  git?: { repository: string; commit: string; dir: string };
}

export function scalarString(v: Json): string {
  return typeof v === "string" ? v : String(v);
}

const unquote = (word: string): string =>
  word.replace(/'([^']*)'|"((?:\\.|[^"\\])*)"|\\(.)/g, (_m, single?: string, double?: string, escaped?: string) => single ?? (double !== undefined ? double.replace(/\\(["\\$`])/g, "$1") : (escaped ?? "")));

/** Splits a command string into words as a POSIX shell would (quotes and backslashes; no expansion). */
export function shellSplit(s: string): string[] {
  return (s.match(/(?:[^\s'"\\]+|'[^']*'|"(?:\\.|[^"\\])*"|\\.)+/g) ?? []).map(unquote);
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Compose durations (`1m30s`, `1.5s`, `100ms`) in milliseconds; undefined when not one. */
export function composeDurationMs(v: Json): number | undefined {
  if (typeof v === "number") return v * 1000;
  if (typeof v !== "string" || !/^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/.test(v)) return undefined;
  let total = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/g)) total += Number(m[1]) * UNIT_MS[m[2]];
  return Math.round(total);
}

/** A duration as Berth writes it (one unit: `90s`, `500ms`, `2m`). */
export function berthDuration(ms: number): string {
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000]] as const) if (ms > 0 && ms % size === 0) return `${ms / size}${unit}`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export function duration(v: Json, where: string, p: Problems): string | undefined {
  const ms = composeDurationMs(v);
  if (ms === undefined) p.add(where, `not a duration: ${JSON.stringify(v)}`);
  return ms === undefined ? undefined : berthDuration(ms);
}

function envValue(raw: string): string {
  const q = raw[0];
  if ((q === '"' || q === "'") && raw.lastIndexOf(q) > 0) {
    const inner = raw.slice(1, raw.lastIndexOf(q));
    return q === '"' ? inner.replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1") : inner;
  }
  return raw.replace(/\s+#.*$/, "");
}

/** KEY=VALUE lines of an env file (comments, blank lines, `export`, quotes), as compose reads them. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const m = /^(?:export\s+)?([^=\s#]+)\s*=\s*(.*)$/.exec(raw.trim());
    if (m) out[m[1]] = envValue(m[2]);
  }
  return out;
}

/** `environment:` as a list (`K=V`) or a mapping; a variable without a value is refused. */
export function environment(v: Json, where: string, p: Problems): Record<string, string> {
  const pairs: [string, Json][] = Array.isArray(v)
    ? v.map((item) => {
        const s = scalarString(item);
        const i = s.indexOf("=");
        return i < 0 ? [s, null] : [s.slice(0, i), s.slice(i + 1)];
      })
    : Object.entries(v as Obj);
  const out: Record<string, string> = {};
  for (const [k, x] of pairs) {
    if (x === null || x === undefined) p.add(`${where}.${k}`, "a variable without a value (compose takes it from the shell) is not supported by Berth; give it a value");
    else out[k] = scalarString(x);
  }
  return out;
}

function readEnvFile(e: Obj, at: string, ctx: TranslateContext, p: Problems): Record<string, string> {
  if (e.format !== undefined) p.add(`${at}.format`, "not supported by Berth");
  const file = String(e.path);
  if (!path.isAbsolute(file) && !ctx.dir) {
    p.add(at, `a relative path (${file}) needs source.compose.file: inline content has no directory to resolve it from`);
    return {};
  }
  const abs = path.resolve(ctx.dir ?? "/", file);
  try {
    return parseEnvFile(ctx.read(abs));
  } catch (err) {
    if (e.required !== false || err instanceof HostPathRefused) p.add(at, readFailure(abs, err));
    return {};
  }
}

/** `env_file:` on the host, relative to the compose file; later files win over earlier ones. */
export function envFiles(v: Json, where: string, ctx: TranslateContext, p: Problems): Record<string, string> {
  const list = Array.isArray(v) ? v : [v];
  const out: Record<string, string> = {};
  list.forEach((e, i) => Object.assign(out, readEnvFile(typeof e === "string" ? { path: e } : (e as Obj), Array.isArray(v) ? `${where}[${i}]` : where, ctx, p)));
  return out;
}

/** `command:` and `entrypoint:`: a list as is, a string split into words. */
export function commandList(v: Json): string[] {
  return typeof v === "string" ? shellSplit(v) : (v as Json[]).map(scalarString);
}

function longPort(item: Obj, at: string, p: Problems): PortSpec | undefined {
  p.onlyKeys(item, at, ["target", "published", "host_ip", "protocol"]);
  const port: PortSpec = { containerPort: Number(item.target), ...(item.protocol ? { protocol: String(item.protocol) } : {}) };
  if (item.published === undefined && item.host_ip === undefined) return port;
  const published = item.published === undefined ? "" : String(item.published);
  if (published && !/^\d+$/.test(published)) {
    p.add(`${at}.published`, "a port range is not supported by Berth");
    return undefined;
  }
  port.publish = { ...(published ? { hostPort: Number(published) } : {}), ...(item.host_ip ? { hostIP: String(item.host_ip) } : {}) };
  return port;
}

function shortPort(s: string, at: string, p: Problems): PortSpec | undefined {
  const m = /^(?:(?:(\[[^\]]+\]|[^:[\]]+):)?(\d*):)?(\d+)(?:\/(tcp|udp))?$/.exec(s);
  if (!m) {
    p.add(at, /\d-\d/.test(s) ? "a port range is not supported by Berth" : `not a port Berth can publish: "${s}"`);
    return undefined;
  }
  const [, hostIp, hostPort, containerPort, protocol] = m;
  // As compose does: a port listed without a host port is published on a free one.
  const publish = { ...(hostPort ? { hostPort: Number(hostPort) } : {}), ...(hostIp ? { hostIP: hostIp.replace(/^\[|\]$/g, "") } : {}) };
  return { containerPort: Number(containerPort), ...(protocol ? { protocol } : {}), publish };
}

/** `ports:` (short `[[host_ip:]host_port:]container_port[/protocol]` and long syntax). */
export function ports(v: Json[], where: string, p: Problems): PortSpec[] {
  const out = v.map((item, i) => (isObj(item) ? longPort(item, `${where}[${i}]`, p) : shortPort(scalarString(item), `${where}[${i}]`, p)));
  return out.filter((x): x is PortSpec => !!x);
}

/** `expose:`: ports reachable on the Project network only. */
export function expose(v: Json[]): PortSpec[] {
  return v.map((x) => {
    const [port, protocol] = scalarString(x).split("/");
    return { containerPort: Number(port), ...(protocol ? { protocol } : {}) };
  });
}

const ANONYMOUS = "anonymous volumes are not supported by Berth (name it under the top-level volumes:)";

function longVolume(item: Obj, at: string, p: Problems): { source?: string; target: string } | undefined {
  p.onlyKeys(item, at, ["type", "source", "target", "read_only"]);
  if (item.type !== "volume") p.add(`${at}.type`, `${String(item.type)} mounts are not supported by Berth (only named volumes)`);
  else if (item.read_only === true) p.add(`${at}.read_only`, "read-only volumes are not supported by Berth");
  else return { source: item.source === undefined ? undefined : String(item.source), target: String(item.target) };
  return undefined;
}

function shortVolume(s: string, at: string, p: Problems): { source?: string; target: string } | undefined {
  const [source, target, mode] = s.split(":");
  if (target === undefined) p.add(at, ANONYMOUS);
  else if (mode !== undefined && mode !== "rw") p.add(at, `mode "${mode}" is not supported by Berth (only named read-write volumes)`);
  else if (/^[/.~]/.test(source)) p.add(at, "bind mounts of host paths are not supported by Berth (only named volumes)");
  else return { source, target };
  return undefined;
}

/** `volumes:` of a service: named volumes only, each `<app>-<volume>` in Berth (compose's `<project>_<volume>`). */
export function volumes(v: Json[], where: string, ctx: TranslateContext, p: Problems): { name: string; mountPath: string }[] {
  const out: { name: string; mountPath: string }[] = [];
  v.forEach((item, i) => {
    const at = `${where}[${i}]`;
    const mount = isObj(item) ? longVolume(item, at, p) : shortVolume(scalarString(item), at, p);
    if (!mount) return;
    if (!mount.source) p.add(at, ANONYMOUS);
    else if (!ctx.volumes.has(mount.source)) p.add(at, `volume "${mount.source}" is not declared under the top-level volumes:`);
    else out.push({ name: `${ctx.app}-${mount.source}`, mountPath: mount.target });
  });
  return out;
}

function healthCommand(test: Json, where: string, p: Problems): string[] | undefined {
  if (typeof test === "string") return ["/bin/sh", "-c", test];
  if (!Array.isArray(test)) {
    p.add(`${where}.test`, "is required by Berth (without it the image's own check would run, which Berth does not see)");
    return undefined;
  }
  const [kind, ...rest] = test.map(scalarString);
  if (kind === "CMD") return rest;
  if (kind === "CMD-SHELL") return ["/bin/sh", "-c", rest.join(" ")];
  if (kind !== "NONE") p.add(`${where}.test`, `must start with CMD, CMD-SHELL or NONE, got "${kind}"`);
  return undefined;
}

/** `healthcheck:` as a command healthcheck (CMD as is, CMD-SHELL and a string through /bin/sh -c). */
export function healthcheck(v: Obj, where: string, p: Problems): HealthcheckSpec | undefined {
  p.onlyKeys(v, where, ["test", "interval", "timeout", "retries", "start_period", "disable"]);
  if (v.disable === true) return undefined;
  const cmd = healthCommand(v.test, where, p);
  if (!cmd?.length) return undefined;
  const h: HealthcheckSpec = { command: cmd };
  const times = [["interval", "interval"], ["timeout", "timeout"], ["start_period", "startPeriod"]] as const;
  for (const [from, to] of times) if (v[from] !== undefined) h[to] = duration(v[from], `${where}.${from}`, p);
  if (v.retries !== undefined) h.retries = Number(v.retries);
  return h;
}

/** `restart:` as the Docker restart policy; a retry count is refused (Berth's on-failure has its own). */
export function restart(v: Json, where: string, p: Problems): string | undefined {
  const s = scalarString(v);
  if (["no", "always", "unless-stopped", "on-failure"].includes(s)) return s;
  p.add(where, /^on-failure:\d+$/.test(s) ? `a retry count (${s}) is not supported by Berth; write on-failure` : `unknown restart policy "${s}"`);
  return undefined;
}

export interface Dependency {
  service: string;
  condition: string;
}

/** `depends_on:` as a list (service_started) or a mapping with conditions. */
export function dependsOn(v: Json, where: string, p: Problems): Dependency[] {
  if (Array.isArray(v)) return v.map((s) => ({ service: scalarString(s), condition: "service_started" }));
  return Object.entries(v as Obj).map(([service, d]) => {
    const dep = d as Obj;
    p.onlyKeys(dep, `${where}.${service}`, ["condition", "required"]);
    if (dep.required === false) p.add(`${where}.${service}.required`, "optional dependencies are not supported by Berth");
    if (dep.condition === "service_completed_successfully") p.add(`${where}.${service}.condition`, "service_completed_successfully is not supported by Berth (its services are long-running)");
    return { service, condition: String(dep.condition) };
  });
}

const ONLY_DEFAULT = "not supported by Berth (every service is on the Project's network, as compose's default)";

/** `networks:` of a service: only `default`, with no settings. */
export function networks(v: Json, where: string, p: Problems): void {
  const names = Array.isArray(v) ? v.map(scalarString) : Object.keys(v as Obj);
  for (const n of names) {
    const settings = isObj(v) ? v[n] : undefined;
    if (n !== "default") p.add(`${where}.${n}`, ONLY_DEFAULT);
    else if (isObj(settings)) p.onlyKeys(settings, `${where}.${n}`, []);
  }
}

/** The top-level `networks:`: only `default`, with no settings. */
export function topNetworks(v: Json, p: Problems): void {
  for (const [name, settings] of Object.entries(isObj(v) ? v : {})) {
    if (name !== "default") p.add(`networks.${name}`, ONLY_DEFAULT);
    else if (isObj(settings)) p.onlyKeys(settings, `networks.${name}`, []);
  }
}

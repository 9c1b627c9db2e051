/**
 * `source.compose` (issue 16, docs/adr/0017-compose-applications.md): a compose file becomes one
 * child Application per service. This module reads the file (inline, or a path on the host),
 * checks it against the Compose Specification's JSON Schema, refuses every key Berth does not
 * carry out (naming the service and the key), and translates each service into the spec of its
 * child Application. The translation is pure given the text and a file reader; admission runs
 * it on every write (nothing is stored when it fails) and the compose reconciler runs it again
 * on every reconcile (the file on the host may have changed).
 */
import { readFileSync, realpathSync } from "node:fs";
import path from "node:path";
import { parseDocument } from "yaml";
import type { ApplicationSpec, PortSpec } from "../core/specs.js";
import { commandList, dependsOn, duration, environment, envFiles, expose, HostPathRefused, healthcheck, isObj, networks, ports, Problems, readFailure, restart, topNetworks, volumes, type Dependency, type Json, type Obj, type ReadFile, type TranslateContext } from "./compose-keys.js";
import { validateComposeSpec } from "./compose-spec.js";

export type { ReadFile };

/** `spec.source.compose` of an Application. */
export interface ComposeSource {
  file?: string;
  content?: string;
  git?: { repository: string; branch?: string; tag?: string; commit?: string; path?: string; interval?: string };
}

/** Where `build:` contexts come from: the commit the compose file was read at. */
export interface ComposeGitOrigin {
  repository: string;
  commit: string;
  /** The compose file's directory inside the repository ("" for the root). */
  dir: string;
}

/** One service, translated: the child Application's name and spec. */
export interface ComposeChild {
  service: string;
  name: string;
  spec: ApplicationSpec;
}

/** Every problem of a compose file, each naming the service and key (`services.web.privileged: …`). */
export class ComposeError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
  }
}

/** The server's setting: the directories compose files and their env files may be read from. */
export const COMPOSE_DIR_ENV = "BERTH_COMPOSE_DIR";

function composeRoots(): string[] {
  return (process.env[COMPOSE_DIR_ENV] ?? "").split(":").filter((d) => path.isAbsolute(d)).map((d) => {
    try {
      return realpathSync(d);
    } catch {
      return path.resolve(d);
    }
  });
}

/**
 * Reads a file on the Berth host, only below a directory of $BERTH_COMPOSE_DIR (symlinks
 * resolved first). Whoever may write an Application must not read the server's own files into
 * a container's environment (ADR 0017): with the setting unset, no host file is read at all.
 */
export const readHostFile: ReadFile = (p) => {
  const roots = composeRoots();
  if (!roots.length) throw new HostPathRefused(`reading compose files on the host is off: the server's ${COMPOSE_DIR_ENV} names the directories they may be read from`);
  let real: string;
  try {
    real = realpathSync(p);
  } catch {
    real = path.resolve(p);
  }
  if (!roots.some((r) => real === r || real.startsWith(r.endsWith(path.sep) ? r : r + path.sep))) throw new HostPathRefused(`${p} is outside the directories the server reads compose files from (${COMPOSE_DIR_ENV})`);
  return readFileSync(real, "utf8");
};

/** What a service key adds to the child's spec (and its dependencies, healthcheck or not). */
interface ServiceOut {
  spec: ApplicationSpec;
  build?: NonNullable<ApplicationSpec["source"]>["git"];
  env: Record<string, string>;
  envFile: Record<string, string>;
  ports: PortSpec[];
  deps: Dependency[];
}

/** What a key handler works with: the service's output so far, the file's context, the problems. */
interface KeyState {
  out: ServiceOut;
  ctx: TranslateContext;
  p: Problems;
}

type KeyHandler = (v: Json, at: string, s: KeyState) => void;

/** The service keys Berth carries out, and how; every other key of the specification is refused. */
const SERVICE_KEYS: Record<string, KeyHandler> = {
  image: (v, _at, { out }) => void (out.spec.source = { image: String(v) }),
  build: (v, at, { out, ctx, p }) => void (out.build = build(v, at, ctx, p)),
  command: (v, _at, { out }) => void (v !== null && (out.spec.args = commandList(v))),
  entrypoint: (v, _at, { out }) => void (v !== null && (out.spec.command = commandList(v))),
  environment: (v, at, { out, p }) => void (out.env = environment(v, at, p)),
  env_file: (v, at, { out, ctx, p }) => void (out.envFile = envFiles(v, at, ctx, p)),
  ports: (v, at, { out, p }) => void out.ports.push(...ports(v as Json[], at, p)),
  expose: (v, _at, { out }) => void out.ports.push(...expose(v as Json[])),
  volumes: (v, at, { out, ctx, p }) => void ((v as Json[]).length && (out.spec.volumes = volumes(v as Json[], at, ctx, p))),
  depends_on: (v, at, { out, p }) => void (out.deps = dependsOn(v, at, p)),
  healthcheck: (v, at, { out, p }) => void (out.spec.healthcheck = healthcheck(v as Obj, at, p)),
  restart: (v, at, { out, p }) => void (out.spec.restartPolicy = restart(v, at, p)),
  stop_grace_period: (v, at, { out, p }) => void (out.spec.stopGracePeriod = duration(v, at, p)),
  networks: (v, at, { p }) => void (v !== null && networks(v, at, p)),
  deploy: (v, at, { out, p }) => {
    p.onlyKeys(v as Obj, at, ["replicas"]);
    if ((v as Obj).replicas !== undefined) out.spec.replicas = Number((v as Obj).replicas);
  },
};

export const SUPPORTED_SERVICE_KEYS = Object.keys(SERVICE_KEYS);
const TOP_LEVEL_KEYS = ["version", "name", "services", "volumes", "networks"];

/** Parent spec fields that apply to every service (the service's own settings win). */
const INHERITED = ["envFrom", "resources", "strategy", "progressDeadline", "deletionPolicy", "suspend", "stopGracePeriod"] as const;
/** Parent spec fields that have no meaning beside a compose file: each service says its own. */
const NOT_WITH_COMPOSE = ["command", "args", "secretEnv", "ports", "healthcheck", "volumes", "restartPolicy"] as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The fields of a compose parent's spec that are refused, as `spec.<field>` causes. */
export function parentSpecProblems(spec: ApplicationSpec): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  for (const f of NOT_WITH_COMPOSE) if (spec[f] !== undefined) out.push({ field: `spec.${f}`, message: "not used with source.compose: set it per service in the compose file" });
  // A rollback would write an older spec into a child, which the parent then writes back: the compose file is the desired state.
  if (spec.rollback === "auto") out.push({ field: "spec.rollback", message: "a compose service's failed rollout is not rolled back (the compose file is the desired state): leave it unset or manual" });
  if (spec.replicas !== undefined && spec.replicas !== 1) out.push({ field: "spec.replicas", message: "not used with source.compose: set deploy.replicas per service in the compose file" });
  return out;
}

/** The compose file's text and the directory relative paths (env_file) are taken from. */
export function readComposeSource(source: ComposeSource, read: ReadFile = readHostFile): { text: string; dir?: string } {
  if (source.content !== undefined) return { text: source.content };
  const file = source.file ?? "";
  if (!path.isAbsolute(file)) throw new ComposeError([`must be an absolute path on the Berth host, got "${file}"`]);
  try {
    return { text: read(file), dir: path.dirname(file) };
  } catch (e) {
    // The error code only: nothing of the file's content is ever echoed.
    throw new ComposeError([readFailure(file, e)]);
  }
}

/**
 * `$$` is a literal `$`; any other `$VAR` or `${VAR}` would be interpolated by compose from the
 * shell's environment, which a server has no business reading: it is refused, not left as is.
 */
function uninterpolate(v: Json, where: string, p: Problems): Json {
  if (typeof v === "string") {
    if (v.replace(/\$\$/g, "").includes("$")) p.add(where, "variable interpolation ($VAR, ${VAR}) is not supported by Berth; write $$ for a literal $");
    return v.replace(/\$\$/g, "$");
  }
  if (Array.isArray(v)) return v.map((x, i) => uninterpolate(x, `${where}[${i}]`, p));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, uninterpolate(x, where ? `${where}.${k}` : k, p)]));
  return v;
}

/** Parses compose YAML (anchors and merge keys as compose reads them); a syntax error names line and column only. */
export function parseCompose(text: string): Obj {
  const doc = parseDocument(text, { merge: true, uniqueKeys: true });
  const e = doc.errors[0];
  if (e) throw new ComposeError([`not valid YAML${e.linePos ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : ""}: ${e.code}`]);
  const v = doc.toJS({ maxAliasCount: 100 }) as Json;
  if (!isObj(v)) throw new ComposeError(["a compose file is a mapping with services:"]);
  return v;
}

function uniquePorts(list: PortSpec[]): PortSpec[] {
  const seen = new Set<string>();
  return list.filter((x) => {
    const key = `${x.containerPort}/${x.protocol ?? "tcp"}`;
    const fresh = !seen.has(key);
    seen.add(key);
    return fresh;
  });
}

function service(name: string, svc: Obj, ctx: TranslateContext, p: Problems): ServiceOut {
  const at = `services.${name}`;
  const out: ServiceOut = { spec: {}, env: {}, envFile: {}, ports: [], deps: [] };
  for (const [k, v] of Object.entries(svc)) {
    const handler = SERVICE_KEYS[k];
    if (handler) handler(v, `${at}.${k}`, { out, ctx, p });
    else if (!k.startsWith("x-")) p.unsupported(`${at}.${k}`);
  }
  if (svc.build === undefined && typeof svc.image !== "string") p.add(`${at}.image`, "is required");
  // build: wins over image: (compose would tag the built image with that name; Berth tags by commit).
  if (out.build) out.spec.source = { git: out.build };
  // As compose: the env files first, then environment: over them.
  const env = { ...out.envFile, ...out.env };
  if (Object.keys(env).length) out.spec.env = env;
  if (out.ports.length) out.spec.ports = uniquePorts(out.ports);
  for (const k of Object.keys(out.spec) as (keyof ApplicationSpec)[]) if (out.spec[k] === undefined) delete out.spec[k];
  return out;
}

function topLevel(doc: Obj, p: Problems): Set<string> {
  p.onlyKeys(doc, "", TOP_LEVEL_KEYS);
  const vols = new Set<string>();
  for (const [name, v] of Object.entries(isObj(doc.volumes) ? doc.volumes : {})) {
    if (!DNS_LABEL.test(name)) p.add(`volumes.${name}`, "Berth needs volume names that are DNS-1123 labels (a-z, 0-9 and -)");
    if (isObj(v)) p.onlyKeys(v, `volumes.${name}`, []);
    vols.add(name);
  }
  topNetworks(doc.networks, p);
  return vols;
}

/** A dependency cycle, as `a → b → a`, if there is one. */
function cycle(graph: Map<string, string[]>): string | undefined {
  const done = new Set<string>();
  const visit = (n: string, stack: string[]): string | undefined => {
    if (stack.includes(n)) return [...stack.slice(stack.indexOf(n)), n].join(" → ");
    if (done.has(n)) return undefined;
    const found = (graph.get(n) ?? []).map((m) => visit(m, [...stack, n])).find(Boolean);
    done.add(n);
    return found;
  };
  return [...graph.keys()].map((n) => visit(n, [])).find(Boolean);
}

function inherit(child: ApplicationSpec, parent: ApplicationSpec): ApplicationSpec {
  const out: ApplicationSpec = { ...child };
  if (parent.env) out.env = { ...parent.env, ...(child.env ?? {}) };
  if (parent.dependsOn) out.dependsOn = [...parent.dependsOn, ...(child.dependsOn ?? [])];
  for (const f of INHERITED) if (parent[f] !== undefined && out[f] === undefined) (out as Record<string, unknown>)[f] = structuredClone(parent[f]);
  return out;
}

function checkDependencies(translated: Map<string, ServiceOut>, p: Problems): void {
  for (const [name, t] of translated) {
    for (const d of t.deps) {
      const other = translated.get(d.service);
      if (!other) p.add(`services.${name}.depends_on.${d.service}`, "no such service in this file");
      else if (d.condition === "service_healthy" && !other.spec.healthcheck) p.add(`services.${name}.depends_on.${d.service}`, `condition service_healthy needs a healthcheck on services.${d.service}`);
    }
  }
  const loop = cycle(new Map([...translated].map(([n, t]) => [n, t.deps.map((d) => d.service)])));
  if (loop) p.add("services", `depends_on has a cycle: ${loop}`);
}

function checkName(app: string, name: string, p: Problems): void {
  if (!DNS_LABEL.test(name)) p.add(`services.${name}`, "Berth needs service names that are DNS-1123 labels (a-z, 0-9 and -): the name is the service's host name on the Project network");
  else if (`${app}-${name}`.length > 63) p.add(`services.${name}`, `the Application name ${app}-${name} would be longer than 63 characters`);
}

/**
 * The children of compose Application `app`: one per service, named `<app>-<service>`, in the
 * order of the file. Throws ComposeError with every problem found, each naming service and key.
 */
export function translateCompose(text: string, opts: { app: string; dir?: string; read?: ReadFile; parent?: ApplicationSpec; git?: ComposeGitOrigin }): ComposeChild[] {
  const p = new Problems();
  const doc = uninterpolate(parseCompose(text), "", p) as Obj;
  const specProblems = validateComposeSpec(doc);
  if (specProblems.length) throw new ComposeError([...p.list, ...specProblems]);
  const ctx: TranslateContext = { app: opts.app, dir: opts.dir, read: opts.read ?? readHostFile, volumes: topLevel(doc, p), git: opts.git };
  const services = Object.entries(isObj(doc.services) ? doc.services : {});
  if (!services.length) p.add("services", "a compose file needs at least one service");
  const translated = new Map<string, ServiceOut>();
  for (const [name, svc] of services) {
    checkName(opts.app, name, p);
    translated.set(name, service(name, (svc ?? {}) as Obj, ctx, p));
  }
  checkDependencies(translated, p);
  if (p.list.length) throw new ComposeError(p.list);
  return [...translated].map(([name, t]) => {
    // service_healthy waits for the dependency's Ready (every replica healthy); service_started does not wait.
    const waits = t.deps.filter((d) => d.condition === "service_healthy").map((d) => ({ kind: "Application", name: `${opts.app}-${d.service}` }));
    const spec = inherit({ ...t.spec, ...(waits.length ? { dependsOn: waits } : {}), rollback: "manual" }, opts.parent ?? {});
    return { service: name, name: `${opts.app}-${name}`, spec };
  });
}

const BUILD_KEYS = ["context", "dockerfile", "args", "target"];

/**
 * `build:` of a compose file read from git: the child Application builds from the same
 * repository at the same commit, with the context relative to the compose file's directory
 * (ADR 0017). A compose file from the host or inline has no repository to build from.
 */
function build(v: Json, at: string, ctx: TranslateContext, p: Problems): ServiceOut["build"] {
  if (!ctx.git) {
    p.add(at, "needs a compose file from git (source.compose.git): Berth builds from a repository, or name a built image in image:");
    return undefined;
  }
  const b: Obj = typeof v === "string" ? { context: v } : isObj(v) ? v : {};
  p.onlyKeys(b, at, BUILD_KEYS);
  const context = path.posix.normalize(path.posix.join(ctx.git.dir || ".", String(b.context ?? ".")));
  if (context.startsWith("..") || path.posix.isAbsolute(context)) {
    p.add(`${at}.context`, "must stay inside the repository");
    return undefined;
  }
  const args = buildArgs(b.args);
  return {
    repository: ctx.git.repository,
    commit: ctx.git.commit,
    context,
    ...(b.dockerfile !== undefined ? { dockerfile: String(b.dockerfile) } : {}),
    ...(args ? { buildArgs: args } : {}),
    ...(b.target !== undefined ? { target: String(b.target) } : {}),
  };
}

/** build.args as a map (compose takes a map or a list of KEY=VALUE). */
function buildArgs(v: Json | undefined): Record<string, string> | undefined {
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x ?? "")]));
  if (Array.isArray(v)) return Object.fromEntries(v.map((x) => String(x).split(/=(.*)/s).slice(0, 2) as [string, string]));
  return undefined;
}

/** Reads `source` and translates it: what admission and the compose reconciler both run. */
export function loadCompose(source: ComposeSource, opts: { app: string; read?: ReadFile; parent?: ApplicationSpec }): ComposeChild[] {
  const { text, dir } = readComposeSource(source, opts.read);
  return translateCompose(text, { app: opts.app, dir, read: opts.read, parent: opts.parent });
}

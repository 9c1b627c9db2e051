import { PassThrough, Readable, type Writable } from "node:stream";
import Docker from "dockerode";
import type { Metrics } from "../telemetry/metrics.js";
import { collectExec, demuxLines } from "./docker-streams.js";
import {
  BuildError,
  RuntimeError,
  type BuildOptions,
  type BuildResult,
  type ContainerSpec,
  type EventFilter,
  type ExecResult,
  type LogOptions,
  type ObservedContainer,
  type RuntimeDriver,
  type RuntimeEvent,
  type RuntimeReason,
  type VolumeOwner,
} from "./driver.js";
import { KeyedLock } from "./keyed-lock.js";
import { LABEL, MANAGED_BY } from "./labels.js";
import { registryHost, type RegistryAuth } from "./registry-auth.js";
import { DEFAULT_NETWORK_POOL, firstFreeSubnet, poolExhausted, subnetTaken } from "./subnets.js";

function healthOf(status: string): ObservedContainer["health"] {
  if (/\(healthy\)/.test(status)) return "healthy";
  if (/\(unhealthy\)/.test(status)) return "unhealthy";
  if (/health: starting/.test(status)) return "starting";
  return "none";
}

const UNAVAILABLE_CODES = new Set(["ECONNREFUSED", "ENOENT", "EACCES", "ECONNRESET", "EPIPE", "ETIMEDOUT"]);

/** What Docker's answer means for a reconciler; the message is Docker's own. */
function reasonOf(operation: string, statusCode: number | undefined, message: string, code: string | undefined): RuntimeReason {
  if (code && UNAVAILABLE_CODES.has(code)) return "DockerUnavailable";
  if (statusCode === 409 && /already in use by container/.test(message)) return "NameConflict";
  if (/port is already allocated|address already in use|failed to bind/i.test(message)) return "PortConflict";
  if (/No command specified/i.test(message)) return "InvalidSpec";
  if ((operation === "container_create" || operation === "image_pull") && (statusCode === 404 || /No such image|pull access denied|manifest unknown|not found/i.test(message))) return "ImageNotFound";
  if (statusCode === 404) return "NotFound";
  return "EngineError";
}

function toRuntimeError(operation: string, e: unknown): RuntimeError {
  if (e instanceof RuntimeError) return e;
  const err = e as { statusCode?: number; json?: { message?: string }; message?: string; code?: string };
  const message = err.json?.message ?? err.message ?? String(e);
  const reason = reasonOf(operation, err.statusCode, message, err.code);
  const text = reason === "DockerUnavailable" ? `the Docker engine does not answer (${err.code}: ${message})` : message;
  return new RuntimeError(reason, text, err.statusCode);
}

/** Words with which registries (relayed by the engine) refuse or ask for credentials. */
const AUTH_REFUSAL = /unauthorized|authentication required|no basic auth credentials|incorrect username or password|\b401\b|\b403\b|forbidden/i;
/** Words meaning no registry has the image (or the registry's host does not resolve). */
const NOT_FOUND = /manifest unknown|name unknown|not found|no such host|no such image|repository does not exist/i;

/**
 * A pull that failed, by what the registry answered: RegistryAuthFailed (credentials refused or
 * missing), ImageNotFound (no such image or registry), ImagePullFailed (anything else: refused
 * connection, TLS, a 5xx). The message names the registry and the user, never the password; an
 * engine that echoed it would be scrubbed by the reconciler too.
 */
function pullFailure(image: string, auth: RegistryAuth | undefined, answer: string): RuntimeError {
  const host = registryHost(image);
  // dockerode's wrapping of the engine's status says nothing of the registry's answer.
  const said = answer.replace(/^\(HTTP code \d+\) [a-z ]+ - /i, "").trim();
  const text = auth?.password && auth.password.length >= 4 ? said.split(auth.password).join("<redacted>") : said;
  const as = auth ? `as user "${auth.username}"` : "without credentials";
  const reason: RuntimeReason = AUTH_REFUSAL.test(text) && !/repository does not exist/i.test(text) ? "RegistryAuthFailed" : NOT_FOUND.test(text) ? "ImageNotFound" : "ImagePullFailed";
  const what = reason === "RegistryAuthFailed" ? "refused the pull of" : reason === "ImageNotFound" ? "has no image" : "failed the pull of";
  // Absent here and not to be had there: both halves, as the engine-only wording said before.
  const here = reason === "ImageNotFound" ? `image "${image}" is not present on the Docker engine, and ` : "";
  return new RuntimeError(reason, `${here}registry ${host} ${what} "${image}" (${as}): ${text}`);
}

const TAIL_LINES = 20;

/** Reads the build API's JSON messages: output lines (kept as a bounded tail), steps, cache hits, the error. */
function buildProgress(onLine: (line: string) => void, tail: string[]): { onEvent: (e: { stream?: string; error?: string; errorDetail?: { message?: string } }) => void; cacheHits: number; steps: number; error?: string } {
  const state = {
    cacheHits: 0,
    steps: 0,
    error: undefined as string | undefined,
    onEvent: (e: { stream?: string; error?: string; errorDetail?: { message?: string } }): void => {
      const text = e.stream ?? (e.error ? `ERROR: ${e.errorDetail?.message ?? e.error}` : "");
      if (e.error) state.error = e.errorDetail?.message ?? e.error;
      for (const line of text.split("\n").map((l) => l.trimEnd()).filter(Boolean)) {
        if (/^Step \d+\/\d+ :/.test(line)) state.steps++;
        if (/---> Using cache/.test(line)) state.cacheHits++;
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        onLine(line);
      }
    },
  };
  return state;
}

/**
 * A container's published ports, one per container port and family. A binding on every IPv6
 * address ("::") is left out when the same port is also bound on every IPv4 one: the engine may
 * give the two families different host ports (Swarm's host mode binds both), and routes reach
 * the IPv4 one through 127.0.0.1.
 */
export function publishedPorts(ports: readonly Docker.Port[]): ObservedContainer["ports"] {
  const v4 = new Set(ports.filter((p) => p.PublicPort && p.IP === "0.0.0.0").map((p) => `${p.PrivatePort}/${p.Type}`));
  return ports
    .filter((p) => p.PublicPort && !(p.IP === "::" && v4.has(`${p.PrivatePort}/${p.Type}`)))
    .map((p) => ({ containerPort: p.PrivatePort, hostIp: p.IP ?? "", hostPort: p.PublicPort }));
}

/** The engine's client: $DOCKER_SOCKET (default /var/run/docker.sock) unless told otherwise. */
export function engineClient(opts?: Docker.DockerOptions): Docker {
  return new Docker(opts ?? { socketPath: process.env.DOCKER_SOCKET ?? "/var/run/docker.sock" });
}

/** One engine call, counted and timed in /metrics; a failure becomes a RuntimeError with a reason. */
export async function engineCall<T>(metrics: Metrics | undefined, operation: string, fn: () => Promise<T>): Promise<T> {
  const end = metrics?.dockerLatency.startTimer({ operation });
  try {
    const r = await fn();
    metrics?.dockerCalls.inc({ operation, result: "ok" });
    return r;
  } catch (e) {
    metrics?.dockerCalls.inc({ operation, result: "error" });
    throw toRuntimeError(operation, e);
  } finally {
    end?.();
  }
}

/**
 * The Docker driver: dockerode behind RuntimeDriver, every call counted and timed so the cost
 * of a reconcile pass is visible in /metrics, every failure a RuntimeError with a reason.
 */
export class DockerDriver implements RuntimeDriver {
  private readonly docker: Docker;
  private readonly networkLocks = new KeyedLock();
  private subnetLock: Promise<void> = Promise.resolve();
  /** Where Project networks get a /24 once the engine's pools are used up; "" leaves it to the engine alone. */
  private readonly networkPool = process.env.BERTH_NETWORK_POOL ?? DEFAULT_NETWORK_POOL;

  constructor(
    readonly instance: string,
    private readonly metrics?: Metrics,
    opts?: Docker.DockerOptions,
  ) {
    this.docker = engineClient(opts);
  }

  private call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return engineCall(this.metrics, operation, fn);
  }

  /** Like call(), but a 404 (or 304 "already") answers `fallback`. */
  private async tolerant<T>(operation: string, fn: () => Promise<T>, fallback: T, codes = [404]): Promise<T> {
    try {
      return await this.call(operation, fn);
    } catch (e) {
      if (e instanceof RuntimeError && e.statusCode !== undefined && codes.includes(e.statusCode)) return fallback;
      throw e;
    }
  }

  async ping(): Promise<void> {
    await this.call("ping", () => this.docker.ping());
  }

  private scoped(labels: Record<string, string>): Record<string, string> {
    return { ...labels, [LABEL.instance]: this.instance };
  }

  private labelFilter(labels: Record<string, string>): string[] {
    return Object.entries(this.scoped(labels)).map(([k, v]) => `${k}=${v}`);
  }

  async listContainers(labels: Record<string, string>): Promise<ObservedContainer[]> {
    const list = await this.call("container_list", () => this.docker.listContainers({ all: true, filters: { label: this.labelFilter(labels) } }));
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? "").replace(/^\//, ""),
      labels: c.Labels ?? {},
      state: c.State,
      health: healthOf(c.Status ?? ""),
      ports: publishedPorts(c.Ports ?? []),
      created: c.Created,
    }));
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    const c = await this.call("container_create", () => this.docker.createContainer({ ...spec, Labels: this.scoped(spec.Labels ?? {}) }));
    return c.id;
  }

  async startContainer(id: string): Promise<void> {
    await this.tolerant("container_start", () => this.docker.getContainer(id).start(), undefined, [304]);
  }

  async stopContainer(id: string, graceSeconds: number): Promise<void> {
    await this.tolerant("container_stop", () => this.docker.getContainer(id).stop({ t: graceSeconds }), undefined, [304, 404]);
  }

  async restartContainer(id: string, graceSeconds: number): Promise<void> {
    await this.call("container_restart", () => this.docker.getContainer(id).restart({ t: graceSeconds }));
  }

  async renameContainer(id: string, name: string): Promise<void> {
    await this.call("container_rename", () => this.docker.getContainer(id).rename({ name }));
  }

  async removeContainer(id: string): Promise<void> {
    await this.tolerant("container_remove", () => this.docker.getContainer(id).remove({ force: true }), undefined);
  }

  async waitContainer(id: string): Promise<{ exitCode: number }> {
    const r = (await this.call("container_wait", () => this.docker.getContainer(id).wait())) as { StatusCode?: number };
    return { exitCode: r.StatusCode ?? -1 };
  }

  async imageExists(image: string): Promise<boolean> {
    return this.tolerant("image_inspect", async () => (await this.docker.getImage(image).inspect(), true), false);
  }

  /**
   * The engine pulls; the login goes as its X-Registry-Auth header (dockerode's authconfig),
   * never into a message. A failure names the registry and what it answered (pullFailure).
   */
  async pullImage(image: string, auth?: RegistryAuth): Promise<void> {
    try {
      await this.call("image_pull", async () => {
        const stream = (await this.docker.pull(image, auth ? { authconfig: auth } : {})) as NodeJS.ReadableStream;
        await new Promise<void>((resolve, reject) => this.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
      });
    } catch (e) {
      if (e instanceof RuntimeError && e.reason === "DockerUnavailable") throw e;
      throw pullFailure(image, auth, (e as Error).message);
    }
    if (!(await this.imageExists(image))) throw new RuntimeError("ImageNotFound", `image "${image}" is not present on the Docker engine and pulling it gave nothing`);
  }

  /**
   * The engine's build API (the classic builder, which every engine this driver supports has;
   * BuildKit through the API needs a session stream, ADR 0018). Cache hits are the steps the
   * engine reports as "Using cache".
   */
  async buildImage(context: Readable, opts: BuildOptions, onLine: (line: string) => void): Promise<BuildResult> {
    const tail: string[] = [];
    const progress = buildProgress(onLine, tail);
    const stream = (await this.call("image_build", () =>
      this.docker.buildImage(context as unknown as NodeJS.ReadableStream, {
        t: opts.tag,
        dockerfile: opts.dockerfile,
        buildargs: opts.buildArgs ?? {},
        ...(opts.target ? { target: opts.target } : {}),
        labels: opts.labels ?? {},
        rm: true,
        forcerm: true,
        abortSignal: opts.signal,
      } as Docker.ImageBuildOptions),
    )) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => this.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()), progress.onEvent)).catch((e: Error) => {
      throw new BuildError(progress.error ?? e.message, tail);
    });
    if (progress.error) throw new BuildError(progress.error, tail);
    const info = await this.call("image_inspect", () => this.docker.getImage(opts.tag).inspect());
    return { imageId: info.Id, size: info.Size, cacheHits: progress.cacheHits, steps: progress.steps };
  }

  private async networksNamed(name: string): Promise<Docker.NetworkInspectInfo[]> {
    return (await this.call("network_list", () => this.docker.listNetworks({ filters: { name: [name] } }))).filter((n) => n.Name === name);
  }

  async networkExists(name: string): Promise<boolean> {
    return (await this.networksNamed(name)).length > 0;
  }

  /**
   * Docker does not refuse a second network with the same name, so creation is serialized per
   * name in this process (only the leader reconciles), and duplicates left by a race are removed.
   */
  async ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    await this.networkLocks.run(name, () => this.ensureNetworkUnlocked(name, labels));
  }

  private async ensureNetworkUnlocked(name: string, labels: Record<string, string>): Promise<void> {
    const existing = await this.networksNamed(name);
    // Only this installation's own duplicates: another Berth's network is not ours to remove.
    const sorted = [...existing].sort((a, b) => String(a.Created).localeCompare(String(b.Created)));
    for (const dup of sorted.slice(1).filter((n) => n.Labels?.[LABEL.instance] === this.instance)) {
      await this.call("network_remove", () => this.docker.getNetwork(dup.Id).remove()).catch(() => undefined);
    }
    if (existing.length) return;
    const create = (ipam?: Docker.IPAM): Promise<unknown> => this.call("network_create", () => this.docker.createNetwork({ Name: name, Driver: "bridge", Labels: this.scoped(labels), CheckDuplicate: true, ...(ipam ? { IPAM: ipam } : {}) }));
    try {
      await create();
    } catch (e) {
      if (!poolExhausted((e as Error).message) || !this.networkPool) throw e;
      await this.createInOwnPool(name, create, e as Error);
    }
  }

  /**
   * The engine's default pools are used up: a /24 of BERTH_NETWORK_POOL that no network uses.
   * One at a time in this process; a subnet another process took meanwhile is skipped.
   */
  private async createInOwnPool(name: string, create: (ipam: Docker.IPAM) => Promise<unknown>, exhausted: Error): Promise<void> {
    const run = async (): Promise<void> => {
      const tried = new Set<string>();
      for (let attempt = 0; attempt < 8; attempt++) {
        const all = await this.call("network_list", () => this.docker.listNetworks());
        const used = all.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? "")).filter(Boolean);
        const subnet = firstFreeSubnet(this.networkPool!, used, tried);
        if (!subnet) throw new Error(`${exhausted.message}; and no /24 of BERTH_NETWORK_POOL ${this.networkPool} is free for network ${name}`);
        tried.add(subnet);
        try {
          return void (await create({ Driver: "default", Config: [{ Subnet: subnet }] }));
        } catch (e) {
          if (!subnetTaken((e as Error).message)) throw e;
        }
      }
      throw exhausted;
    };
    const next = this.subnetLock.catch(() => undefined).then(run);
    this.subnetLock = next;
    await next;
  }

  /**
   * Removes this installation's network `name`. A network of that name that another Berth
   * installation (or a person) created is shared, since the name is fixed per Project, and is
   * left alone: returns false then.
   */
  async removeNetwork(name: string): Promise<boolean> {
    const named = await this.networksNamed(name);
    for (const n of named.filter((x) => x.Labels?.[LABEL.instance] === this.instance)) {
      await this.tolerant("network_remove", () => this.docker.getNetwork(n.Id).remove(), undefined);
    }
    return named.every((x) => x.Labels?.[LABEL.instance] === this.instance);
  }

  async volumeOwner(name: string): Promise<VolumeOwner> {
    const info = await this.tolerant("volume_inspect", () => this.docker.getVolume(name).inspect(), undefined);
    if (!info) return { state: "absent" };
    const owner = (info.Labels ?? {})[LABEL.instance];
    if (!owner) return { state: "unlabelled" };
    return owner === this.instance ? { state: "ours" } : { state: "other", instance: owner };
  }

  async createVolume(name: string, labels: Record<string, string>): Promise<void> {
    await this.call("volume_create", () => this.docker.createVolume({ Name: name, Labels: this.scoped(labels) }));
  }

  async removeVolume(name: string): Promise<boolean> {
    const owner = await this.volumeOwner(name);
    if (owner.state === "absent") return true;
    if (owner.state !== "ours") return false;
    await this.tolerant("volume_remove", () => this.docker.getVolume(name).remove(), undefined);
    return true;
  }

  async exec(containerId: string, cmd: string[], opts: { sink?: Writable; timeoutMs?: number } = {}): Promise<ExecResult> {
    const exec = await this.call("exec_create", () => this.docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, AttachStdin: false, Tty: false }));
    const stream = await this.call("exec_start", () => exec.start({ hijack: true, stdin: false }));
    const result = await collectExec(stream, opts.sink, opts.timeoutMs ?? 10_000);
    if (result.timedOut) return { ...result, exitCode: -1 };
    return { ...result, exitCode: await this.exitCodeOf(exec) };
  }

  private async exitCodeOf(exec: Docker.Exec): Promise<number> {
    // The stream can end a moment before Docker records the exit code.
    for (let i = 0; i < 50; i++) {
      const info = await this.call("exec_inspect", () => exec.inspect());
      if (!info.Running && info.ExitCode !== null) return info.ExitCode;
      await new Promise((r) => setTimeout(r, 20));
    }
    return -1;
  }

  async putArchive(containerId: string, tar: Readable, dir: string): Promise<void> {
    await this.call("container_put_archive", () => this.docker.getContainer(containerId).putArchive(tar, { path: dir }));
  }

  async getArchive(containerId: string, path: string): Promise<Readable> {
    return (await this.call("container_get_archive", () => this.docker.getContainer(containerId).getArchive({ path }))) as Readable;
  }

  async pauseContainer(id: string): Promise<void> {
    await this.call("container_pause", () => this.docker.getContainer(id).pause());
  }

  async unpauseContainer(id: string): Promise<void> {
    // 404: gone meanwhile; 409: not paused (any more). Neither leaves anything frozen.
    await this.tolerant("container_unpause", () => this.docker.getContainer(id).unpause(), undefined, [404, 409]);
  }

  async logs(containerId: string, opts: LogOptions): Promise<Readable> {
    const raw = (await this.call("container_logs", () =>
      this.docker.getContainer(containerId).logs({ follow: opts.follow as true, stdout: true, stderr: true, since: opts.since, tail: opts.tail ?? "all", timestamps: false } as never) as unknown as Promise<unknown>,
    )) as unknown;
    const source = Buffer.isBuffer(raw) ? Readable.from([raw]) : (raw as Readable);
    const out = new PassThrough();
    source.on("error", (e) => out.destroy(e));
    out.on("close", () => (source as { destroy?: () => void }).destroy?.());
    return source.pipe(demuxLines()).pipe(out);
  }

  async watchEvents(filter: EventFilter, onEvent: (e: RuntimeEvent) => void, onEnd: (error?: Error) => void): Promise<() => void> {
    const filters: Record<string, string[]> = { type: filter.types };
    if (filter.ownOnly) filters.label = [`${LABEL.managedBy}=${MANAGED_BY}`, `${LABEL.instance}=${this.instance}`];
    if (filter.actions) filters.event = filter.actions;
    const stream = (await this.call("events", () => this.docker.getEvents({ filters: JSON.stringify(filters) } as never) as unknown as Promise<unknown>)) as unknown as NodeJS.ReadableStream & { destroy(): void };
    let buf = "";
    let ended = false;
    const end = (e?: Error): void => {
      if (ended) return;
      ended = true;
      onEnd(e);
    };
    stream.on("data", (chunk: Buffer) => {
      buf += chunk.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const event = parseEvent(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (event) onEvent(event);
      }
    });
    stream.on("end", () => end());
    stream.on("error", (e: Error) => end(e));
    return () => {
      ended = true;
      stream.destroy();
    };
  }
}

function parseEvent(line: string): RuntimeEvent | undefined {
  if (!line.trim()) return undefined;
  try {
    const ev = JSON.parse(line) as { Type?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
    const attrs = ev.Actor?.Attributes ?? {};
    return { type: ev.Type ?? "", action: ev.Action ?? "", id: ev.Actor?.ID ?? "", name: attrs.name ?? ev.Actor?.ID ?? "", labels: attrs };
  } catch {
    return undefined; // a partial or foreign line: the periodic resync covers anything missed
  }
}

import { PassThrough, Readable } from "node:stream";
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
  type VolumeOwner,
} from "./driver.js";
import { LABEL } from "./labels.js";
import { registryHost, type RegistryAuth } from "./registry-auth.js";

/** A container as the fake engine keeps it. */
export interface FakeContainer {
  id: string;
  name: string;
  labels: Record<string, string>;
  image: string;
  state: string;
  health: ObservedContainer["health"];
  ports: ObservedContainer["ports"];
  created: number;
  spec: ContainerSpec;
  env: string[];
  /** Set when it exits (0 for a stop, 137 for a kill as Docker reports a SIGKILL). */
  exitCode?: number;
}

type Listener = { filter: EventFilter; onEvent: (e: RuntimeEvent) => void; onEnd: (e?: Error) => void };

/**
 * An in-memory container engine behind RuntimeDriver, for fast reconciler tests: containers,
 * images, networks and volumes are maps; create refuses a taken name (NameConflict), an image
 * it does not have (ImageNotFound) or no command at all (InvalidSpec); start refuses a taken
 * fixed host port (PortConflict). Every call is logged in `calls`, in order. Tests steer it:
 * images, health, ports held by "other processes", containers "someone else" created, outages.
 */
export class FakeDriver implements RuntimeDriver {
  readonly calls: string[] = [];
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Map<string, { cmd?: string[] }>();
  /** Images a (fake) registry would provide on pull. */
  readonly registry = new Map<string, { cmd?: string[] }>();
  readonly networks = new Map<string, Record<string, string>>();
  readonly volumes = new Map<string, Record<string, string>>();
  /** Host ports something outside Docker holds (a PortConflict on start). */
  readonly busyPorts = new Set<number>();
  /** What health a container with a healthcheck has right after start. */
  healthOnStart: ObservedContainer["health"] = "healthy";
  /** While true every call fails as DockerUnavailable. */
  down = false;
  execHandler: (c: FakeContainer, cmd: string[]) => ExecResult = () => ({ exitCode: 0, stdout: "", stderr: "", timedOut: false });
  private nextId = 1;
  private nextPort = 40_000;
  private clock = 1_000;
  private readonly listeners = new Set<Listener>();
  private readonly waiters = new Map<string, ((code: number) => void)[]>();

  constructor(readonly instance = "fake-instance") {}

  private enter(op: string, detail = ""): void {
    if (this.down) throw new RuntimeError("DockerUnavailable", "the Docker engine does not answer (ECONNREFUSED: connect ECONNREFUSED /var/run/docker.sock)");
    this.calls.push(detail ? `${op} ${detail}` : op);
  }

  async ping(): Promise<void> {
    this.enter("ping");
  }

  private mine(c: FakeContainer): boolean {
    return c.labels[LABEL.instance] === this.instance;
  }

  async listContainers(labels: Record<string, string>): Promise<ObservedContainer[]> {
    this.enter("container_list");
    return [...this.containers.values()]
      .filter((c) => this.mine(c) && Object.entries(labels).every(([k, v]) => c.labels[k] === v))
      .map((c) => ({ id: c.id, name: c.name, labels: { ...c.labels }, state: c.state, health: c.health, ports: c.ports.map((p) => ({ ...p })), created: c.created }));
  }

  private byName(name: string): FakeContainer | undefined {
    return [...this.containers.values()].find((c) => c.name === name);
  }

  private get(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw new RuntimeError("NotFound", `No such container: ${id}`, 404);
    return c;
  }

  /** Docker's refusals of a create, in Docker's words. */
  private refuseCreate(spec: ContainerSpec): void {
    const holder = spec.name ? this.byName(spec.name) : undefined;
    if (holder) {
      throw new RuntimeError("NameConflict", `Conflict. The container name "/${spec.name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`, 409);
    }
    const image = this.images.get(spec.Image ?? "");
    if (!image) throw new RuntimeError("ImageNotFound", `No such image: ${spec.Image}`, 404);
    if (!spec.Cmd?.length && !image.cmd?.length && !spec.Entrypoint) throw new RuntimeError("InvalidSpec", "No command specified", 400);
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    this.enter("container_create", spec.name ?? "");
    this.refuseCreate(spec);
    const id = `c${String(this.nextId++).padStart(11, "0")}`;
    const container: FakeContainer = {
      id,
      name: spec.name ?? id,
      labels: { ...(spec.Labels ?? {}), [LABEL.instance]: this.instance },
      image: spec.Image!,
      state: "created",
      health: "none",
      ports: [],
      created: this.clock++,
      spec,
      env: spec.Env ?? [],
    };
    this.containers.set(id, container);
    this.emit(container, "create");
    return id;
  }

  /** A container someone else made (no Berth labels): Berth must never touch it. */
  addForeignContainer(name: string, hostPorts: number[] = []): FakeContainer {
    const id = `f${String(this.nextId++).padStart(11, "0")}`;
    const c: FakeContainer = { id, name, labels: {}, image: "other", state: "running", health: "none", ports: hostPorts.map((p) => ({ containerPort: p, hostIp: "127.0.0.1", hostPort: p })), created: this.clock++, spec: {}, env: [] };
    this.containers.set(id, c);
    return c;
  }

  /** Removes a container as `docker rm -f` would, with its destroy event. */
  destroy(id: string): void {
    const c = this.containers.get(id);
    if (!c) return;
    this.containers.delete(id);
    this.emit(c, "destroy");
  }

  private portsTaken(except: string): Set<number> {
    const taken = new Set(this.busyPorts);
    for (const c of this.containers.values()) if (c.id !== except && c.state === "running") for (const p of c.ports) taken.add(p.hostPort);
    return taken;
  }

  private bindPorts(c: FakeContainer): ObservedContainer["ports"] {
    const bindings = (c.spec.HostConfig?.PortBindings ?? {}) as Record<string, { HostIp?: string; HostPort?: string }[]>;
    const taken = this.portsTaken(c.id);
    const out: ObservedContainer["ports"] = [];
    for (const [key, list] of Object.entries(bindings)) {
      for (const b of list) {
        const fixed = b.HostPort ? Number(b.HostPort) : undefined;
        if (fixed !== undefined && taken.has(fixed)) {
          throw new RuntimeError("PortConflict", `driver failed programming external connectivity on endpoint ${c.name}: Bind for ${b.HostIp ?? "0.0.0.0"}:${fixed} failed: port is already allocated`, 500);
        }
        out.push({ containerPort: Number(key.split("/")[0]), hostIp: b.HostIp ?? "0.0.0.0", hostPort: fixed ?? this.nextPort++ });
      }
    }
    return out;
  }

  async startContainer(id: string): Promise<void> {
    const c = this.get(id);
    this.enter("container_start", c.name);
    if (c.state === "running") return;
    c.ports = this.bindPorts(c);
    c.exitCode = undefined;
    c.state = "running";
    c.health = c.spec.Healthcheck ? this.healthOnStart : "none";
    this.emit(c, "start");
  }

  async stopContainer(id: string, graceSeconds: number): Promise<void> {
    const c = this.containers.get(id);
    this.enter("container_stop", `${c?.name ?? id} grace=${graceSeconds}`);
    if (!c || c.state !== "running") return;
    // A process that ignores SIGTERM past the grace period is killed: Docker reports 137.
    this.exit(c, graceSeconds === 0 ? 137 : 143);
  }

  private exit(c: FakeContainer, exitCode = 0): void {
    c.exitCode ??= exitCode;
    for (const w of this.waiters.get(c.id) ?? []) w(c.exitCode);
    this.waiters.delete(c.id);
    c.state = "exited";
    c.health = "none";
    c.ports = [];
    this.emit(c, "die");
  }

  async restartContainer(id: string, graceSeconds: number): Promise<void> {
    const c = this.get(id);
    this.enter("container_restart", `${c.name} grace=${graceSeconds}`);
    if (c.state === "running") this.exit(c);
    c.state = "created";
    await this.startContainer(id);
  }

  async renameContainer(id: string, name: string): Promise<void> {
    const c = this.get(id);
    this.enter("container_rename", `${c.name} → ${name}`);
    const holder = this.byName(name);
    if (holder && holder.id !== id) throw new RuntimeError("NameConflict", `Error when allocating new name: Conflict. The container name "/${name}" is already in use by container "${holder.id}".`, 409);
    c.name = name;
    this.emit(c, "rename");
  }

  async removeContainer(id: string): Promise<void> {
    const c = this.containers.get(id);
    this.enter("container_remove", c?.name ?? id);
    if (!c) return;
    if (c.state === "running") this.exit(c);
    this.containers.delete(id);
    this.emit(c, "destroy");
  }

  async waitContainer(id: string): Promise<{ exitCode: number }> {
    const c = this.get(id);
    this.enter("container_wait", c.name);
    if (c.state !== "running" && c.state !== "created") return { exitCode: c.exitCode ?? 0 };
    return await new Promise((resolve) => this.waiters.set(id, [...(this.waiters.get(id) ?? []), (exitCode) => resolve({ exitCode })]));
  }

  /** The container's process ends by itself with `exitCode` (a job finishing). */
  finish(nameOrId: string, exitCode: number): void {
    const c = this.containers.get(nameOrId) ?? this.byName(nameOrId);
    if (c?.state === "running") this.exit(c, exitCode);
  }

  /** Sets a container's health, as Docker's healthcheck would, with a health_status event. */
  setHealth(nameOrId: string, health: ObservedContainer["health"]): void {
    const c = this.containers.get(nameOrId) ?? this.byName(nameOrId);
    if (!c) throw new Error(`no container ${nameOrId}`);
    c.health = health;
    this.emit(c, `health_status: ${health}`);
  }

  /** The container exits by itself (a crash: no Berth decision). */
  crash(nameOrId: string): void {
    const c = this.containers.get(nameOrId) ?? this.byName(nameOrId);
    if (c?.state === "running") this.exit(c);
  }

  async imageExists(image: string): Promise<boolean> {
    this.enter("image_inspect", image);
    return this.images.has(image);
  }

  /**
   * Registries that want a login, by host (`127.0.0.1:5000`): a pull of an image on that host
   * without exactly these credentials fails as RegistryAuthFailed, in the registry's words.
   */
  readonly registryLogins = new Map<string, { username: string; password: string }>();
  /** Hosts whose registry fails every pull otherwise (ImagePullFailed), with its answer. */
  readonly registryFailures = new Map<string, string>();
  /** Every pull, with the credentials it carried (tests check which login went where). */
  readonly pulls: { image: string; auth?: RegistryAuth }[] = [];

  async pullImage(image: string, auth?: RegistryAuth): Promise<void> {
    this.enter("image_pull", image);
    this.pulls.push({ image, ...(auth ? { auth: { ...auth } } : {}) });
    const host = registryHost(image);
    const as = auth ? `as user "${auth.username}"` : "without credentials";
    const failure = this.registryFailures.get(host);
    if (failure) throw new RuntimeError("ImagePullFailed", `registry ${host} failed the pull of "${image}" (${as}): ${failure}`);
    const login = this.registryLogins.get(host);
    if (login && (auth?.username !== login.username || auth.password !== login.password)) {
      const answer = auth ? "unauthorized: authentication required" : "no basic auth credentials";
      throw new RuntimeError("RegistryAuthFailed", `registry ${host} refused the pull of "${image}" (${as}): ${answer}`);
    }
    const found = this.registry.get(image);
    if (!found) throw new RuntimeError("ImageNotFound", `pull access denied for ${image}, repository does not exist or may require 'docker login'`, 404);
    this.images.set(image, found);
  }

  /** Builds that fail: tag → the engine's error. */
  readonly buildFailures = new Map<string, string>();
  /** Every build asked for, in order. */
  readonly builds: BuildOptions[] = [];

  async buildImage(context: Readable, opts: BuildOptions, onLine: (line: string) => void): Promise<BuildResult> {
    this.enter("image_build", opts.tag);
    context.resume();
    this.builds.push(opts);
    onLine(`Step 1/1 : FROM fake`);
    const failure = this.buildFailures.get(opts.tag);
    if (failure) {
      onLine(`ERROR: ${failure}`);
      throw new BuildError(failure, ["Step 1/1 : FROM fake", `ERROR: ${failure}`]);
    }
    this.addImage(opts.tag);
    return { imageId: `sha256:${opts.tag}`, size: 1024, cacheHits: 0, steps: 1 };
  }

  /** An image appears locally (docker load/tag), with its event. */
  addImage(image: string, config: { cmd?: string[] } = { cmd: ["sh"] }): void {
    this.images.set(image, config);
    for (const l of this.listeners) if (l.filter.types.includes("image") && !l.filter.ownOnly) l.onEvent({ type: "image", action: "tag", id: image, name: image, labels: {} });
  }

  async networkExists(name: string): Promise<boolean> {
    this.enter("network_list", name);
    return this.networks.has(name);
  }

  async ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    this.enter("network_ensure", name);
    if (!this.networks.has(name)) this.networks.set(name, { ...labels, [LABEL.instance]: this.instance });
  }

  async removeNetwork(name: string): Promise<boolean> {
    this.enter("network_remove", name);
    const labels = this.networks.get(name);
    if (!labels) return true;
    if (labels[LABEL.instance] !== this.instance) return false;
    this.networks.delete(name);
    return true;
  }

  async volumeOwner(name: string): Promise<VolumeOwner> {
    this.enter("volume_inspect", name);
    const labels = this.volumes.get(name);
    if (!labels) return { state: "absent" };
    const owner = labels[LABEL.instance];
    if (!owner) return { state: "unlabelled" };
    return owner === this.instance ? { state: "ours" } : { state: "other", instance: owner };
  }

  async createVolume(name: string, labels: Record<string, string>): Promise<void> {
    this.enter("volume_create", name);
    this.volumes.set(name, { ...labels, [LABEL.instance]: this.instance });
  }

  async removeVolume(name: string): Promise<boolean> {
    this.enter("volume_remove", name);
    const labels = this.volumes.get(name);
    if (!labels) return true;
    if (labels[LABEL.instance] !== this.instance) return false;
    this.volumes.delete(name);
    for (const l of this.listeners) if (l.filter.types.includes("volume") && !l.filter.ownOnly) l.onEvent({ type: "volume", action: "destroy", id: name, name, labels });
    return true;
  }

  async exec(containerId: string, cmd: string[]): Promise<ExecResult> {
    const c = this.get(containerId);
    this.enter("exec", `${c.name} ${cmd.join(" ")}`);
    return this.execHandler(c, cmd);
  }

  async putArchive(containerId: string, tar: Readable, dir: string): Promise<void> {
    this.enter("container_put_archive", `${this.get(containerId).name} ${dir}`);
    for await (const _ of tar) {
      // drained: the fake keeps no files
    }
  }

  async getArchive(containerId: string, path: string): Promise<Readable> {
    this.enter("container_get_archive", `${this.get(containerId).name} ${path}`);
    // Two zero blocks: an empty tar (the fake keeps no files).
    return Readable.from([Buffer.alloc(1024)]);
  }

  async pauseContainer(id: string): Promise<void> {
    this.enter("container_pause", this.get(id).name);
  }

  async unpauseContainer(id: string): Promise<void> {
    this.enter("container_unpause", this.containers.get(id)?.name ?? id);
  }

  async logs(containerId: string, _opts: LogOptions): Promise<Readable> {
    this.enter("container_logs", this.get(containerId).name);
    const out = new PassThrough();
    out.end(`log of ${this.get(containerId).name}\n`);
    return out;
  }

  async watchEvents(filter: EventFilter, onEvent: (e: RuntimeEvent) => void, onEnd: (error?: Error) => void): Promise<() => void> {
    this.enter("events");
    const l: Listener = { filter, onEvent, onEnd };
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Ends every event stream, as an engine restart would. */
  endEventStreams(): void {
    for (const l of [...this.listeners]) {
      this.listeners.delete(l);
      l.onEnd(new Error("engine went away"));
    }
  }

  private emit(c: FakeContainer, action: string): void {
    for (const l of this.listeners) {
      if (!l.filter.types.includes("container")) continue;
      if (l.filter.ownOnly && !this.mine(c)) continue;
      if (l.filter.actions && !l.filter.actions.some((a) => action.startsWith(a))) continue;
      l.onEvent({ type: "container", action, id: c.id, name: c.name, labels: { ...c.labels, name: c.name } });
    }
  }

  /** Container names of this installation, sorted: a compact picture for assertions. */
  names(): string[] {
    return [...this.containers.values()].filter((c) => this.mine(c)).map((c) => c.name).sort();
  }
}

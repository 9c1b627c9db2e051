import Docker from "dockerode";
import type { Metrics } from "../telemetry/metrics.js";
import { LABEL } from "./labels.js";

/** A container as observed through one list call: enough to plan without inspecting each. */
export interface ObservedContainer {
  id: string;
  name: string;
  labels: Record<string, string>;
  state: string; // created | running | exited | restarting | paused | dead
  health: "healthy" | "unhealthy" | "starting" | "none";
  ports: { containerPort: number; hostIp: string; hostPort: number }[];
  created: number;
}

/** A named volume that another Berth installation labelled as its own: never mounted or removed here. */
export class VolumeConflictError extends Error {
  constructor(readonly volume: string, readonly owner: string) {
    super(`volume ${volume} belongs to another Berth installation (berth.dev/instance=${owner}); use another volume name, or remove that volume if it is no longer needed`);
  }
}

export class DockerError extends Error {
  constructor(
    message: string,
    readonly statusCode: number | undefined,
  ) {
    super(message);
  }
}

function healthOf(status: string): ObservedContainer["health"] {
  if (/\(healthy\)/.test(status)) return "healthy";
  if (/\(unhealthy\)/.test(status)) return "unhealthy";
  if (/health: starting/.test(status)) return "starting";
  return "none";
}

/**
 * The Docker driver: dockerode behind a small interface, every call counted and timed so the
 * cost of a reconcile pass is visible in /metrics.
 */
export class DockerDriver {
  readonly docker: Docker;
  private readonly networkLocks = new Map<string, Promise<void>>();

  /**
   * `instance` scopes the driver to one Berth installation: it is stamped on everything the
   * driver creates and added to every label query, so other installations' objects are invisible.
   */
  constructor(
    readonly instance: string,
    private readonly metrics?: Metrics,
    opts?: Docker.DockerOptions,
  ) {
    this.docker = new Docker(opts ?? { socketPath: process.env.DOCKER_SOCKET ?? "/var/run/docker.sock" });
  }

  async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const end = this.metrics?.dockerLatency.startTimer({ operation });
    try {
      const r = await fn();
      this.metrics?.dockerCalls.inc({ operation, result: "ok" });
      return r;
    } catch (e) {
      this.metrics?.dockerCalls.inc({ operation, result: "error" });
      const err = e as { statusCode?: number; json?: { message?: string }; message?: string };
      throw new DockerError(err.json?.message ?? err.message ?? String(e), err.statusCode);
    } finally {
      end?.();
    }
  }

  async ping(): Promise<void> {
    await this.call("ping", () => this.docker.ping());
  }

  private scoped(labels: Record<string, string>): Record<string, string> {
    return { ...labels, [LABEL.instance]: this.instance };
  }

  async listContainers(labels: Record<string, string>): Promise<ObservedContainer[]> {
    const filters = { label: Object.entries(this.scoped(labels)).map(([k, v]) => `${k}=${v}`) };
    const list = await this.call("container_list", () => this.docker.listContainers({ all: true, filters }));
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? "").replace(/^\//, ""),
      labels: c.Labels ?? {},
      state: c.State,
      health: healthOf(c.Status ?? ""),
      ports: (c.Ports ?? []).filter((p) => p.PublicPort).map((p) => ({ containerPort: p.PrivatePort, hostIp: p.IP ?? "", hostPort: p.PublicPort })),
      created: c.Created,
    }));
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      await this.call("image_inspect", () => this.docker.getImage(image).inspect());
      return true;
    } catch (e) {
      if (e instanceof DockerError && e.statusCode === 404) return false;
      throw e;
    }
  }

  async createContainer(opts: Docker.ContainerCreateOptions): Promise<string> {
    const c = await this.call("container_create", () => this.docker.createContainer({ ...opts, Labels: this.scoped(opts.Labels ?? {}) }));
    return c.id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call("container_start", () => this.docker.getContainer(id).start());
  }

  async restartContainer(id: string): Promise<void> {
    await this.call("container_restart", () => this.docker.getContainer(id).restart({ t: 5 }));
  }

  async renameContainer(id: string, name: string): Promise<void> {
    await this.call("container_rename", () => this.docker.getContainer(id).rename({ name }));
  }

  async removeContainer(id: string): Promise<void> {
    try {
      await this.call("container_remove", () => this.docker.getContainer(id).remove({ force: true }));
    } catch (e) {
      if (e instanceof DockerError && e.statusCode === 404) return;
      throw e;
    }
  }

  /**
   * Docker does not refuse a second network with the same name, so creation is serialized per
   * name in this process (only the leader reconciles), and duplicates left by a race are removed.
   */
  async ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    const prev = this.networkLocks.get(name) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.ensureNetworkUnlocked(name, labels));
    this.networkLocks.set(name, next);
    try {
      await next;
    } finally {
      if (this.networkLocks.get(name) === next) this.networkLocks.delete(name);
    }
  }

  private async ensureNetworkUnlocked(name: string, labels: Record<string, string>): Promise<void> {
    const existing = (await this.call("network_list", () => this.docker.listNetworks({ filters: { name: [name] } }))).filter((n) => n.Name === name);
    if (existing.length > 1) {
      const sorted = [...existing].sort((a, b) => String(a.Created).localeCompare(String(b.Created)));
      // Only this installation's own duplicates: another Berth's network is not ours to remove.
      for (const dup of sorted.slice(1).filter((n) => n.Labels?.[LABEL.instance] === this.instance)) {
        await this.call("network_remove", () => this.docker.getNetwork(dup.Id).remove()).catch(() => undefined);
      }
    }
    if (existing.length) return;
    await this.call("network_create", () => this.docker.createNetwork({ Name: name, Driver: "bridge", Labels: this.scoped(labels), CheckDuplicate: true }));
  }

  /**
   * Removes this installation's network `name`. A network of that name that another Berth
   * installation (or a person) created is shared, since the name is fixed per Project, and is
   * left alone: returns false then.
   */
  async removeNetwork(name: string): Promise<boolean> {
    const named = (await this.call("network_list", () => this.docker.listNetworks({ filters: { name: [name] } }))).filter((n) => n.Name === name);
    for (const n of named.filter((x) => x.Labels?.[LABEL.instance] === this.instance)) {
      try {
        await this.call("network_remove", () => this.docker.getNetwork(n.Id).remove());
      } catch (e) {
        if (!(e instanceof DockerError && e.statusCode === 404)) throw e;
      }
    }
    return named.every((x) => x.Labels?.[LABEL.instance] === this.instance);
  }

  async listNetworks(labels: Record<string, string>): Promise<{ name: string; labels: Record<string, string> }[]> {
    const filters = { label: Object.entries(this.scoped(labels)).map(([k, v]) => `${k}=${v}`) };
    const list = await this.call("network_list", () => this.docker.listNetworks({ filters }));
    return list.map((n) => ({ name: n.Name, labels: n.Labels ?? {} }));
  }

  /**
   * Creates the named volume if it is missing. An existing one is reused when it is this
   * installation's or carries no installation label (made by hand, e.g. to import data); one
   * labelled by another installation is refused, since volume names are fixed per Project and
   * two installations with the same Project must not mount each other's data.
   */
  async ensureVolume(name: string, labels: Record<string, string>): Promise<void> {
    try {
      const info = await this.call("volume_inspect", () => this.docker.getVolume(name).inspect());
      const owner = (info.Labels ?? {})[LABEL.instance];
      if (owner && owner !== this.instance) throw new VolumeConflictError(name, owner);
    } catch (e) {
      if (!(e instanceof DockerError && e.statusCode === 404)) throw e;
      await this.call("volume_create", () => this.docker.createVolume({ Name: name, Labels: this.scoped(labels) }));
    }
  }

  /** Removes this installation's volume `name`; another's (or an unlabelled one) is left: returns false. */
  async removeVolume(name: string): Promise<boolean> {
    try {
      const info = await this.call("volume_inspect", () => this.docker.getVolume(name).inspect());
      if ((info.Labels ?? {})[LABEL.instance] !== this.instance) return false;
      await this.call("volume_remove", () => this.docker.getVolume(name).remove());
      return true;
    } catch (e) {
      if (e instanceof DockerError && e.statusCode === 404) return true;
      throw e;
    }
  }

}

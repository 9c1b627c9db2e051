import type Docker from "dockerode";
import type { Metrics } from "../telemetry/metrics.js";
import { engineCall, engineClient } from "./docker.js";
import { RuntimeError } from "./driver.js";
import { KeyedLock } from "./keyed-lock.js";
import { LABEL } from "./labels.js";
import type { ObservedService, ObservedTask, ServiceSpec, SwarmDriver, SwarmNode } from "./swarm.js";

// The Swarm objects' typings in @types/dockerode are partial: each is read field by field here.

/**
 * A task's host-mode ports, one per container port: the engine lists each once per address
 * family, IPv4 first, and the two may differ when the engine gave them different host ports.
 */
function portsOf(status: any): ObservedTask["ports"] {
  const seen = new Set<string>();
  const out: ObservedTask["ports"] = [];
  for (const p of (status.PortStatus?.Ports ?? []) as any[]) {
    const key = `${p.TargetPort}/${p.Protocol}`;
    if (!p.PublishedPort || seen.has(key)) continue;
    seen.add(key);
    out.push({ containerPort: Number(p.TargetPort), hostPort: Number(p.PublishedPort) });
  }
  return out;
}

/** The optional parts of a task: its error and its container. */
function taskExtras(status: any): Partial<ObservedTask> {
  return { ...(status.Err ? { error: String(status.Err) } : {}), ...(status.ContainerStatus?.ContainerID ? { containerId: String(status.ContainerStatus.ContainerID) } : {}) };
}

function observedTask(t: any): ObservedTask {
  const status = t.Status ?? {};
  return {
    id: t.ID,
    serviceId: t.ServiceID,
    slot: Number(t.Slot ?? 0),
    nodeId: t.NodeID ?? "",
    desiredState: t.DesiredState ?? "",
    state: status.State ?? "",
    message: status.Message ?? "",
    ...taskExtras(status),
    hash: t.Spec?.ContainerSpec?.Labels?.[LABEL.configHash] ?? "",
    ports: portsOf(status),
    createdAt: t.CreatedAt ?? "",
  };
}

/**
 * The Swarm driver: dockerode's service, task, node and network calls on a manager, timed and
 * counted like the container driver's, every failure a RuntimeError with a reason.
 */
export class DockerSwarm implements SwarmDriver {
  private readonly docker: Docker;
  /** One creation per overlay name at a time: the Applications of a Project converge in parallel. */
  private readonly overlayLocks = new KeyedLock();

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

  private scoped(labels: Record<string, string>): Record<string, string> {
    return { ...labels, [LABEL.instance]: this.instance };
  }

  /** The spec as sent: this installation's label on the service and on every task's container. */
  private stamped(spec: ServiceSpec): ServiceSpec {
    const c = spec.TaskTemplate.ContainerSpec;
    return { ...spec, Labels: this.scoped(spec.Labels), TaskTemplate: { ...spec.TaskTemplate, ContainerSpec: { ...c, Labels: this.scoped(c.Labels) } } };
  }

  async status(): Promise<{ active: boolean; manager: boolean; nodeId?: string }> {
    const info = (await this.call("info", () => this.docker.info())) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean; NodeID?: string } };
    const s = info.Swarm ?? {};
    return { active: s.LocalNodeState === "active", manager: !!s.ControlAvailable, ...(s.NodeID ? { nodeId: s.NodeID } : {}) };
  }

  async listServices(labels: Record<string, string>): Promise<ObservedService[]> {
    const filter = Object.entries(this.scoped(labels)).map(([k, v]) => `${k}=${v}`);
    const list = (await this.call("service_list", () => (this.docker as any).listServices({ filters: { label: filter } }) as Promise<any[]>)) as any[];
    return list.map((s) => ({
      id: s.ID,
      version: Number(s.Version?.Index ?? 0),
      name: s.Spec?.Name ?? "",
      labels: s.Spec?.Labels ?? {},
      spec: s.Spec as ServiceSpec,
      ...(s.UpdateStatus?.State ? { update: { state: String(s.UpdateStatus.State), message: String(s.UpdateStatus.Message ?? "") } } : {}),
    }));
  }

  async createService(spec: ServiceSpec): Promise<string> {
    const r = (await this.call("service_create", () => this.docker.createService(this.stamped(spec) as any))) as { id?: string; ID?: string };
    return r.id ?? r.ID ?? "";
  }

  async updateService(id: string, version: number, spec: ServiceSpec): Promise<void> {
    await this.call("service_update", () => this.docker.getService(id).update({ ...this.stamped(spec), version } as any));
  }

  async removeService(id: string): Promise<void> {
    try {
      await this.call("service_remove", () => this.docker.getService(id).remove());
    } catch (e) {
      if (!(e instanceof RuntimeError && e.statusCode === 404)) throw e;
    }
  }

  async listTasks(serviceId: string): Promise<ObservedTask[]> {
    const list = (await this.call("task_list", () => (this.docker as any).listTasks({ filters: { service: [serviceId] } }) as Promise<any[]>)) as any[];
    return list.map(observedTask);
  }

  async listNodes(): Promise<SwarmNode[]> {
    const list = (await this.call("node_list", () => this.docker.listNodes())) as any[];
    return list.map((n) => ({
      id: n.ID,
      hostname: n.Description?.Hostname ?? n.ID,
      addr: n.Status?.Addr ?? "",
      state: n.Status?.State ?? "unknown",
      availability: n.Spec?.Availability ?? "active",
    }));
  }

  private async overlaysNamed(name: string): Promise<Docker.NetworkInspectInfo[]> {
    return (await this.call("network_list", () => this.docker.listNetworks({ filters: { name: [name] } }))).filter((n) => n.Name === name);
  }

  async ensureOverlay(name: string, labels: Record<string, string>): Promise<void> {
    await this.overlayLocks.run(name, () => this.ensureOverlayUnlocked(name, labels));
  }

  private async ensureOverlayUnlocked(name: string, labels: Record<string, string>): Promise<void> {
    if ((await this.overlaysNamed(name)).length) return;
    try {
      await this.call("network_create", () => this.docker.createNetwork({ Name: name, Driver: "overlay", Attachable: true, CheckDuplicate: true, Labels: this.scoped(labels) }));
    } catch (e) {
      // Another process (a previous leader's last call) made it meanwhile: it exists, as asked.
      if (!(e instanceof RuntimeError && e.statusCode === 409)) throw e;
    }
  }

  async overlayExists(name: string): Promise<boolean> {
    return (await this.overlaysNamed(name)).length > 0;
  }

  async removeOverlay(name: string): Promise<boolean> {
    const named = await this.overlaysNamed(name);
    for (const n of named.filter((x) => x.Labels?.[LABEL.instance] === this.instance)) {
      await this.call("network_remove", () => this.docker.getNetwork(n.Id).remove()).catch((e: unknown) => {
        if (!(e instanceof RuntimeError && e.statusCode === 404)) throw e;
      });
    }
    return named.every((x) => x.Labels?.[LABEL.instance] === this.instance);
  }
}

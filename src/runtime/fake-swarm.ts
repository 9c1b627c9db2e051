import { RuntimeError } from "./driver.js";
import { LABEL } from "./labels.js";
import type { ObservedService, ObservedTask, ServiceSpec, SwarmDriver, SwarmNode } from "./swarm.js";

interface FakeService {
  id: string;
  version: number;
  spec: ServiceSpec;
  update?: { state: string; message: string };
}

/**
 * A swarm in memory for reconciler unit tests: services, their tasks (every slot running the
 * spec at once, as a settled swarm would), and Swarm's rollback for the images in `failing`.
 */
export class FakeSwarm implements SwarmDriver {
  readonly instance = "fake";
  readonly services = new Map<string, FakeService>();
  readonly tasks: ObservedTask[] = [];
  readonly overlays = new Set<string>();
  readonly calls: string[] = [];
  /** Images whose tasks exit at once: an update to one is rolled back. */
  readonly failing = new Set<string>();
  active = true;
  private seq = 0;

  async status(): Promise<{ active: boolean; manager: boolean; nodeId?: string }> {
    return { active: this.active, manager: this.active, ...(this.active ? { nodeId: "node-1" } : {}) };
  }

  async listServices(labels: Record<string, string>): Promise<ObservedService[]> {
    return [...this.services.values()]
      .filter((s) => Object.entries(labels).every(([k, v]) => s.spec.Labels[k] === v))
      .map((s) => ({ id: s.id, version: s.version, name: s.spec.Name, labels: s.spec.Labels, spec: s.spec, ...(s.update ? { update: s.update } : {}) }));
  }

  async createService(spec: ServiceSpec): Promise<string> {
    this.calls.push(`create ${spec.Name}`);
    if ([...this.services.values()].some((s) => s.spec.Name === spec.Name)) throw new RuntimeError("NameConflict", `service ${spec.Name} already exists`, 409);
    const id = `svc-${++this.seq}`;
    this.services.set(id, { id, version: 1, spec });
    this.settle(id, spec);
    return id;
  }

  async updateService(id: string, version: number, spec: ServiceSpec): Promise<void> {
    this.calls.push(`update ${spec.Name}`);
    const s = this.services.get(id);
    if (!s) throw new RuntimeError("NotFound", `service ${id} not found`, 404);
    if (s.version !== version) throw new RuntimeError("EngineError", "update out of sequence", 500);
    const previous = s.spec;
    s.version++;
    if (this.failing.has(spec.TaskTemplate.ContainerSpec.Image)) {
      this.task(id, spec, { slot: 1, state: "failed", error: "task: non-zero exit (1)" });
      s.update = { state: "rollback_completed", message: "rollback completed" };
      return;
    }
    s.spec = spec;
    s.update = { state: "completed", message: "update completed" };
    if (JSON.stringify(previous.TaskTemplate) !== JSON.stringify(spec.TaskTemplate)) this.retire(id);
    this.settle(id, spec);
  }

  async removeService(id: string): Promise<void> {
    this.calls.push(`remove ${this.services.get(id)?.spec.Name ?? id}`);
    this.services.delete(id);
    this.tasks.splice(0, this.tasks.length, ...this.tasks.filter((t) => t.serviceId !== id));
  }

  async listTasks(serviceId: string): Promise<ObservedTask[]> {
    return this.tasks.filter((t) => t.serviceId === serviceId);
  }

  async listNodes(): Promise<SwarmNode[]> {
    return [{ id: "node-1", hostname: "node-1", addr: "10.0.0.1", state: "ready", availability: "active" }];
  }

  async ensureOverlay(name: string): Promise<void> {
    this.calls.push(`network ${name}`);
    this.overlays.add(name);
  }

  async overlayExists(name: string): Promise<boolean> {
    return this.overlays.has(name);
  }

  async removeOverlay(name: string): Promise<boolean> {
    this.overlays.delete(name);
    return true;
  }

  /** Removes a service's tasks as `docker service rm` by hand would, leaving the service. */
  private retire(id: string): void {
    for (const t of this.tasks.filter((x) => x.serviceId === id && x.desiredState === "running")) {
      t.desiredState = "shutdown";
      t.state = "shutdown";
    }
  }

  private settle(id: string, spec: ServiceSpec): void {
    const want = spec.Mode.Replicated.Replicas;
    const live = this.tasks.filter((t) => t.serviceId === id && t.desiredState === "running");
    for (const t of live.filter((x) => x.slot > want)) {
      t.desiredState = "shutdown";
      t.state = "shutdown";
    }
    for (let slot = 1; slot <= want; slot++) if (!live.some((t) => t.slot === slot)) this.task(id, spec, { slot, state: "running" });
  }

  private task(serviceId: string, spec: ServiceSpec, t: { slot: number; state: string; error?: string }): void {
    const { slot, state, error } = t;
    const n = ++this.seq;
    this.tasks.push({
      id: `task-${n}`,
      serviceId,
      slot,
      nodeId: "node-1",
      desiredState: state === "running" ? "running" : "shutdown",
      state,
      message: state,
      ...(error ? { error } : {}),
      containerId: `ctr-${n}`,
      hash: spec.TaskTemplate.ContainerSpec.Labels[LABEL.configHash] ?? "",
      ports: spec.EndpointSpec.Ports.map((p, i) => ({ containerPort: p.TargetPort, hostPort: 30000 + n * 10 + i })),
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    });
  }
}

/**
 * An Application on the swarm runtime (issue 18, ADR 0025): one replicated service. Observe the
 * service, its tasks and the nodes → pure plan (service-plan.ts) → executor → observe again;
 * the tasks become the replicas the status functions count, so Ready, Progressing, endpoints and
 * the router read a swarm Application exactly as a docker one.
 */
import { getCondition, conditionsOf } from "../../core/conditions.js";
import { strategyOf, type ApplicationSpec, type RuntimeKind } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import type { ReconcileContext } from "../../controller/controller.js";
import { stopGraceSeconds, type AppRuntimeSpec } from "../../runtime/container-spec.js";
import type { ObservedContainer, RuntimeDriver } from "../../runtime/driver.js";
import { LABEL, ownerLabels } from "../../runtime/labels.js";
import { executeServicePlan } from "../../runtime/service-executor.js";
import { describeServiceStep, planService, type ServicePlan } from "../../runtime/service-plan.js";
import { serviceSpecFor, taskHash } from "../../runtime/service-spec.js";
import { isLiveTask, isSwarmManager, overlayName, type ObservedTask, type ServiceSpec, type SwarmDriver, type SwarmNode } from "../../runtime/swarm.js";
import type { RevisionStore } from "../../store/revisions.js";
import type { ResourceStore } from "../../store/resources.js";
import { fail } from "../shared/failures.js";
import type { AppObserved } from "./status.js";

export const NODE_LABEL = "berth.dev/node";

/** A container the engine made for a Swarm task (it carries the task's labels). */
export function isSwarmTask(c: ObservedContainer): boolean {
  return c.labels["com.docker.swarm.task.id"] !== undefined;
}

export interface SwarmAppDeps {
  swarm: SwarmDriver;
  /** The engine Berth talks to: the ports of the tasks that run on it. */
  driver?: RuntimeDriver;
  store: ResourceStore;
  revisions: RevisionStore;
}

/** The runtime of a Project's Applications: its spec.runtime, else the installation's default. */
export async function runtimeOf(store: ResourceStore, app: ResourceObject, installationDefault: RuntimeKind): Promise<RuntimeKind> {
  const project = await store.get("Project", undefined, app.metadata.namespace!);
  const kind = (project?.spec as { runtime?: RuntimeKind } | undefined)?.runtime;
  return kind ?? installationDefault;
}

function replicaState(t: ObservedTask): ObservedContainer["state"] {
  if (t.state === "running") return "running";
  if (t.state === "failed" || t.state === "rejected") return "exited";
  return "created";
}

/**
 * A service's live tasks as the replicas the status functions count: slot N is replica N-1, a
 * task on another node serves at that node's address, and a task of a healthchecked service is
 * `running` only once healthy (Swarm holds it in `starting` until then).
 */
export function replicasOf(service: string, tasks: readonly ObservedTask[], where: { nodes: readonly SwarmNode[]; localNode: string | undefined; localPorts?: ReadonlyMap<string, ObservedContainer["ports"]> }): ObservedContainer[] {
  const { nodes, localNode } = where;
  // A node that is down reports nothing: its tasks keep their last state ("running") while Swarm
  // replaces them elsewhere, so they count as nothing (not ready, not old replicas still stopping).
  const down = new Set(nodes.filter((n) => n.state === "down").map((n) => n.id));
  return tasks.filter((t) => isLiveTask(t) && !down.has(t.nodeId)).map((t) => {
    const node = nodes.find((n) => n.id === t.nodeId);
    const hostIp = !node || t.nodeId === localNode ? "" : node.addr;
    return {
      id: t.containerId ?? t.id,
      name: `${service}.${t.slot}`,
      labels: { [LABEL.configHash]: t.hash, [LABEL.replica]: String(t.slot - 1), [NODE_LABEL]: node?.hostname ?? t.nodeId },
      state: replicaState(t),
      health: t.state === "starting" ? "starting" : "none",
      // A task of this node: its container's own bindings (with their addresses) are the truth.
      ports: where.localPorts?.get(t.containerId ?? "") ?? t.ports.map((p) => ({ containerPort: p.containerPort, hostIp, hostPort: p.hostPort })),
      created: Math.floor(Date.parse(t.createdAt) / 1000) || 0,
    };
  });
}

/** Running replicas per node (hostname), for status.nodes. */
export function replicasPerNode(replicas: readonly ObservedContainer[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replicas.filter((x) => x.state === "running")) out[r.labels[NODE_LABEL]] = (out[r.labels[NODE_LABEL]] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

export class SwarmApplications {
  constructor(private readonly d: SwarmAppDeps) {}

  private async requireManager(): Promise<string | undefined> {
    const s = await this.d.swarm.status();
    if (!s.active || !s.manager) fail("SwarmUnavailable", "the Project's runtime is swarm, but the Docker engine is not a manager of an active swarm (docker swarm init, or --runtime docker)", { retryAfterMs: 30_000 });
    return s.nodeId;
  }

  /** Converges the Application's service and reports its tasks as obs.containers. */
  async converge(target: { app: ResourceObject; spec: ApplicationSpec; runtime: AppRuntimeSpec }, obs: Partial<AppObserved>, ctx: ReconcileContext): Promise<void> {
    const { app, spec, runtime } = target;
    const localNode = await this.requireManager();
    const hash = taskHash(runtime, spec.placement);
    obs.hash = hash;
    const network = overlayName(runtime.project);
    const desired = serviceSpecFor(runtime, hash, { replicas: spec.replicas ?? 1, graceSeconds: stopGraceSeconds(spec.stopGracePeriod), strategy: strategyOf(spec), placement: spec.placement, network });
    const services = await this.d.swarm.listServices({ [LABEL.ownerUid]: app.metadata.uid! });
    const kept = services.find((s) => s.name === desired.Name);
    const [tasks, exists] = await Promise.all([kept ? this.d.swarm.listTasks(kept.id) : Promise.resolve([]), this.d.swarm.overlayExists(network)]);
    const plan = planService({ desired, hash, network: { name: network, exists }, services, tasks });
    if (plan.rejected) await this.rejected(app, plan.rejected, obs);
    if (plan.steps.length) await this.execute({ app, plan, desired }, obs, ctx);
    await this.observe(app, desired.Name, localNode, obs);
  }

  private async execute(what: { app: ResourceObject; plan: ServicePlan; desired: ServiceSpec }, obs: Partial<AppObserved>, ctx: ReconcileContext): Promise<void> {
    const { app, plan, desired } = what;
    const rolls = plan.steps.some((s) => s.op === "create-service" || (s.op === "update-service" && s.cause.includes("service config")));
    const revision = rolls ? await this.d.revisions.ensure(app, obs.hash!, app.metadata.generation ?? 1) : undefined;
    ctx.logger.info("executing service plan", { hash: obs.hash, steps: plan.steps.map(describeServiceStep) });
    await executeServicePlan(plan, {
      swarm: this.d.swarm,
      spec: desired,
      networkLabels: ownerLabels("Project", app.metadata.namespace!, app.metadata.namespace!, ""),
      onStep: (step) => void (revision ? this.d.revisions.log(revision, "info", describeServiceStep(step)).catch(() => undefined) : undefined),
      signal: ctx.signal,
    });
    // A service that status already named is gone: something outside Berth removed it.
    const drift = plan.steps.filter((s) => s.op === "create-service" && (app.status as { service?: string } | undefined)?.service === s.name);
    if (drift.length || plan.steps.some((s) => s.cause.startsWith("edited outside"))) obs.events?.push({ type: "Normal", reason: "DriftRepaired", message: `repaired drift: ${plan.steps.map(describeServiceStep).join("; ")}` });
  }

  /** Swarm rolled the update back: the config is not sent again until the spec changes; the revision is marked. */
  private async rejected(app: ResourceObject, r: NonNullable<ServicePlan["rejected"]>, obs: Partial<AppObserved>): Promise<void> {
    obs.rollout = { state: "failed", message: r.message, reason: "SwarmRolledBack" };
    if (getCondition(conditionsOf(app.status), "Ready")?.reason !== "RolledBack") obs.events?.push({ type: "Warning", reason: "RolledBack", message: r.message });
    const latest = await this.d.revisions.latest(app.metadata.uid!);
    if (latest && latest.hash === r.hash && latest.status === "deploying") await this.d.revisions.finish(latest.id, "rolled_back", r.message);
  }

  private async observe(app: ResourceObject, name: string, localNode: string | undefined, obs: Partial<AppObserved>): Promise<void> {
    const service = (await this.d.swarm.listServices({ [LABEL.ownerUid]: app.metadata.uid! })).find((s) => s.name === name);
    const [tasks, nodes, local] = await Promise.all([
      service ? this.d.swarm.listTasks(service.id) : Promise.resolve([]),
      this.d.swarm.listNodes(),
      this.d.driver ? this.d.driver.listContainers({ [LABEL.ownerUid]: app.metadata.uid! }) : Promise.resolve([]),
    ]);
    const localPorts = new Map(local.map((c) => [c.id, c.ports]));
    obs.containers = replicasOf(name, tasks, { nodes, localNode, localPorts });
    obs.withdrawn = [];
    obs.swarm = { service: name, nodes: replicasPerNode(obs.containers) };
    await this.recordSuccess(app, obs);
  }

  /** Once every replica runs the current config, its revision succeeded (once). */
  private async recordSuccess(app: ResourceObject, obs: Partial<AppObserved>): Promise<void> {
    const desired = obs.desired ?? 1;
    const ready = (obs.containers ?? []).filter((c) => c.state === "running" && c.labels[LABEL.configHash] === obs.hash);
    if (ready.length !== desired || (obs.containers ?? []).length !== desired) return;
    const id = await this.d.revisions.current(app.metadata.uid!, obs.hash!);
    const latest = await this.d.revisions.latest(app.metadata.uid!);
    if (id && latest?.id === id && latest.status === "deploying") await this.d.revisions.finish(id, "success", `${desired} task(s) running on config ${obs.hash!.slice(0, 8)}`);
  }

  /** Deletion: the Application's services go (Swarm stops their tasks with the grace period). */
  async finalize(app: ResourceObject): Promise<number> {
    if (!(await isSwarmManager(this.d.swarm))) return 0;
    const services = await this.d.swarm.listServices({ [LABEL.ownerUid]: app.metadata.uid! });
    for (const svc of services) await this.d.swarm.removeService(svc.id);
    return services.length;
  }
}


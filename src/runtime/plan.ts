import { isReady, type ObservedContainer, type VolumeOwner } from "./driver.js";
import { containerName, LABEL } from "./labels.js";

/**
 * One change to the runtime, with the reason it is needed. Every change a reconcile makes to
 * the engine is one of these, in a plan the executor carries out without deciding anything.
 */
export type Step =
  | { op: "pull-image"; image: string; cause: string }
  | { op: "create-network"; name: string; cause: string }
  | { op: "create-volume"; name: string; cause: string }
  | { op: "unroute"; replica: number | undefined; id: string; name: string; cause: string }
  | { op: "stop"; replica: number | undefined; id: string; name: string; graceSeconds: number; cause: string }
  | { op: "remove"; replica: number | undefined; id: string; name: string; cause: string }
  | { op: "rename"; replica: number; id: string; name: string; to: string; cause: string }
  | { op: "create"; replica: number; cause: string }
  | { op: "start"; replica: number; id: string; name: string; cause: string }
  | { op: "restart"; replica: number; id: string; name: string; graceSeconds: number; cause: string };

export type StepOp = Step["op"];

/** A state no step can fix, found while planning (nothing is executed then). */
export interface Blocked {
  reason: "VolumeConflict";
  message: string;
}

export interface Plan {
  steps: Step[];
  /** Why the plan stops short of the goal for now (e.g. a new replica still starting). */
  waiting: string[];
  blocked?: Blocked;
}

/** The order phases run in: make room (unroute before stop before remove), then create, then start. */
const RANK: Record<StepOp, number> = {
  "pull-image": 0,
  "create-network": 1,
  "create-volume": 2,
  unroute: 3,
  stop: 4,
  remove: 5,
  rename: 6,
  create: 7,
  start: 8,
  restart: 9,
};

/** Steps in phase order; within a phase, in the order they were planned. */
export function ordered(steps: Step[]): Step[] {
  return steps
    .map((s, i) => ({ s, i }))
    .sort((a, b) => RANK[a.s.op] - RANK[b.s.op] || a.i - b.i)
    .map((x) => x.s);
}

const short = (h: string | undefined): string => (h ?? "none").slice(0, 8);

function replicaOf(c: ObservedContainer): number | undefined {
  const n = Number(c.labels[LABEL.replica]);
  return c.labels[LABEL.replica] !== undefined && Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** Ready first, then the newest: the container worth keeping when there are several. */
function best(list: ObservedContainer[]): ObservedContainer {
  return [...list].sort((a, b) => Number(isReady(b)) - Number(isReady(a)) || b.created - a.created)[0];
}

const isRunning = (c: ObservedContainer): boolean => c.state === "running" || c.state === "restarting" || c.state === "paused";

/**
 * Taking a container away: out of the route table first whenever it runs, then a stop with its
 * grace period, then the removal. A running container that is not ready when the plan is made
 * is unrouted too: its health can turn between the plan and the stop, and the Domain's sync
 * would route it in that gap (the withdraw keeps it out of every later table).
 */
export function retire(c: ObservedContainer, replica: number | undefined, how: { graceSeconds: number; cause: string; routed?: boolean }): Step[] {
  const { graceSeconds, cause, routed = true } = how;
  const steps: Step[] = [];
  if (routed && isRunning(c)) steps.push({ op: "unroute", replica, id: c.id, name: c.name, cause });
  if (isRunning(c)) steps.push({ op: "stop", replica, id: c.id, name: c.name, graceSeconds, cause });
  steps.push({ op: "remove", replica, id: c.id, name: c.name, cause });
  return steps;
}

// ---------------------------------------------------------------------------------------------
// Infrastructure: the image, the project network and the named volumes a create needs.

export interface InfraObserved {
  image: { name: string; present: boolean };
  network: { name: string; exists: boolean };
  volumes: { name: string; owner: VolumeOwner }[];
}

/** What has to exist before a container can be created, or why nothing can be. */
export function planInfrastructure(obs: InfraObserved, forWhat: string): { steps: Step[]; blocked?: Blocked } {
  const steps: Step[] = [];
  if (!obs.image.present) steps.push({ op: "pull-image", image: obs.image.name, cause: `${forWhat} needs image ${obs.image.name}, which the engine does not have` });
  if (!obs.network.exists) steps.push({ op: "create-network", name: obs.network.name, cause: "the project network is missing" });
  for (const v of obs.volumes) {
    if (v.owner.state === "other") {
      return {
        steps: [],
        blocked: { reason: "VolumeConflict", message: `volume ${v.name} belongs to another Berth installation (berth.dev/instance=${v.owner.instance}); use another volume name, or remove that volume if it is no longer needed` },
      };
    }
    if (v.owner.state === "absent") steps.push({ op: "create-volume", name: v.name, cause: `volume ${v.name} is missing` });
  }
  return { steps };
}

/** Whether a plan creates anything (and so needs its infrastructure). */
export function createsContainers(plan: Plan): boolean {
  return plan.steps.some((s) => s.op === "create");
}

/** Infrastructure steps first, then the container plan; a blocked infrastructure blocks everything. */
export function withInfrastructure(plan: Plan, infra: { steps: Step[]; blocked?: Blocked }): Plan {
  if (infra.blocked) return { steps: [], waiting: plan.waiting, blocked: infra.blocked };
  return { ...plan, steps: ordered([...infra.steps, ...plan.steps]) };
}

// ---------------------------------------------------------------------------------------------
// Application replicas

export interface AppPlanInput {
  project: string;
  name: string;
  replicas: number;
  hash: string;
  strategy: { type: "RollingUpdate" | "Recreate"; maxSurge: number; maxUnavailable: number };
  /** spec.stopGracePeriod in seconds. */
  graceSeconds: number;
}

interface ReplicaGroup {
  replica: number;
  current: ObservedContainer[];
  stale: ObservedContainer[];
}

/** How much of maxSurge and maxUnavailable the rollout uses already, and the restart budget. */
interface Budget {
  surgeInUse: number;
  unavailableInUse: number;
  restarts: number;
}

class Planner {
  readonly steps: Step[] = [];
  readonly waiting: string[] = [];
  private readonly names: Set<string>;

  constructor(
    private readonly input: AppPlanInput,
    observed: ObservedContainer[],
  ) {
    this.names = new Set(observed.map((c) => c.name));
  }

  retire(c: ObservedContainer, replica: number | undefined, cause: string): void {
    this.steps.push(...retire(c, replica, { graceSeconds: this.input.graceSeconds, cause }));
    this.names.delete(c.name);
  }

  /** `base`, or `base-2`, `base-3` … : a name no container of this Application holds. */
  freeName(base: string): string {
    let name = base;
    for (let n = 2; this.names.has(name); n++) name = `${base}-${n}`;
    this.names.add(name);
    return name;
  }

  rename(c: ObservedContainer, replica: number, to: string, cause: string): void {
    this.names.delete(c.name);
    this.steps.push({ op: "rename", replica, id: c.id, name: c.name, to, cause });
  }
}

/** Containers by replica label; containers without one are strays. */
function groupByReplica(input: AppPlanInput, observed: ObservedContainer[]): { groups: Map<number, ReplicaGroup>; strays: ObservedContainer[] } {
  const groups = new Map<number, ReplicaGroup>();
  const strays: ObservedContainer[] = [];
  for (const c of observed) {
    const r = replicaOf(c);
    if (r === undefined) {
      strays.push(c);
      continue;
    }
    const g = groups.get(r) ?? { replica: r, current: [], stale: [] };
    (c.labels[LABEL.configHash] === input.hash ? g.current : g.stale).push(c);
    groups.set(r, g);
  }
  return { groups, strays };
}

/** Replicas at or above the desired count go, the highest first. */
function planScaleDown(p: Planner, input: AppPlanInput, groups: Map<number, ReplicaGroup>): void {
  const extra = [...groups.keys()].filter((r) => r >= input.replicas).sort((a, b) => b - a);
  for (const r of extra) {
    const g = groups.get(r)!;
    for (const c of [...g.current, ...g.stale]) p.retire(c, r, `extra replica (scale down to ${input.replicas})`);
  }
}

/**
 * What the rollout already spends: a replica whose new container is still starting beside its
 * old one holds a unit of surge; one with only a not-ready new container is unavailable.
 * Health checks time out together on an overloaded host; restarting every "unhealthy" replica
 * at once would turn slowness into an outage: one restart at a time, none while one starts.
 */
function rolloutBudget(input: AppPlanInput, groups: Map<number, ReplicaGroup>, observed: ObservedContainer[]): Budget {
  const budget: Budget = { surgeInUse: 0, unavailableInUse: 0, restarts: observed.some((c) => c.health === "starting") ? 0 : 1 };
  for (let r = 0; r < input.replicas; r++) {
    const g = groups.get(r);
    if (!g?.current.length || isReady(best(g.current))) continue;
    if (g.stale.length) budget.surgeInUse++;
    else budget.unavailableInUse++;
  }
  return budget;
}

/** With maxSurge 0 a rollout only proceeds within maxUnavailable; both 0 would stall, so surge 1. */
function surgeLimit(strategy: AppPlanInput["strategy"]): number {
  if (strategy.maxSurge > 0) return strategy.maxSurge;
  return strategy.maxUnavailable > 0 ? 0 : 1;
}

/** A replica that has a container on the current config: keep the best, repair it, retire the rest. */
function planCurrentReplica(p: Planner, input: AppPlanInput, g: ReplicaGroup, budget: Budget): void {
  const r = g.replica;
  const keep = best(g.current);
  for (const c of g.current) if (c !== keep) p.retire(c, r, `duplicate container for replica ${r}`);
  repairReplica(p, input, { keep, r, onTrial: g.stale.length > 0 }, budget);
  if (!g.stale.length) return renameHome(p, input, keep, r);
  if (!isReady(keep)) {
    const why = keep.health === "unhealthy" ? "is unhealthy; the old one serves until the progress deadline" : "is not ready yet";
    p.waiting.push(`replica ${r}: new container ${keep.name} ${why}`);
    return;
  }
  for (const c of g.stale) p.retire(c, r, `replaced by config ${short(input.hash)}`);
  renameHome(p, input, keep, r);
}

/**
 * A new container still on trial (its replica's old one serves) is never restarted for being
 * unhealthy: the progress deadline judges it, and a restart would only reset its health window
 * and churn a container the user may be inspecting.
 */
function repairReplica(p: Planner, input: AppPlanInput, { keep, r, onTrial }: { keep: ObservedContainer; r: number; onTrial: boolean }, budget: Budget): void {
  if (keep.state === "created") p.steps.push({ op: "start", replica: r, id: keep.id, name: keep.name, cause: "created but never started (interrupted rollout)" });
  else if (keep.state === "exited" || keep.state === "dead") p.steps.push({ op: "start", replica: r, id: keep.id, name: keep.name, cause: `container ${keep.state} (drift)` });
  else if (keep.health === "unhealthy" && onTrial) return;
  else if (keep.health === "unhealthy" && budget.restarts > 0) {
    budget.restarts--;
    p.steps.push({ op: "restart", replica: r, id: keep.id, name: keep.name, graceSeconds: input.graceSeconds, cause: "healthcheck failing (unhealthy)" });
  } else if (keep.health === "unhealthy") p.waiting.push(`replica ${r}: unhealthy; waits for its turn to be restarted`);
}

/** The surviving container of a replica goes back to the canonical name (e.g. after a revert). */
function renameHome(p: Planner, input: AppPlanInput, keep: ObservedContainer, r: number): void {
  const canonical = containerName(input.project, input.name, r);
  if (keep.name === canonical) return;
  p.rename(keep, r, p.freeName(canonical), "back to the replica's canonical name");
}

/** A replica with only old containers: replace it within maxUnavailable, or with a surge beside it. */
function planStaleReplica(p: Planner, input: AppPlanInput, g: ReplicaGroup, budget: Budget): void {
  const r = g.replica;
  const old = best(g.stale);
  const cause = `config-hash changed ${short(old.labels[LABEL.configHash])} → ${short(input.hash)}`;
  const oldServing = g.stale.some(isReady);
  const recreate = input.strategy.type === "Recreate";
  if (recreate || !oldServing || budget.unavailableInUse < input.strategy.maxUnavailable) {
    if (!recreate && oldServing) budget.unavailableInUse++;
    const why = recreate ? "Recreate strategy" : oldServing ? "within maxUnavailable" : "old container not serving";
    for (const c of g.stale) p.retire(c, r, `${cause}; ${why}`);
    p.steps.push({ op: "create", replica: r, cause });
    return;
  }
  if (budget.surgeInUse >= surgeLimit(input.strategy)) {
    p.waiting.push(`replica ${r}: waiting for rollout budget (maxSurge ${input.strategy.maxSurge}, maxUnavailable ${input.strategy.maxUnavailable})`);
    return;
  }
  budget.surgeInUse++;
  const canonical = containerName(input.project, input.name, r);
  for (const c of g.stale) {
    if (c.name === canonical) p.rename(c, r, p.freeName(`${canonical}-old-${short(c.labels[LABEL.configHash])}`), "making way for the new container (old keeps serving)");
  }
  p.steps.push({ op: "create", replica: r, cause });
}

/**
 * The pure planner for an Application's replicas: observed containers in, ordered steps out.
 * Rolling updates replace one replica at a time within maxSurge/maxUnavailable; a replica's old
 * container goes only once its new one is ready, so with maxUnavailable 0 capacity never drops.
 */
export function planApplication(input: AppPlanInput, observed: ObservedContainer[]): Plan {
  const p = new Planner(input, observed);
  const { groups, strays } = groupByReplica(input, observed);
  for (const c of strays) p.retire(c, undefined, "container without a replica label");
  planScaleDown(p, input, groups);
  const budget = rolloutBudget(input, groups, observed);
  for (let r = 0; r < input.replicas; r++) {
    const g = groups.get(r) ?? { replica: r, current: [], stale: [] };
    if (g.current.length) planCurrentReplica(p, input, g, budget);
    else if (g.stale.length) planStaleReplica(p, input, g, budget);
    else p.steps.push({ op: "create", replica: r, cause: "missing replica" });
  }
  return { steps: ordered(p.steps), waiting: p.waiting };
}

// ---------------------------------------------------------------------------------------------
// Database: one server owns a data volume

export interface DatabasePlanInput {
  hash: string;
  suspend: boolean;
  graceSeconds: number;
}

const running = (c: ObservedContainer): boolean => c.state === "running" || c.state === "restarting";

function bestDatabase(list: ObservedContainer[]): ObservedContainer {
  return [...list].sort((a, b) => Number(running(b)) - Number(running(a)) || b.created - a.created)[0];
}

/**
 * The pure planner for a Database: a changed config is Recreate (stop and remove the old, then
 * create), never a surge, because one server owns the data volume; suspend stops the container
 * and keeps it (and the volume). Databases are not routed, so nothing is unrouted.
 */
export function planDatabase(input: DatabasePlanInput, observed: ObservedContainer[]): Plan {
  const steps: Step[] = [];
  const current = observed.filter((c) => c.labels[LABEL.configHash] === input.hash);
  const stale = observed.filter((c) => c.labels[LABEL.configHash] !== input.hash);
  for (const c of stale) steps.push(...retire(c, 0, { graceSeconds: input.graceSeconds, cause: `config-hash changed ${short(c.labels[LABEL.configHash])} → ${short(input.hash)}`, routed: false }));
  const keep = current.length ? bestDatabase(current) : undefined;
  for (const c of current) if (c !== keep) steps.push(...retire(c, 0, { graceSeconds: input.graceSeconds, cause: "duplicate container", routed: false }));
  const last = input.suspend ? suspendStep(keep, input) : serverStep(keep, stale.length > 0);
  if (last) steps.push(last);
  return { steps: ordered(steps), waiting: [] };
}

/** Suspended: the running server stops (and stays), the container is kept. */
function suspendStep(keep: ObservedContainer | undefined, input: DatabasePlanInput): Step | undefined {
  if (!keep || !running(keep)) return undefined;
  return { op: "stop", replica: 0, id: keep.id, name: keep.name, graceSeconds: input.graceSeconds, cause: "suspended (spec.suspend: true)" };
}

/** The server runs: created if missing, started if it never ran or stopped. */
function serverStep(keep: ObservedContainer | undefined, recreate: boolean): Step | undefined {
  if (!keep) return { op: "create", replica: 0, cause: recreate ? "config changed (recreate)" : "missing container" };
  if (keep.state === "created") return { op: "start", replica: 0, id: keep.id, name: keep.name, cause: "created but never started" };
  if (keep.state === "exited" || keep.state === "dead") return { op: "start", replica: 0, id: keep.id, name: keep.name, cause: `container ${keep.state} (drift)` };
  return undefined;
}

// ---------------------------------------------------------------------------------------------

/** What a step acts on, in words: "create replica 0", "start shop-web-1", "pull image busybox:1". */
export function stepSubject(s: Step): string {
  switch (s.op) {
    case "pull-image":
      return `pull image ${s.image}`;
    case "create-network":
      return `create network ${s.name}`;
    case "create-volume":
      return `create volume ${s.name}`;
    case "create":
      return `create replica ${s.replica}`;
    default:
      return `${s.op} ${s.name}`;
  }
}

/** One line per step, for logs, deployment records and golden tests. */
export function describeStep(s: Step): string {
  switch (s.op) {
    case "pull-image":
      return `pull    ${s.image}: ${s.cause}`;
    case "create-network":
    case "create-volume":
      return `${s.op === "create-network" ? "network" : "volume "} ${s.name}: ${s.cause}`;
    case "create":
      return `create  replica ${s.replica}: ${s.cause}`;
    case "rename":
      return `rename  ${s.name} → ${s.to}: ${s.cause}`;
    case "stop":
    case "restart":
      return `${s.op.padEnd(7)} ${s.name} (grace ${s.graceSeconds}s): ${s.cause}`;
    default:
      return `${s.op.padEnd(7)} ${s.name}: ${s.cause}`;
  }
}

/** Golden-text form of a plan: one line per step, then what it waits for or what blocks it. */
export function formatPlan(plan: Plan): string {
  const lines = plan.steps.map(describeStep);
  if (plan.blocked) lines.push(`blocked ${plan.blocked.reason}: ${plan.blocked.message}`);
  return [...lines, ...plan.waiting.map((w) => `wait    ${w}`)].join("\n");
}

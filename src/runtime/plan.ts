import type { ObservedContainer } from "./docker.js";
import { containerName, LABEL } from "./labels.js";

/** One change to the runtime, with the reason it is needed. */
export type Step =
  | { op: "create"; replica: number; cause: string }
  | { op: "start"; replica: number; id: string; name: string; cause: string }
  | { op: "restart"; replica: number; id: string; name: string; cause: string }
  | { op: "rename"; replica: number; id: string; name: string; to: string; cause: string }
  | { op: "remove"; replica: number | undefined; id: string; name: string; cause: string };

export interface Plan {
  steps: Step[];
  /** Why the plan stops short of the goal for now (e.g. a new replica still starting). */
  waiting: string[];
}

export interface AppPlanInput {
  project: string;
  name: string;
  replicas: number;
  hash: string;
  strategy: { type: "RollingUpdate" | "Recreate"; maxSurge: number; maxUnavailable: number };
}

export function isReady(c: ObservedContainer): boolean {
  return c.state === "running" && (c.health === "healthy" || c.health === "none");
}

function replicaOf(c: ObservedContainer): number | undefined {
  const n = Number(c.labels[LABEL.replica]);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** Ready first, then the newest: the container worth keeping when there are several. */
function best(list: ObservedContainer[]): ObservedContainer {
  return [...list].sort((a, b) => Number(isReady(b)) - Number(isReady(a)) || b.created - a.created)[0];
}

const short = (h: string | undefined): string => (h ?? "none").slice(0, 8);

/**
 * The pure planner for an Application's replicas: observed containers in, ordered steps out.
 * Rolling updates replace one replica at a time within maxSurge/maxUnavailable; a replica's old
 * container goes only once its new one is ready, so with maxUnavailable 0 capacity never drops.
 */
export function planApplication(input: AppPlanInput, observed: ObservedContainer[]): Plan {
  const steps: Step[] = [];
  const waiting: string[] = [];
  const byReplica = new Map<number, ObservedContainer[]>();
  for (const c of observed) {
    const r = replicaOf(c);
    if (r === undefined) {
      steps.push({ op: "remove", replica: undefined, id: c.id, name: c.name, cause: "container without a replica label" });
      continue;
    }
    byReplica.set(r, [...(byReplica.get(r) ?? []), c]);
  }
  const extra = [...byReplica.keys()].filter((r) => r >= input.replicas).sort((a, b) => b - a);
  for (const r of extra) {
    for (const c of byReplica.get(r)!) steps.push({ op: "remove", replica: r, id: c.id, name: c.name, cause: `extra replica (scale down to ${input.replicas})` });
  }
  let surgeInUse = 0;
  let unavailableInUse = 0;
  // Health checks time out together on an overloaded host; restarting every "unhealthy" replica
  // at once would turn slowness into an outage. One restart at a time, none while one is starting.
  let restartBudget = observed.some((c) => c.health === "starting") ? 0 : 1;
  for (let r = 0; r < input.replicas; r++) {
    const list = byReplica.get(r) ?? [];
    const current = list.filter((c) => c.labels[LABEL.configHash] === input.hash);
    const stale = list.filter((c) => c.labels[LABEL.configHash] !== input.hash);
    // A replica whose new container is still starting holds one unit of surge.
    if (current.length && stale.length && !isReady(best(current))) surgeInUse++;
    if (current.length && !stale.length && !isReady(best(current))) unavailableInUse++;
  }
  for (let r = 0; r < input.replicas; r++) {
    const list = byReplica.get(r) ?? [];
    const current = list.filter((c) => c.labels[LABEL.configHash] === input.hash);
    const stale = list.filter((c) => c.labels[LABEL.configHash] !== input.hash);
    const canonical = containerName(input.project, input.name, r);
    if (current.length) {
      const keep = best(current);
      for (const c of current) if (c !== keep) steps.push({ op: "remove", replica: r, id: c.id, name: c.name, cause: `duplicate container for replica ${r}` });
      if (keep.state === "created") steps.push({ op: "start", replica: r, id: keep.id, name: keep.name, cause: "created but never started (interrupted rollout)" });
      else if (keep.state === "exited" || keep.state === "dead") steps.push({ op: "start", replica: r, id: keep.id, name: keep.name, cause: `container ${keep.state} (drift)` });
      else if (keep.health === "unhealthy" && restartBudget > 0) {
        restartBudget--;
        steps.push({ op: "restart", replica: r, id: keep.id, name: keep.name, cause: "healthcheck failing (unhealthy)" });
      } else if (keep.health === "unhealthy") waiting.push(`replica ${r}: unhealthy; waits for its turn to be restarted`);
      if (stale.length) {
        if (isReady(keep)) for (const c of stale) steps.push({ op: "remove", replica: r, id: c.id, name: c.name, cause: `replaced by config ${short(input.hash)}` });
        else waiting.push(`replica ${r}: new container ${keep.name} is not ready yet`);
      }
      continue;
    }
    if (!stale.length) {
      steps.push({ op: "create", replica: r, cause: "missing replica" });
      continue;
    }
    const old = best(stale);
    const cause = `config-hash changed ${short(old.labels[LABEL.configHash])} → ${short(input.hash)}`;
    const oldServing = stale.some(isReady);
    if (input.strategy.type === "Recreate" || !oldServing || unavailableInUse < input.strategy.maxUnavailable) {
      if (input.strategy.type !== "Recreate" && oldServing) unavailableInUse++;
      for (const c of stale) steps.push({ op: "remove", replica: r, id: c.id, name: c.name, cause: `${cause}; ${input.strategy.type === "Recreate" ? "Recreate strategy" : oldServing ? "within maxUnavailable" : "old container not serving"}` });
      steps.push({ op: "create", replica: r, cause });
      continue;
    }
    if (surgeInUse < surgeLimit(input.strategy)) {
      surgeInUse++;
      const renamed = `${canonical}-old-${short(old.labels[LABEL.configHash])}`;
      for (const c of stale) if (c.name === canonical) steps.push({ op: "rename", replica: r, id: c.id, name: c.name, to: renamed, cause: "making way for the new container (old keeps serving)" });
      steps.push({ op: "create", replica: r, cause });
      continue;
    }
    waiting.push(`replica ${r}: waiting for rollout budget (maxSurge ${input.strategy.maxSurge}, maxUnavailable ${input.strategy.maxUnavailable})`);
  }
  // Phases, so the executor can run each in parallel: make room, then create, then start.
  const rank: Record<Step["op"], number> = { remove: 0, rename: 1, create: 2, start: 3, restart: 4 };
  const ordered = steps.map((s, i) => ({ s, i })).sort((a, b) => rank[a.s.op] - rank[b.s.op] || a.i - b.i).map((x) => x.s);
  return { steps: ordered, waiting };
}

/** With maxSurge 0 a rollout only proceeds within maxUnavailable; both 0 would stall, so surge 1. */
function surgeLimit(strategy: AppPlanInput["strategy"]): number {
  if (strategy.maxSurge > 0) return strategy.maxSurge;
  return strategy.maxUnavailable > 0 ? 0 : 1;
}

/** Golden-text form of a plan: one line per step, then what it waits for. */
export function formatPlan(plan: Plan): string {
  const lines = plan.steps.map((s) => {
    switch (s.op) {
      case "create":
        return `create  replica ${s.replica}: ${s.cause}`;
      case "rename":
        return `rename  ${s.name} → ${s.to}: ${s.cause}`;
      default:
        return `${s.op.padEnd(7)} ${s.name}: ${s.cause}`;
    }
  });
  return [...lines, ...plan.waiting.map((w) => `wait    ${w}`)].join("\n");
}

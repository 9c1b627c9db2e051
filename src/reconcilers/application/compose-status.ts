/**
 * A compose Application's status (DESIGN §2b), pure: per service, what its child Application
 * reports; replica counts summed over the services; Ready once every service's Application is
 * Ready for its current generation.
 */
import { conditionsOf, getCondition } from "../../core/conditions.js";
import type { ApplicationSpec } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import { conditionsFor, failureSummary, suspendedSummary, transitionEvents, type Outcome, type Summary, type Verdict } from "../shared/status.js";
import type { ChildPlan } from "./compose-children.js";

/** What one compose reconcile observed. */
export interface ComposeObserved {
  /** Each service of the file and its child Application as read after the plan ran (absent: not there yet). */
  services: { service: string; name: string; child?: ResourceObject }[];
  plan: ChildPlan;
  /** A compose file from git: the commit it was read at, and the poll period. */
  git: { commit: string; intervalMs: number };
}

interface ServiceStatus {
  name: string;
  application: string;
  ready: boolean;
  /** Its Application is Stalled (retrying cannot help) or Degraded (a replica unhealthy or exited). */
  troubled: boolean;
  readySummary: string;
  phase: string;
  reason: string;
  message: string;
  endpoints: string[];
}

const num = (v: unknown): number => (typeof v === "number" ? v : 0);
const str = (v: unknown, fallback: string): string => (typeof v === "string" ? v : fallback);

/** Why a service is (not) ready: its Application's Ready condition once that has seen the current generation. */
function readiness(child: ResourceObject | undefined): { ready: boolean; reason: string; message: string } {
  if (!child) return { ready: false, reason: "Creating", message: "its Application is being created" };
  const st = (child.status ?? {}) as Record<string, unknown>;
  if (st.observedGeneration !== (child.metadata.generation ?? 1)) return { ready: false, reason: "NotObserved", message: "its Application's new generation has not been reconciled yet" };
  const ready = getCondition(conditionsOf(child.status), "Ready");
  return { ready: ready?.status === "True", reason: ready?.reason ?? "Unknown", message: ready?.message ?? "" };
}

function serviceStatus(s: ComposeObserved["services"][number]): ServiceStatus {
  const st = (s.child?.status ?? {}) as Record<string, unknown>;
  return {
    name: s.service,
    application: s.name,
    ...readiness(s.child),
    troubled: ["Stalled", "Degraded"].some((t) => getCondition(conditionsOf(s.child?.status), t)?.status === "True"),
    readySummary: str(st.readySummary, "0/0"),
    phase: str(st.phase, "deploying"),
    endpoints: Array.isArray(st.endpoints) ? (st.endpoints as string[]) : [],
  };
}

const COUNTS = ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"] as const;

/** Replica counts summed over the services' Applications (carried over when this reconcile could not look). */
function counts(obs: Partial<ComposeObserved>, previous: Record<string, unknown>): Record<string, number> {
  const children = obs.services?.map((s) => (s.child?.status ?? {}) as Record<string, unknown>);
  return Object.fromEntries(COUNTS.map((k) => [k, children ? children.reduce((n, st) => n + num(st[k]), 0) : num(previous[k])]));
}

function progressSummary(services: ServiceStatus[]): Summary {
  const ready = services.filter((s) => s.ready);
  const total = services.length;
  // Waiting for a dependency is not trouble; a Stalled or Degraded service is.
  const degraded = services.filter((s) => s.troubled);
  const health = degraded.length
    ? { type: "Degraded", status: "True" as const, reason: "ServiceDegraded", message: degraded.map((s) => `${s.name}: ${s.reason}`).join(", ") }
    : { type: "Degraded", status: "False" as const, reason: "AsExpected", message: "" };
  if (ready.length === total) return { ready: { status: "True", reason: "ServicesReady", message: `${total}/${total} services ready` }, extra: [health] };
  const waiting = services.filter((s) => !s.ready).map((s) => `${s.name}: ${s.reason}${s.message ? ` (${s.message})` : ""}`);
  const message = `${ready.length}/${total} services ready; ${waiting.join("; ")}`;
  return { ready: { status: "False", reason: "ServicesNotReady", message }, reconciling: { reason: "ServicesNotReady", message }, extra: [health] };
}

function phaseOf(outcome: Outcome, services: ServiceStatus[], suspended: boolean): string {
  if (suspended) return "stopped";
  if (outcome.failure || services.some((s) => s.troubled && s.phase === "failed")) return "failed";
  return services.every((s) => s.ready) ? "running" : "deploying";
}

function summaryFor(outcome: Outcome, services: ServiceStatus[], suspended: boolean): Summary {
  if (outcome.failure) return failureSummary(outcome.failure);
  return suspended ? suspendedSummary("its services' Applications are suspended too") : progressSummary(services);
}

export function composeStatusFor(app: ResourceObject, obs: Partial<ComposeObserved>, outcome: Outcome, at?: string): Verdict {
  const suspended = !!(app.spec as ApplicationSpec | undefined)?.suspend;
  const previous = (app.status ?? {}) as Record<string, unknown>;
  const services = obs.services ? obs.services.map(serviceStatus) : ((previous.services as ServiceStatus[] | undefined) ?? []);
  const conditions = conditionsFor(app, summaryFor(outcome, services, suspended), at);
  const status = {
    observedGeneration: app.metadata.generation ?? 1,
    phase: phaseOf(outcome, services, suspended),
    ...counts(obs, previous),
    readySummary: `${services.filter((s) => s.ready).length}/${services.length} services`,
    services,
    ...commitOf(obs, previous),
    conditions,
  };
  const events = transitionEvents(app, conditions, outcome.failure, { reason: "Ready", message: `${services.length}/${services.length} services ready` });
  // Children's status changes wake the parent (a watch); the requeue is the safety net while converging.
  const settled = !outcome.failure && !suspended && services.every((s) => s.ready) && !obs.plan?.terminating.length;
  return { status, events, requeueAfter: settled ? undefined : 2000, ...(obs.git ? { pollAfter: obs.git.intervalMs } : {}) };
}

/** A compose file from git: the commit it was read at (the last one known when this reconcile could not read it). */
function commitOf(obs: Partial<ComposeObserved>, previous: Record<string, unknown>): { commit?: unknown } {
  if (obs.git) return { commit: obs.git.commit };
  return previous.commit ? { commit: previous.commit } : {};
}

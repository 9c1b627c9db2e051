import { conditionsOf, getCondition, setCondition, type Condition, type ConditionInput } from "../../core/conditions.js";
import type { ResourceObject } from "../../core/types.js";
import type { EventType } from "../../store/events.js";
import type { Failure } from "./failures.js";

/** What a reconcile found, before it becomes conditions: the kstatus triple plus the kind's own. */
export interface Summary {
  ready: { status: "True" | "False" | "Unknown"; reason: string; message: string };
  /** Work in progress (a rollout, a wait, a retry): Reconciling=True. Absent when settled. */
  reconciling?: { reason: string; message: string };
  /** Retrying cannot help: Stalled=True. Absent otherwise. */
  stalled?: { reason: string; message: string };
  /** Kind-specific conditions (Progressing, Degraded, LastBackupSucceeded …). */
  extra?: Omit<ConditionInput, "observedGeneration">[];
}

export interface EventSpec {
  type: EventType;
  reason: string;
  message: string;
}

/** What statusFor returns: the one status to write, the events to record, when to look again. */
export interface Verdict {
  status: Record<string, unknown>;
  events: EventSpec[];
  requeueAfter?: number;
  /** The kind's own period (a Sync's poll interval): runs even while Stalled. */
  pollAfter?: number;
}

/** The outcome of the ordered steps of a reconcile. */
export interface Outcome {
  failure?: Failure;
  suspended?: boolean;
}

/**
 * The conditions of a status: Ready, Reconciling and Stalled as kstatus reads them (the last two
 * removed when not true, as Flux does), then the kind's own, every one stamped with the
 * generation this reconcile read.
 */
export function conditionsFor(obj: ResourceObject, s: Summary, at?: string): Condition[] {
  const generation = obj.metadata.generation ?? 1;
  let c: Condition[] = conditionsOf(obj.status).filter((x) => x.type !== "Reconciling" && x.type !== "Stalled");
  c = setCondition(c, { type: "Ready", ...s.ready, observedGeneration: generation }, at);
  if (s.reconciling) c = setCondition(c, { type: "Reconciling", status: "True", ...s.reconciling, observedGeneration: generation }, at);
  if (s.stalled) c = setCondition(c, { type: "Stalled", status: "True", ...s.stalled, observedGeneration: generation }, at);
  for (const x of s.extra ?? []) c = setCondition(c, { ...x, observedGeneration: generation }, at);
  return c;
}

/** The summary of a reconcile that a failure stopped. */
export function failureSummary(f: Failure, extra: Summary["extra"] = []): Summary {
  return {
    ready: { status: "False", reason: f.reason, message: f.message },
    ...(f.terminal ? { stalled: { reason: f.reason, message: f.message } } : { reconciling: { reason: "RetryingAfterFailure", message: f.message } }),
    extra,
  };
}

export function suspendedSummary(what: string): Summary {
  return { ready: { status: "Unknown", reason: "Suspended", message: `reconciliation is suspended (spec.suspend: true); ${what}` } };
}

/**
 * Events for the change from the status that was read to the one written: a Warning when a
 * failure appears or changes (a repeat of the same one on the same object only bumps its
 * count), a Normal event when Ready becomes True.
 */
export function transitionEvents(before: ResourceObject, after: Condition[], failure: Failure | undefined, ready?: { reason: string; message: string }): EventSpec[] {
  const prev = getCondition(conditionsOf(before.status), "Ready");
  const events: EventSpec[] = [];
  if (failure && isNewFailure(prev, failure)) events.push({ type: "Warning", reason: failure.reason, message: failure.message });
  if (getCondition(after, "Ready")?.status === "True" && prev?.status !== "True") events.push({ type: "Normal", reason: ready?.reason ?? "Ready", message: ready?.message ?? getCondition(after, "Ready")!.message });
  return events;
}

function isNewFailure(prev: Condition | undefined, failure: Failure): boolean {
  return prev?.reason !== failure.reason || prev?.message !== failure.message;
}

/**
 * The one status a Notification reconcile writes (DESIGN §2b), computed without I/O: its channel,
 * the outbox counts, the last delivery, and Ready/DeliveryFailed from the newest outcome.
 */
import { conditionsOf, getCondition, type ConditionInput } from "../../core/conditions.js";
import type { ChannelName } from "../../core/notifications.js";
import type { ResourceObject } from "../../core/types.js";
import type { OutboxStats } from "../../store/notifications.js";
import { conditionsFor, failureSummary, suspendedSummary, transitionEvents, type EventSpec, type Outcome, type Summary, type Verdict } from "../shared/status.js";

export interface NotificationObserved {
  channel: ChannelName;
  stats: OutboxStats;
}

function deliveryCondition(stats: OutboxStats | undefined): Omit<ConditionInput, "observedGeneration"> {
  if (stats?.lastError) return { type: "DeliveryFailed", status: "True", reason: "ChannelRefused", message: stats.lastError.message };
  return { type: "DeliveryFailed", status: "False", reason: stats?.delivered ? "Delivered" : "NoDeliveryYet", message: stats?.lastDelivery ? `last delivered ${stats.lastDelivery.event} of ${stats.lastDelivery.object} at ${stats.lastDelivery.time}` : "nothing delivered yet" };
}

function summaryFor(obs: Partial<NotificationObserved>, outcome: Outcome): Summary {
  if (outcome.suspended) return suspendedSummary("no deliveries are recorded and pending ones wait");
  if (outcome.failure) return failureSummary(outcome.failure);
  const s = obs.stats!;
  const delivery = deliveryCondition(s);
  if (s.lastError) {
    const message = `the ${obs.channel} channel refused the last delivery (${s.pending} pending, retried with backoff): ${s.lastError.message}`;
    return { ready: { status: "False", reason: "DeliveryFailed", message }, reconciling: { reason: "RetryingDelivery", message }, extra: [delivery] };
  }
  return { ready: { status: "True", reason: "Subscribed", message: `delivering to ${obs.channel}${s.pending ? ` (${s.pending} pending)` : ""}` }, extra: [delivery] };
}

/** A Warning when a delivery failure appears or its answer changes (a repeat only bumps the count). */
function deliveryEvents(n: ResourceObject, obs: Partial<NotificationObserved>): EventSpec[] {
  const err = obs.stats?.lastError;
  if (!err) return [];
  const prev = getCondition(conditionsOf(n.status), "DeliveryFailed");
  if (prev?.status === "True" && prev.message === err.message) return [];
  return [{ type: "Warning", reason: "DeliveryFailed", message: `${obs.channel}: ${err.message}` }];
}

function countsOf(stats: OutboxStats | undefined, prev: Record<string, unknown>): Record<string, unknown> {
  if (!stats) return Object.fromEntries(["delivered", "failures", "pending", "lastDelivery"].filter((k) => k in prev).map((k) => [k, prev[k]]));
  return { delivered: stats.delivered, failures: stats.failures, pending: stats.pending, ...(stats.dead ? { givenUp: stats.dead } : {}), ...(stats.lastDelivery ? { lastDelivery: stats.lastDelivery } : {}) };
}

/** Pure: the status, and the events of the change, for what the reconcile read and saw. */
export function notificationStatusFor(n: ResourceObject, obs: Partial<NotificationObserved>, outcome: Outcome, at?: string): Verdict {
  const conditions = conditionsFor(n, summaryFor(obs, outcome), at);
  const prev = (n.status ?? {}) as Record<string, unknown>;
  const status = { observedGeneration: n.metadata.generation ?? 1, ...(obs.channel ? { channel: obs.channel } : prev.channel ? { channel: prev.channel } : {}), ...countsOf(obs.stats, prev), conditions };
  const events = [...transitionEvents(n, conditions, outcome.failure, { reason: "Subscribed", message: `delivering to ${obs.channel}` }), ...deliveryEvents(n, obs)];
  return { status, events };
}

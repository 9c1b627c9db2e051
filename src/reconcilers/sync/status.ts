/**
 * The one status a Sync reconcile writes (DESIGN §2b), computed without I/O from what the
 * reconcile saw. A failed revision keeps lastAppliedRevision and the inventory of the last good
 * one: nothing of the failed revision was applied, so nothing else is true.
 */
import type { Condition } from "../../core/conditions.js";
import { RECONCILE_REQUESTED } from "../../core/kinds.js";
import type { ResourceObject } from "../../core/types.js";
import { conditionsFor, failureSummary, suspendedSummary, transitionEvents, type EventSpec, type Outcome, type Summary, type Verdict } from "../shared/status.js";
import type { InventoryEntry } from "../../store/sync-prune.js";

export type SyncFailureReason = "FetchFailed" | "ManifestInvalid" | "ApplyFailed" | "PruneBlocked";

/** What a Sync reconcile saw and did. */
export interface SyncObserved {
  /** The one-line source (url@ref:path or dir:path). */
  source: string;
  /** The fetched revision; absent when the fetch failed. */
  revision: string;
  /** Set when the revision was applied (and pruned) in full: what the Sync now owns. */
  inventory: InventoryEntry[];
  /** How many objects of the revision the write changed, and what it pruned or kept. */
  changed: number;
  pruned: InventoryEntry[];
  kept: string[];
  /** The git poll period (ms); undefined for a directory (its watch wakes the Sync). */
  intervalMs: number;
}

interface SyncStatus {
  inventory?: InventoryEntry[];
  lastAppliedRevision?: string;
}

const describe = (e: InventoryEntry): string => `${e.kind} ${e.namespace ? `${e.namespace}/` : ""}${e.name}`;

function appliedMessage(o: Partial<SyncObserved>): string {
  const parts = [`applied revision ${o.revision}: ${o.inventory?.length ?? 0} object(s), ${o.changed ?? 0} changed`];
  if (o.pruned?.length) parts.push(`pruned ${o.pruned.map(describe).join(", ")}`);
  if (o.kept?.length) parts.push(`kept ${o.kept.join("; ")}`);
  return parts.join("; ");
}

function summaryFor(o: Partial<SyncObserved>, outcome: Outcome): Summary {
  if (outcome.suspended) return suspendedSummary("nothing is fetched or applied; what was applied stays");
  if (outcome.failure) return failureSummary(outcome.failure);
  return { ready: { status: "True", reason: "Applied", message: appliedMessage(o) } };
}

function eventsFor(sync: ResourceObject, conditions: Condition[], o: Partial<SyncObserved>, outcome: Outcome): EventSpec[] {
  const applied = !outcome.failure && !outcome.suspended && o.inventory !== undefined;
  const events = transitionEvents(sync, conditions, outcome.failure, { reason: "Applied", message: appliedMessage(o) });
  const prev = (sync.status as SyncStatus | undefined)?.lastAppliedRevision;
  if (applied && prev && prev !== o.revision) events.push({ type: "Normal", reason: "RevisionApplied", message: appliedMessage(o) });
  return events;
}

function lastApplied(prev: SyncStatus, applied: boolean, revision: string | undefined): Record<string, string> {
  if (applied && revision) return { lastAppliedRevision: revision };
  return prev.lastAppliedRevision ? { lastAppliedRevision: prev.lastAppliedRevision } : {};
}

function lastHandled(sync: ResourceObject): Record<string, string> {
  const requested = sync.metadata.annotations?.[RECONCILE_REQUESTED];
  return requested ? { lastHandledReconcileAt: requested } : {};
}

export function syncStatusFor(sync: ResourceObject, o: Partial<SyncObserved>, outcome: Outcome, at?: string): Verdict {
  const prev = (sync.status ?? {}) as SyncStatus;
  const applied = !outcome.failure && !outcome.suspended && o.inventory !== undefined;
  const conditions = conditionsFor(sync, summaryFor(o, outcome), at);
  const status = {
    observedGeneration: sync.metadata.generation ?? 1,
    ...(o.source ? { source: o.source } : {}),
    ...(o.revision ? { revision: o.revision, lastAttemptedRevision: o.revision } : {}),
    ...lastApplied(prev, applied, o.revision),
    inventory: applied ? o.inventory : (prev.inventory ?? []),
    conditions,
    // Flux's lastHandledReconcileAt: this status comes from a reconcile that read the request.
    ...lastHandled(sync),
  };
  return { status, events: eventsFor(sync, conditions, o, outcome), ...(o.intervalMs && !outcome.suspended ? { pollAfter: o.intervalMs } : {}) };
}

/**
 * The one status a Sync reconcile writes (DESIGN §2b), computed without I/O from what the
 * reconcile saw. A failed revision keeps lastAppliedRevision and the inventory of the last good
 * one: nothing of the failed revision was applied, so nothing else is true.
 */
import { setCondition, type Condition } from "../../core/conditions.js";
import type { ResourceObject } from "../../core/types.js";
import type { InventoryEntry } from "./plan.js";

export type SyncFailureReason = "FetchFailed" | "ManifestInvalid" | "ApplyFailed" | "PruneBlocked";

export interface SyncOutcome {
  /** The one-line source (url@ref:path or dir:path). */
  source: string;
  /** The fetched revision; absent when the fetch failed. */
  revision?: string;
  /** Set when the revision was applied (and pruned) in full. */
  inventory?: InventoryEntry[];
  failure?: { reason: SyncFailureReason; message: string };
}

interface SyncStatus {
  observedGeneration?: number;
  inventory?: InventoryEntry[];
  lastAppliedRevision?: string;
  conditions?: Condition[];
}

function conditionsFor(prev: Condition[] | undefined, o: SyncOutcome, generation: number, at?: string): Condition[] {
  const f = o.failure;
  const ready = f ? { status: "False" as const, reason: f.reason, message: f.message } : { status: "True" as const, reason: "Applied", message: `applied revision ${o.revision ?? ""}` };
  let list = setCondition(prev, { type: "Ready", ...ready, observedGeneration: generation }, at);
  // Only a blocked prune waits on a person; the other failures are retried with backoff.
  list = setCondition(list, { type: "Stalled", status: f?.reason === "PruneBlocked" ? "True" : "False", reason: f?.reason ?? "Applied", message: f?.reason === "PruneBlocked" ? f.message : "", observedGeneration: generation }, at);
  return setCondition(list, { type: "Reconciling", status: "False", reason: f ? f.reason : "Applied", message: "", observedGeneration: generation }, at);
}

export function statusFor(sync: ResourceObject, o: SyncOutcome, at?: string): Record<string, unknown> {
  const prev = (sync.status ?? {}) as SyncStatus;
  const generation = Number(sync.metadata.generation ?? 1);
  const applied = !o.failure && o.inventory !== undefined;
  return {
    observedGeneration: generation,
    source: o.source,
    ...(o.revision ? { revision: o.revision, lastAttemptedRevision: o.revision } : {}),
    ...(applied ? { lastAppliedRevision: o.revision } : prev.lastAppliedRevision ? { lastAppliedRevision: prev.lastAppliedRevision } : {}),
    inventory: applied ? o.inventory : (prev.inventory ?? []),
    conditions: conditionsFor(prev.conditions, o, generation, at),
  };
}

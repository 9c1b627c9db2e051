/**
 * The pure decisions of a Sync reconcile (issue 15): what a revision may prune (who owns what
 * is decided under the write lock, store/apply-set.ts). No I/O, so every guard is specified by a unit test and the reconciler only executes.
 */
import { PRUNE_ANNOTATION, PRUNE_CONFIRM } from "../core/kinds.js";
import type { ResourceObject } from "../core/types.js";

/** One object a Sync applied, as status.inventory lists it. */
export interface InventoryEntry {
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
}

export const entryKey = (e: InventoryEntry): string => `${e.kind}/${e.namespace ?? ""}/${e.name}`;

export interface PrunePlan {
  /** Inventory entries that left the source and are deleted. */
  delete: InventoryEntry[];
  /** Entries that left the source but are kept, each with its cause. */
  keep: { entry: InventoryEntry; cause: string }[];
  /** Set when the guard refuses the whole prune: nothing is deleted. */
  blocked?: string;
}

export interface PruneInput {
  revision: string;
  inventory: InventoryEntry[];
  desired: InventoryEntry[];
  /** The live objects of the inventory, by entryKey; an absent one is already gone. */
  live: Map<string, ResourceObject>;
  prune: boolean;
  /** "50%" style; the share of the inventory one revision may prune without confirmation. */
  pruneLimit?: string;
  /** The Sync's berth.dev/prune-confirm annotation. */
  confirmed?: string;
}

function limitOf(pruneLimit: string | undefined): number {
  const m = /^(\d{1,3})%$/.exec(pruneLimit ?? "50%");
  return m ? Number(m[1]) / 100 : 0.5;
}

/** Splits the entries that left the source into deletions and keeps (annotation, gone). */
function candidates(input: PruneInput): PrunePlan {
  const wanted = new Set(input.desired.map(entryKey));
  const plan: PrunePlan = { delete: [], keep: [] };
  for (const entry of input.inventory) {
    if (wanted.has(entryKey(entry))) continue;
    const live = input.live.get(entryKey(entry));
    if (!live) continue;
    if (live.metadata.annotations?.[PRUNE_ANNOTATION] === "disabled") plan.keep.push({ entry, cause: `${PRUNE_ANNOTATION}: disabled` });
    else plan.delete.push(entry);
  }
  return plan;
}

/**
 * What this revision prunes. Pruning every object (a wrong path, an empty commit) or more than
 * pruneLimit of the inventory is refused until the Sync is annotated with this revision in
 * berth.dev/prune-confirm (Argo CD's Prune=confirm).
 */
export function planPrune(input: PruneInput): PrunePlan {
  if (!input.prune) return { delete: [], keep: [] };
  const plan = candidates(input);
  if (plan.delete.length === 0 || input.confirmed === input.revision) return plan;
  const total = input.inventory.length;
  const everything = input.desired.length === 0;
  const over = plan.delete.length > total * limitOf(input.pruneLimit);
  if (!everything && !over) return plan;
  const why = everything ? `revision ${input.revision} would prune every object (${plan.delete.length})` : `revision ${input.revision} would prune ${plan.delete.length} of ${total} objects, more than pruneLimit ${input.pruneLimit ?? "50%"}`;
  return { delete: [], keep: plan.keep, blocked: `${why}; annotate the Sync ${PRUNE_CONFIRM}=${input.revision} to confirm` };
}

/** The plan as text, one line per operation with its cause (golden files in test/golden). */
export function describePrune(plan: PrunePlan): string {
  const lines = [
    ...(plan.blocked ? [`blocked: ${plan.blocked}`] : []),
    ...plan.delete.map((e) => `delete ${entryKey(e)}: left the source`),
    ...plan.keep.map((k) => `keep ${entryKey(k.entry)}: ${k.cause}`),
  ];
  return lines.join("\n") + "\n";
}

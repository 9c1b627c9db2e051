/**
 * One revision of a Sync (issue 15, ADR 0013) as store operations, from files already fetched:
 * read every manifest with the checks `berth apply` makes plus a Sync's own, plan the guarded
 * prune, and build the apply and prune operations of the ONE batch that writes the revision.
 * The Sync controller writes that batch; `GET /berth/v1/syncs/NAME/diff` (`berth diff --sync`)
 * runs the very same batch as a dry run. Fetching is runtime/'s (git-fetch.ts, dir-source.ts).
 */
import { ApiError } from "../core/errors.js";
import { PRUNE_ANNOTATION, PRUNE_CONFIRM, SYNC_OWNER } from "../core/kinds.js";
import type { RequestContext, ResourceObject } from "../core/types.js";
import { ManifestError, parseManifestTexts, sortForApply, type ManifestDoc } from "../schema/manifests.js";
import { applySetOps } from "./apply-set.js";
import { BatchError, type BatchOp, type ResourceStore, type WriteResult } from "./resources.js";
import { entryKey, planPrune, type InventoryEntry, type PrunePlan } from "./sync-prune.js";

export interface SyncSpec {
  source: { git?: { url: string; branch?: string; tag?: string; commit?: string; path?: string; auth?: { token?: string } }; directory?: { path: string } };
  interval?: string;
  timeout?: string;
  prune?: boolean;
  pruneLimit?: string;
  suspend?: boolean;
  targetProjects?: string[];
  deletionPolicy?: "Retain" | "Delete";
}

export type SyncRevisionReason = "ManifestInvalid" | "PruneBlocked" | "ApplyFailed";

/** Why a revision cannot be applied, with the reason the Ready condition reports. */
export class SyncRevisionError extends Error {
  constructor(
    readonly reason: SyncRevisionReason,
    message: string,
  ) {
    super(message);
  }
}

export interface SyncFiles {
  revision: string;
  files: { file: string; text: string }[];
}

export interface SyncRevision {
  revision: string;
  /** The revision's documents in apply order; ops[i] for i < docs.length is docs[i]'s apply. */
  docs: ManifestDoc[];
  /** The apply operations, then the prune deletes: the one batch. */
  ops: BatchOp[];
  /** What the prune deletes (each also an op after the applies). */
  pruned: InventoryEntry[];
  /** Entries that left the source but stay, each as `Kind ns/name (cause)`. */
  kept: string[];
  /** Set when the prune guard refuses the revision (`force` in planSyncRevision still plans the prune). */
  blocked?: string;
}

export const syncSpecOf = (sync: ResourceObject): SyncSpec => (sync.spec ?? {}) as unknown as SyncSpec;

export const inventoryEntryOf = (o: ResourceObject): InventoryEntry => ({ kind: o.kind, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), name: o.metadata.name, ...(o.metadata.uid ? { uid: o.metadata.uid } : {}) });

/**
 * The revision's documents, apply operations and prune operations. Throws SyncRevisionError:
 * ManifestInvalid (a document is broken or not allowed in a Sync), PruneBlocked (the guard
 * refuses; unless `opts.force`, which plans the prune as a confirmation would and reports the
 * refusal in `blocked` — what a diff shows).
 */
export async function planSyncRevision(store: Pick<ResourceStore, "get">, sync: ResourceObject, fetched: SyncFiles, opts: { force?: boolean } = {}): Promise<SyncRevision> {
  const spec = syncSpecOf(sync);
  const name = sync.metadata.name;
  const docs = readRevision(fetched.files, spec, name);
  const desired = docs.map((d) => inventoryEntryOf(d.object as unknown as ResourceObject));
  const plan = await prunePlan(store, sync, { revision: fetched.revision, desired });
  let blocked: string | undefined;
  let prune = plan;
  if (plan.blocked) {
    if (!opts.force) throw new SyncRevisionError("PruneBlocked", plan.blocked);
    blocked = plan.blocked;
    prune = await prunePlan(store, sync, { revision: fetched.revision, desired, confirmed: fetched.revision });
  }
  const applies = applyOps(docs, name);
  return {
    revision: fetched.revision,
    docs,
    ops: [...applies, ...prune.delete.map((e) => pruneOp(e, name))],
    pruned: prune.delete,
    kept: prune.keep.map((k) => `${k.entry.kind} ${k.entry.namespace ?? ""}/${k.entry.name} (${k.cause})`),
    ...(blocked ? { blocked } : {}),
  };
}

/** The revision's one batch (a dry run with ctx.dryRun); a refusal is ApplyFailed naming file and line. */
export async function writeSyncRevision(store: Pick<ResourceStore, "batch">, rev: SyncRevision, ctx: RequestContext): Promise<WriteResult[]> {
  try {
    return await store.batch(rev.ops, ctx);
  } catch (e) {
    if (!(e instanceof BatchError)) throw e;
    const op = rev.ops[e.index];
    const what = e.index < rev.docs.length ? explain(e.failure, rev.docs, e.index) : `pruning ${op.kind} ${op.namespace ?? ""}/${op.name}: ${(e.failure as Error).message}`;
    throw new SyncRevisionError("ApplyFailed", what);
  }
}

/** The revision's documents, checked as `berth apply` checks them, plus what only a Sync forbids. */
function readRevision(files: { file: string; text: string }[], spec: SyncSpec, name: string): ManifestDoc[] {
  let docs: ManifestDoc[];
  try {
    docs = parseManifestTexts(files);
  } catch (e) {
    if (e instanceof ManifestError) throw new SyncRevisionError("ManifestInvalid", e.message);
    throw e;
  }
  const problems = docs.flatMap((d) => policyProblems(d, spec, name));
  if (problems.length) throw new SyncRevisionError("ManifestInvalid", problems.join("\n"));
  return sortForApply(docs);
}

function policyProblems(d: ManifestDoc, spec: SyncSpec, name: string): string[] {
  const o = d.object as { metadata?: { name?: string; namespace?: string } };
  const at = `${d.file}:${d.line}`;
  if (d.kind.kind === "Sync") return [`${at}: a Sync does not apply Syncs (Sync ${name} would own its own kind)`];
  if (d.kind.namespaced && !o.metadata?.namespace) return [`${d.file}:${d.lineOf("metadata")}: metadata.namespace: required in a Sync's manifests (there is no current namespace)`];
  const project = d.kind.kind === "Project" ? o.metadata?.name : o.metadata?.namespace;
  if (spec.targetProjects && project && !spec.targetProjects.includes(project)) return [`${at}: ${d.kind.kind} ${o.metadata?.name} is in Project ${project}, which spec.targetProjects does not list`];
  return [];
}

/** The prune of `revision`; `confirmed` is the berth.dev/prune-confirm annotation unless given. */
async function prunePlan(store: Pick<ResourceStore, "get">, sync: ResourceObject, at: { revision: string; desired: InventoryEntry[]; confirmed?: string }): Promise<PrunePlan> {
  const { revision, desired } = at;
  const spec = syncSpecOf(sync);
  const confirmed = "confirmed" in at ? at.confirmed : sync.metadata.annotations?.[PRUNE_CONFIRM];
  const inventory = ((sync.status as { inventory?: InventoryEntry[] } | undefined)?.inventory ?? []).filter((e) => e && e.kind && e.name);
  const wanted = new Set(desired.map(entryKey));
  const live = new Map<string, ResourceObject>();
  for (const e of inventory) {
    if (wanted.has(entryKey(e))) continue;
    const o = await store.get(e.kind, e.namespace, e.name);
    if (o && stillOurs(o, e, sync.metadata.name)) live.set(entryKey(e), o);
  }
  return planPrune({ revision, inventory, desired, live, prune: spec.prune !== false, pruneLimit: spec.pruneLimit, confirmed });
}

function applyOps(docs: ManifestDoc[], owner: string): BatchOp[] {
  try {
    return applySetOps(docs.map((d) => d.object as unknown as ResourceObject), { owner, warnings: [] });
  } catch (e) {
    throw new SyncRevisionError("ManifestInvalid", explain(e, docs));
  }
}

/** Only the object this Sync applied: same uid, still labelled with its name, not on its way out. */
function stillOurs(o: ResourceObject, e: InventoryEntry, owner: string): boolean {
  return (!e.uid || o.metadata.uid === e.uid) && o.metadata.labels?.[SYNC_OWNER] === owner && !o.metadata.deletionTimestamp;
}

/** Re-checked under the write lock: only the object that was listed, still this Sync's, not protected. */
export function pruneOp(e: InventoryEntry, owner: string): BatchOp {
  return {
    kind: e.kind,
    namespace: e.namespace,
    name: e.name,
    action: "prune",
    mutate: (cur) => (cur && (!e.uid || cur.metadata.uid === e.uid) && cur.metadata.labels?.[SYNC_OWNER] === owner && cur.metadata.annotations?.[PRUNE_ANNOTATION] !== "disabled" ? "delete" : "skip"),
  };
}

/** An API error about batch item N, as file:line: field: message of the manifest it came from. */
function explain(e: unknown, docs: ManifestDoc[], index?: number): string {
  if (!(e instanceof ApiError)) return (e as Error).message;
  const causes = e.details?.causes ?? [];
  const lines = causes.map((c) => {
    const m = /^items\[(\d+)\]\.?(.*)$/.exec(c.field ?? "");
    const doc = docs[m ? Number(m[1]) : (index ?? -1)];
    const field = m ? m[2] : (c.field ?? "");
    return doc ? `${doc.file}:${doc.lineOf(field)}: ${field ? `${field}: ` : ""}${(c.message ?? e.message).replace(/^items\[\d+\]: /, "")}` : (c.message ?? e.message);
  });
  const doc = index !== undefined ? docs[index] : undefined;
  if (!lines.length && doc) return `${doc.file}:${doc.line}: ${e.message.replace(/^items\[\d+\]: /, "")}`;
  return lines.join("\n") || e.message;
}

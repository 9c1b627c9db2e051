/**
 * A multi-document apply as store operations: `berth apply -f` (POST /berth/v1/apply) and a Sync's
 * revision go through exactly this, so they admit, mark and fail alike. Every item is admitted
 * (Strict field validation) before anything is written; the store's batch then writes them in
 * one transaction. A failure names the item (`items[3].spec.host`) so a caller can point at
 * the file and line it came from.
 */
import { ApiError, badRequest, conflict } from "../core/errors.js";
import { API_VERSION, APPLIED_BY, APPLIED_BY_VALUE, findKind, SYNC_OWNER } from "../core/kinds.js";
import type { ResourceObject } from "../core/types.js";
import { admit, checkIdentity } from "../schema/admission.js";
import type { BatchOp } from "./resources.js";

export interface ApplySetOptions {
  warnings: string[];
  /**
   * The Sync applying the set: every object gets its `berth.dev/sync` label, and an object that
   * exists with another owner or none (made by hand) is a conflict, never adopted. Without it
   * (berth apply) objects get the APPLIED_BY mark `apply --prune` looks for, and an owner label
   * already there is kept: the Sync owns the object still, and puts its own spec back.
   */
  owner?: string;
}

export function applySetOps(items: readonly ResourceObject[], opts: ApplySetOptions): BatchOp[] {
  return items.map((item, index) => applyOp(item, index, opts));
}

function applyOp(item: ResourceObject, index: number, opts: ApplySetOptions): BatchOp {
  const kind = typeof item?.kind === "string" ? findKind(item.kind) : undefined;
  if (!kind || kind.kind !== item.kind) throw withIndex(badRequest(`unknown kind ${JSON.stringify(item?.kind)}`), index);
  let admitted: ResourceObject;
  try {
    admitted = admit(kind, checkIdentity({ kind, namespace: item.metadata?.namespace, name: item.metadata?.name }, item), "Strict", opts.warnings);
  } catch (e) {
    throw withIndex(e, index);
  }
  const op: BatchOp = {
    kind: kind.kind,
    namespace: admitted.metadata.namespace,
    name: admitted.metadata.name,
    action: "apply",
    mutate: (current) => {
      if (current && opts.owner) checkOwner(opts.owner, current, kind.plural);
      const marks = markOf(opts.owner);
      const labels = { ...(admitted.metadata.labels ?? {}), ...marks.labels, ...keptOwner(current, opts.owner) };
      const annotations = { ...(admitted.metadata.annotations ?? {}), ...marks.annotations };
      if (!current) {
        op.action = "create";
        return { apiVersion: API_VERSION, kind: kind.kind, metadata: { name: admitted.metadata.name, namespace: admitted.metadata.namespace, labels, annotations }, spec: admitted.spec ?? {}, status: {} };
      }
      return { ...current, metadata: { ...current.metadata, labels, annotations: mergeAnnotations(current.metadata.annotations, annotations) }, spec: admitted.spec ?? {} };
    },
  };
  return op;
}

function markOf(owner: string | undefined): { labels: Record<string, string>; annotations: Record<string, string> } {
  return owner ? { labels: { [SYNC_OWNER]: owner }, annotations: {} } : { labels: {}, annotations: { [APPLIED_BY]: APPLIED_BY_VALUE } };
}

/** berth apply over an object a Sync owns keeps the owner label (the Sync reverts the change later). */
function keptOwner(current: ResourceObject | undefined, owner: string | undefined): Record<string, string> {
  const was = current?.metadata.labels?.[SYNC_OWNER];
  return !owner && was ? { [SYNC_OWNER]: was } : {};
}

/** Why `sync` may not apply over `live`, or undefined if it may (it owns it, or nothing is there). */
export function ownershipConflict(sync: string, live: ResourceObject | undefined): string | undefined {
  if (!live) return undefined;
  const owner = live.metadata.labels?.[SYNC_OWNER];
  if (owner === sync) return undefined;
  const id = `${live.kind} ${live.metadata.namespace ? `${live.metadata.namespace}/` : ""}${live.metadata.name}`;
  // Adopting a hand-made object would let a later prune delete something nobody gave us.
  return owner ? `${id} is owned by Sync ${owner}` : `${id} exists and is not owned by a Sync (created by hand)`;
}

/** Checked under the write lock: the object as it is when the batch writes it. */
function checkOwner(owner: string, current: ResourceObject, plural: string): void {
  const why = ownershipConflict(owner, current);
  if (why) throw conflict(plural, current.metadata.name, why);
}

/** Annotations Berth itself sets (e.g. reconcile-requested-at) survive an apply that lacks them. */
function mergeAnnotations(current: Record<string, string> | undefined, applied: Record<string, string> | undefined): Record<string, string> {
  const kept = Object.fromEntries(Object.entries(current ?? {}).filter(([k]) => k.startsWith("berth.dev/")));
  return { ...kept, ...(applied ?? {}) };
}

/** Prefixes the failing item's index to every cause field, so errors point into the batch. */
export function withIndex(e: unknown, index: number): unknown {
  if (!(e instanceof ApiError)) return e;
  const causes = e.details?.causes?.map((c) => ({ ...c, field: `items[${index}].${c.field}` })) ?? [{ field: `items[${index}]`, message: e.message, reason: "FieldValueInvalid" as const }];
  return new ApiError(e.code, e.reason, `items[${index}]: ${e.message}`, { ...(e.details ?? {}), causes });
}

import { isDeepStrictEqual } from "node:util";
import type { ResourceObject } from "../core/types.js";
import { ApiError } from "../core/errors.js";
import { API_VERSION, type KindInfo } from "../core/kinds.js";

/**
 * Server-side apply, simplified: each Apply manager owns the leaf fields it applied last time
 * (lists are atomic leaves). An apply sets its leaves, removes the leaves it owned before and no
 * longer applies, and conflicts with another Apply manager that owns a leaf with a different value
 * unless forced, which moves ownership. Encoded as FieldsV1 in metadata.managedFields.
 */
type Path = string[];

interface ManagedEntry {
  manager: string;
  operation: string;
  apiVersion: string;
  time: string;
  fieldsType: "FieldsV1";
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function leaves(value: unknown, prefix: Path = []): Path[] {
  if (!isObject(value) || Object.keys(value).length === 0) return prefix.length ? [prefix] : [];
  return Object.entries(value).flatMap(([k, v]) => leaves(v, [...prefix, k]));
}

/**
 * The leaves an apply sets. An absent or empty spec (kubectl's annotation-only apply as
 * "kubectl-last-applied") owns nothing in it, rather than owning `spec` itself.
 */
function appliedLeaves(obj: ResourceObject, status: boolean): Path[] {
  if (status) return leaves(obj.status ?? {}, ["status"]).filter((p) => p.length > 1);
  return [
    ...leaves(obj.metadata.labels ?? {}, ["metadata", "labels"]).filter((p) => p.length > 2),
    ...leaves(obj.metadata.annotations ?? {}, ["metadata", "annotations"]).filter((p) => p.length > 2),
    ...leaves(obj.spec ?? {}, ["spec"]).filter((p) => p.length > 1),
  ];
}

function toFieldsV1(paths: Path[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of paths) {
    let node = root;
    for (const seg of p) node = (node[`f:${seg}`] ??= {}) as Record<string, unknown>;
  }
  return root;
}

function fromFieldsV1(fields: Record<string, unknown>, prefix: Path = []): Path[] {
  const keys = Object.keys(fields).filter((k) => k.startsWith("f:"));
  if (keys.length === 0) return prefix.length ? [prefix] : [];
  return keys.flatMap((k) => fromFieldsV1((fields[k] ?? {}) as Record<string, unknown>, [...prefix, k.slice(2)]));
}

function getPath(obj: unknown, p: Path): unknown {
  let cur = obj;
  for (const seg of p) cur = isObject(cur) ? cur[seg] : undefined;
  return cur;
}

function setPath(obj: Record<string, unknown>, p: Path, value: unknown): void {
  let cur = obj;
  for (const seg of p.slice(0, -1)) {
    if (!isObject(cur[seg])) cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  }
  cur[p[p.length - 1]] = structuredClone(value);
}

function deletePath(obj: Record<string, unknown>, p: Path): void {
  const parents: Record<string, unknown>[] = [];
  let cur: unknown = obj;
  for (const seg of p.slice(0, -1)) {
    if (!isObject(cur)) return;
    parents.push(cur);
    cur = cur[seg];
  }
  if (!isObject(cur)) return;
  delete cur[p[p.length - 1]];
  // Empty parent maps left behind by a removed leaf go too.
  for (let i = p.length - 2; i >= 1; i--) {
    const parent = parents[i];
    const child = parent[p[i]];
    if (isObject(child) && Object.keys(child).length === 0) delete parent[p[i]];
    else break;
  }
}

const key = (p: Path): string => p.join("\u0000");

export interface ApplyOptions {
  manager: string;
  force: boolean;
  kind: KindInfo;
  /** Applied to the status subresource. */
  status: boolean;
}

/** The object an apply starts from: the stored one, or an empty one of the kind. */
function startingPoint(current: ResourceObject | undefined, applied: ResourceObject, kind: KindInfo): ResourceObject {
  if (current) return structuredClone(current);
  return { apiVersion: API_VERSION, kind: kind.kind, metadata: { name: applied.metadata.name, namespace: applied.metadata.namespace }, spec: {}, status: {} };
}

/**
 * Other Apply managers lose the fields this apply sets differently (with force), or the apply
 * fails with their names (without). Shared ownership: an equal value keeps both owners.
 */
function takeOwnership(others: ManagedEntry[], newKeys: Set<string>, values: { base: ResourceObject; applied: ResourceObject }, force: boolean): string[] {
  const conflicts: string[] = [];
  for (const other of others) {
    const kept = fromFieldsV1(other.fieldsV1).filter((p) => {
      if (!newKeys.has(key(p)) || isDeepStrictEqual(getPath(values.base, p), getPath(values.applied, p))) return true;
      if (!force) conflicts.push(`conflict with "${other.manager}" using ${other.apiVersion}: .${p.join(".")}`);
      return false;
    });
    other.fieldsV1 = toFieldsV1(kept);
  }
  return conflicts;
}

function conflictError(conflicts: string[], applied: ResourceObject, kind: KindInfo): ApiError {
  return new ApiError(409, "Conflict", `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? "s" : ""}: ${conflicts.join("\n")}`, {
    name: applied.metadata.name,
    group: "berth.dev",
    kind: kind.plural,
    causes: conflicts.map((c) => ({ reason: "FieldManagerConflict" as never, message: c, field: c.split(": ")[1] })),
  });
}

/** Fields this manager applied last time and no longer does go, unless another manager owns them; then the applied ones are set. */
function merge(target: Record<string, unknown>, previous: Path[], applied: { leaves: Path[]; keys: Set<string>; object: ResourceObject }, ownedByOthers: Set<string>): void {
  for (const p of previous) if (!applied.keys.has(key(p)) && !ownedByOthers.has(key(p))) deletePath(target, p);
  for (const p of applied.leaves) {
    const value = getPath(applied.object, p);
    // An applied empty map claims the field without wiping what others put in it.
    if (isObject(value) && Object.keys(value).length === 0 && isObject(getPath(target, p))) continue;
    setPath(target, p, value);
  }
}

export function serverSideApply(current: ResourceObject | undefined, applied: ResourceObject, opts: ApplyOptions): ResourceObject {
  const { manager, kind } = opts;
  const base = startingPoint(current, applied, kind);
  const entries = ((base.metadata.managedFields ?? []) as ManagedEntry[]).filter((e) => e.fieldsType === "FieldsV1");
  const subresource = opts.status ? "status" : undefined;
  const mine = entries.find((e) => e.manager === manager && e.operation === "Apply" && e.subresource === subresource);
  const others = entries.filter((e) => e !== mine && e.operation === "Apply");
  const leaves = appliedLeaves(applied, opts.status);
  const keys = new Set(leaves.map(key));
  const conflicts = takeOwnership(others, keys, { base, applied }, opts.force);
  if (conflicts.length) throw conflictError(conflicts, applied, kind);
  const ownedByOthers = new Set(others.flatMap((o) => fromFieldsV1(o.fieldsV1)).map(key));
  merge(base as unknown as Record<string, unknown>, mine ? fromFieldsV1(mine.fieldsV1) : [], { leaves, keys, object: applied }, ownedByOthers);
  const entry: ManagedEntry = { manager, operation: "Apply", apiVersion: API_VERSION, time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"), fieldsType: "FieldsV1", fieldsV1: toFieldsV1(leaves), ...(subresource ? { subresource } : {}) };
  const same = mine && isDeepStrictEqual(mine.fieldsV1, entry.fieldsV1);
  base.metadata.managedFields = [...entries.filter((e) => e !== mine && Object.keys(e.fieldsV1).length > 0), same ? mine : entry];
  if (applied.metadata.resourceVersion) base.metadata.resourceVersion = applied.metadata.resourceVersion;
  return base;
}

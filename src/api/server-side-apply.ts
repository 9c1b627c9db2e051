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

export function serverSideApply(current: ResourceObject | undefined, applied: ResourceObject, manager: string, force: boolean, kind: KindInfo, status: boolean): ResourceObject {
  const base: ResourceObject = current
    ? structuredClone(current)
    : { apiVersion: API_VERSION, kind: kind.kind, metadata: { name: applied.metadata.name, namespace: applied.metadata.namespace }, spec: {}, status: {} };
  const entries = ((base.metadata.managedFields ?? []) as ManagedEntry[]).filter((e) => e.fieldsType === "FieldsV1");
  const subresource = status ? "status" : undefined;
  const mine = entries.find((e) => e.manager === manager && e.operation === "Apply" && e.subresource === subresource);
  const others = entries.filter((e) => e !== mine && e.operation === "Apply");
  const newLeaves = appliedLeaves(applied, status);
  const newKeys = new Set(newLeaves.map(key));
  const conflicts: string[] = [];
  for (const other of others) {
    const owned = fromFieldsV1(other.fieldsV1);
    const kept = owned.filter((p) => {
      if (!newKeys.has(key(p))) return true;
      if (isDeepStrictEqual(getPath(base, p), getPath(applied, p))) return true; // shared ownership
      if (!force) conflicts.push(`conflict with "${other.manager}" using ${other.apiVersion}: .${p.join(".")}`);
      return false;
    });
    other.fieldsV1 = toFieldsV1(kept);
  }
  if (conflicts.length) {
    throw new ApiError(409, "Conflict", `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? "s" : ""}: ${conflicts.join("\n")}`, {
      name: applied.metadata.name,
      group: "berth.dev",
      kind: kind.plural,
      causes: conflicts.map((c) => ({ reason: "FieldManagerConflict" as never, message: c, field: c.split(": ")[1] })),
    });
  }
  const ownedByOthers = new Set(others.flatMap((o) => fromFieldsV1(o.fieldsV1)).map(key));
  const target = base as unknown as Record<string, unknown>;
  for (const p of mine ? fromFieldsV1(mine.fieldsV1) : []) {
    if (!newKeys.has(key(p)) && !ownedByOthers.has(key(p))) deletePath(target, p);
  }
  for (const p of newLeaves) {
    const value = getPath(applied, p);
    // An applied empty map claims the field without wiping what others put in it.
    if (isObject(value) && Object.keys(value).length === 0 && isObject(getPath(target, p))) continue;
    setPath(target, p, value);
  }
  const entry: ManagedEntry = { manager, operation: "Apply", apiVersion: API_VERSION, time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"), fieldsType: "FieldsV1", fieldsV1: toFieldsV1(newLeaves), ...(subresource ? { subresource } : {}) };
  const unchanged = mine && isDeepStrictEqual(mine.fieldsV1, entry.fieldsV1);
  const nextEntries = [...entries.filter((e) => e !== mine && Object.keys(e.fieldsV1).length > 0), unchanged ? mine : entry];
  base.metadata.managedFields = nextEntries;
  if (applied.metadata.resourceVersion) base.metadata.resourceVersion = applied.metadata.resourceVersion;
  return base;
}

import { isDeepStrictEqual } from "node:util";
import type { QueryRunner } from "typeorm";
import { alreadyExists, invalid } from "../core/errors.js";
import { API_VERSION, type KindInfo } from "../core/kinds.js";
import type { ResourceObject, WatchEventType } from "../core/types.js";
import { iso } from "./sql.js";

/** A row of one of the four kinds' tables, as `SELECT t.*, <project name> AS ns` returns it. */
export interface Row {
  id: string;
  name: string;
  ns: string | null;
  project_id?: string;
  resource_version: string;
  generation: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  finalizers: string[];
  managed_fields: unknown[];
  deletion_timestamp: Date | string | null;
  created_at: Date | string;
  spec: Record<string, unknown>;
  object_status: Record<string, unknown>;
}

export interface ChangeRow {
  rv: string;
  kind: string;
  namespace: string | null;
  name: string;
  uid: string;
  event_type: WatchEventType;
  object: ResourceObject;
  status_only: boolean;
  prev_labels: Record<string, string> | null;
}

const nonEmpty = (o: Record<string, unknown> | undefined): boolean => Object.keys(o ?? {}).length > 0;

/** A row's timestamp: already printed by objectSelectSql, or a Date from `SELECT *`. */
function asIso(t: Date | string): string {
  return typeof t === "string" ? t : iso(t);
}

function metadataOf(kind: KindInfo, row: Row): ResourceObject["metadata"] {
  const m: ResourceObject["metadata"] = { name: row.name };
  if (kind.namespaced && row.ns) m.namespace = row.ns;
  m.uid = row.id;
  m.resourceVersion = String(row.resource_version);
  m.generation = Number(row.generation);
  m.creationTimestamp = asIso(row.created_at);
  if (row.deletion_timestamp) m.deletionTimestamp = asIso(row.deletion_timestamp);
  if (nonEmpty(row.labels)) m.labels = row.labels;
  if (nonEmpty(row.annotations)) m.annotations = row.annotations;
  if (row.finalizers?.length) m.finalizers = row.finalizers;
  if (row.managed_fields?.length) m.managedFields = row.managed_fields;
  return m;
}

export function toObject(kind: KindInfo, row: Row): ResourceObject {
  return { apiVersion: API_VERSION, kind: kind.kind, metadata: metadataOf(kind, row), spec: row.spec ?? {}, status: row.object_status ?? {} };
}

/** Timestamps as Kubernetes prints them, made by Postgres: no Date built and printed per row. */
const isoSql = (col: string): string => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;

/**
 * Only what an object is made of, for reads of many rows (lists, watches' initial lists): the
 * seed's own columns (source_config, docker_config, env_vars, updated_at …) were parsed for
 * every row and thrown away — the pg client's row parsing was the largest share of the event
 * loop's long stretches in the soak (issue 21).
 */
export function objectSelectSql(kind: KindInfo): string {
  const cols = `t.id, t.name, t.resource_version, t.generation, t.labels, t.annotations, t.finalizers, t.managed_fields, ${isoSql("t.deletion_timestamp")} AS deletion_timestamp, ${isoSql("t.created_at")} AS created_at, t.spec, t.object_status`;
  return kind.namespaced ? `SELECT ${cols}, p.name AS ns FROM ${kind.table} t JOIN projects p ON p.id = t.project_id` : `SELECT ${cols}, NULL AS ns FROM ${kind.table} t`;
}

export function selectSql(kind: KindInfo): string {
  return kind.namespaced ? `SELECT t.*, p.name AS ns FROM ${kind.table} t JOIN projects p ON p.id = t.project_id` : `SELECT t.*, NULL AS ns FROM ${kind.table} t`;
}

/** What RETURNING adds so a written row reads like a selected one. */
export function returningSql(kind: KindInfo): string {
  return `RETURNING *, ${kind.namespaced ? `(SELECT name FROM projects WHERE id = project_id)` : "NULL"} AS ns`;
}

type MetaKey = "labels" | "annotations" | "finalizers" | "managedFields";
const META_DEFAULTS: Record<MetaKey, unknown> = { labels: {}, annotations: {}, finalizers: [], managedFields: [] };

function sameMeta(a: ResourceObject, b: ResourceObject, keys: MetaKey[]): boolean {
  return keys.every((k) => isDeepStrictEqual(a.metadata[k] ?? META_DEFAULTS[k], b.metadata[k] ?? META_DEFAULTS[k]));
}

/** Whether a write changed nothing but `.status` (controllers do not wake themselves for those). */
export function statusOnly(before: ResourceObject | undefined, after: ResourceObject, type: WatchEventType): boolean {
  if (type !== "MODIFIED" || !before) return false;
  if (!isDeepStrictEqual(before.spec ?? {}, after.spec ?? {})) return false;
  return sameMeta(before, after, ["labels", "annotations", "finalizers"]) && (before.metadata.deletionTimestamp ?? null) === (after.metadata.deletionTimestamp ?? null);
}

/** Nothing a client can see would change: a no-op write (no new resourceVersion, no event). */
export function unchanged(stored: ResourceObject, next: ResourceObject): boolean {
  return isDeepStrictEqual(stored.spec ?? {}, next.spec ?? {}) && isDeepStrictEqual(stored.status ?? {}, next.status ?? {}) && sameMeta(stored, next, ["labels", "annotations", "finalizers", "managedFields"]);
}

/** The object columns of a row (metadata, spec and status as jsonb text). */
export function objectColumns(obj: ResourceObject): Record<string, unknown> {
  return {
    labels: JSON.stringify(obj.metadata.labels ?? {}),
    annotations: JSON.stringify(obj.metadata.annotations ?? {}),
    finalizers: JSON.stringify(obj.metadata.finalizers ?? []),
    managed_fields: JSON.stringify(obj.metadata.managedFields ?? []),
    spec: JSON.stringify(obj.spec ?? {}),
    object_status: JSON.stringify(obj.status ?? {}),
  };
}

export async function nextRv(qr: QueryRunner): Promise<number> {
  const rows = await qr.query(`SELECT nextval('berth_resource_version') AS rv`);
  return Number(rows[0].rv);
}

export async function currentRv(qr: Pick<QueryRunner, "query">): Promise<number> {
  const rows = await qr.query(`SELECT coalesce(max(rv), 0) AS rv FROM resource_changes`);
  return Number(rows[0].rv);
}

/** The seed's env_vars rows mirror spec.env and spec.secretEnv (values of secrets stay ciphertext). */
export async function syncEnvVars(qr: QueryRunner, appId: string, spec: Record<string, unknown> | undefined): Promise<void> {
  await qr.query(`DELETE FROM env_vars WHERE application_id = $1`, [appId]);
  const env = (spec?.env ?? {}) as Record<string, string>;
  const secret = (spec?.secretEnv ?? {}) as Record<string, string>;
  const rows = [...Object.entries(env).map(([k, v]) => [k, v, false]), ...Object.entries(secret).map(([k, v]) => [k, v, true])];
  for (const [key, value, isSecret] of rows) {
    await qr.query(`INSERT INTO env_vars (application_id, key, value, is_secret) VALUES ($1, $2, $3, $4)`, [appId, key, value, isSecret]);
  }
}

/** Database constraint violations become API errors that name the field. */
export function translateDbError(e: unknown, kind: KindInfo, name: string): unknown {
  const driver = (e as { driverError?: { code?: string; constraint?: string; detail?: string } }).driverError ?? {};
  const code = driver.code ?? (e as { code?: string }).code;
  const constraint = driver.constraint ?? "";
  if (code === "23505") return duplicate(kind, name, constraint, driver.detail);
  if (code === "23514" || code === "23502") return invalid(kind.kind, name, [{ field: "spec", message: `rejected by store constraint ${constraint}`, reason: "FieldValueInvalid" }]);
  return e;
}

function duplicate(kind: KindInfo, name: string, constraint: string, detail: string | undefined): unknown {
  if (kind.kind !== "Domain" || !/domain/.test(constraint)) return alreadyExists(kind.plural, name);
  return invalid(kind.kind, name, [{ field: "spec.host", message: `Duplicate value: another Domain already routes this host (${detail ?? constraint})`, reason: "FieldValueDuplicate" }]);
}

import { isDeepStrictEqual } from "node:util";
import type { DataSource, QueryRunner } from "typeorm";
import { statusForNewGeneration } from "../core/conditions.js";
import { API_VERSION, kindInfo, type KindInfo } from "../core/kinds.js";
import { alreadyExists, ApiError, conflict, forbidden, invalid, namespaceNotFound, notFound } from "../core/errors.js";
import type { SecretBox } from "../store/secrets.js";
import { ASYNC_COMMIT_SQL } from "./durability.js";
import { redactObject, sealedView, sealObject } from "./secrets.js";
import { AuditLog } from "./audit.js";
import type { AuditResourceType } from "./entities/audit-log.js";
import { seedColumns } from "./seed-columns.js";
import { rollbackQuietly } from "./sql.js";
import type { Change, RequestContext, ResourceObject, WatchEventType } from "../core/types.js";

/** Every write takes this transaction-scoped advisory lock so resource versions commit in order. */
const WRITE_LOCK = 0x6265727468; // "berth"
export const CHANGES_CHANNEL = "berth_changes";

interface Row {
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
  deletion_timestamp: Date | null;
  created_at: Date;
  spec: Record<string, unknown>;
  object_status: Record<string, unknown>;
}

interface ChangeRow {
  rv: string;
  kind: string;
  namespace: string | null;
  name: string;
  uid: string;
  event_type: WatchEventType;
  object: ResourceObject;
  status_only: boolean;
}

/** What afterWrite records: the change log row, the env_vars mirror, the audit row, the NOTIFY. */
interface Written {
  kind: KindInfo;
  uid: string;
  obj: ResourceObject;
  rv: number;
  type: WatchEventType;
  ctx: RequestContext;
  action: string;
  before: ResourceObject | undefined;
}

/** Whether a write changed nothing but `.status` (controllers do not wake themselves for those). */
function statusOnly(before: ResourceObject | undefined, after: ResourceObject, type: WatchEventType): boolean {
  if (type !== "MODIFIED" || !before) return false;
  const b = before.metadata;
  const a = after.metadata;
  return (
    isDeepStrictEqual(before.spec ?? {}, after.spec ?? {}) &&
    isDeepStrictEqual(b.labels ?? {}, a.labels ?? {}) &&
    isDeepStrictEqual(b.annotations ?? {}, a.annotations ?? {}) &&
    isDeepStrictEqual(b.finalizers ?? [], a.finalizers ?? []) &&
    (b.deletionTimestamp ?? null) === (a.deletionTimestamp ?? null)
  );
}

export interface ObjectKeyRef {
  kind: string;
  namespace: string | undefined;
  name: string;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: (labels: Record<string, string>) => boolean;
  name?: string;
}

export interface WriteResult {
  object: ResourceObject;
  /** false when the write was a no-op: nothing stored, no new resource version. */
  changed: boolean;
}

/** One write of a batch. */
export interface BatchOp {
  kind: string;
  namespace: string | undefined;
  name: string;
  action: string;
  mutate: Mutation;
}

/** A failed batch: which operation failed and why; nothing of the batch was stored. */
export class BatchError extends Error {
  constructor(
    readonly index: number,
    readonly failure: unknown,
  ) {
    super(`operation ${index} failed: ${(failure as Error)?.message ?? String(failure)}`);
  }
}

/** What a writer wants done with the current object, decided inside the write lock. */
/** What to store: the next object, "delete", or "skip" (leave it as it is, or absent). */
export type Mutation = (current: ResourceObject | undefined) => ResourceObject | "delete" | "skip";

function toObject(kind: KindInfo, row: Row): ResourceObject {
  const metadata: ResourceObject["metadata"] = {
    name: row.name,
    ...(kind.namespaced && row.ns ? { namespace: row.ns } : {}),
    uid: row.id,
    resourceVersion: String(row.resource_version),
    generation: Number(row.generation),
    creationTimestamp: row.created_at.toISOString().replace(/\.\d{3}Z$/, "Z"),
    ...(row.deletion_timestamp ? { deletionTimestamp: row.deletion_timestamp.toISOString().replace(/\.\d{3}Z$/, "Z") } : {}),
    ...(Object.keys(row.labels ?? {}).length ? { labels: row.labels } : {}),
    ...(Object.keys(row.annotations ?? {}).length ? { annotations: row.annotations } : {}),
    ...(row.finalizers?.length ? { finalizers: row.finalizers } : {}),
    ...(row.managed_fields?.length ? { managedFields: row.managed_fields } : {}),
  };
  return { apiVersion: API_VERSION, kind: kind.kind, metadata, spec: row.spec ?? {}, status: row.object_status ?? {} };
}

function selectSql(kind: KindInfo): string {
  return kind.namespaced
    ? `SELECT t.*, p.name AS ns FROM ${kind.table} t JOIN projects p ON p.id = t.project_id`
    : `SELECT t.*, NULL AS ns FROM ${kind.table} t`;
}

/**
 * The desired-state store: Kubernetes-shaped objects kept in the seed's tables, a change log
 * keyed by a global resource version, and NOTIFY after commit so watchers wake up.
 * Reads return secret values as sealed strings, writes store them encrypted (secrets.ts, ADR 0006);
 * only the runtime asks for plaintext.
 */
export class ResourceStore {
  private readonly audit: AuditLog;

  constructor(
    private readonly ds: DataSource,
    private readonly box: SecretBox,
    private readonly adminUserId: () => string | undefined = () => undefined,
  ) {
    this.audit = new AuditLog(ds, adminUserId);
  }

  /** The stored form: secrets as ciphertext. For controllers, which need to decrypt. */
  async getStored(kindName: string, namespace: string | undefined, name: string): Promise<ResourceObject | undefined> {
    const kind = kindInfo(kindName);
    const rows: Row[] = await this.ds.query(`${selectSql(kind)} WHERE t.name = $1 ${kind.namespaced ? "AND p.name = $2" : ""}`, kind.namespaced ? [name, namespace] : [name]);
    return rows[0] ? toObject(kind, rows[0]) : undefined;
  }

  async get(kindName: string, namespace: string | undefined, name: string): Promise<ResourceObject | undefined> {
    const o = await this.getStored(kindName, namespace, name);
    return o ? sealedView(this.box, o) : undefined;
  }

  async projectExists(name: string): Promise<boolean> {
    const rows = await this.ds.query(`SELECT 1 FROM projects WHERE name = $1`, [name]);
    return rows.length > 0;
  }

  /** Which of `uids` still name an object of `kindName` (the orphan sweep asks). */
  async existingUids(kindName: string, uids: string[]): Promise<Set<string>> {
    const valid = uids.filter((u) => /^[0-9a-f-]{36}$/.test(u));
    if (!valid.length) return new Set();
    const rows: { id: string }[] = await this.ds.query(`SELECT id FROM ${kindInfo(kindName).table} WHERE id = ANY($1::uuid[])`, [valid]);
    return new Set(rows.map((r) => r.id));
  }

  /** Namespace and name of the object with this uid. */
  async keyOfUid(kindName: string, uid: string): Promise<{ namespace: string | undefined; name: string } | undefined> {
    const kind = kindInfo(kindName);
    const rows: Row[] = await this.ds.query(`${selectSql(kind)} WHERE t.id = $1`, [uid]);
    return rows[0] ? { namespace: rows[0].ns ?? undefined, name: rows[0].name } : undefined;
  }

  /** Names of the Domains in `namespace` that route to Application `app`. */
  async domainsTargeting(namespace: string, app: string): Promise<string[]> {
    const rows: { name: string }[] = await this.ds.query(`SELECT d.name FROM domains d JOIN projects p ON p.id = d.project_id WHERE p.name = $1 AND d.target_name = $2 ORDER BY d.name`, [namespace, app]);
    return rows.map((r) => r.name);
  }

  /** Keys of the objects (of `kinds`) whose Ready condition has one of `reasons`. */
  async keysWithReadyReason(kinds: readonly string[], reasons: string[]): Promise<ObjectKeyRef[]> {
    const out: ObjectKeyRef[] = [];
    for (const kindName of kinds) {
      const kind = kindInfo(kindName);
      const rows: Row[] = await this.ds.query(
        `${selectSql(kind)} WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(t.object_status->'conditions') = 'array' THEN t.object_status->'conditions' ELSE '[]'::jsonb END) c
           WHERE c->>'type' = 'Ready' AND c->>'reason' = ANY($1))`,
        [reasons],
      );
      for (const r of rows) out.push({ kind: kind.kind, namespace: kind.namespaced ? (r.ns ?? undefined) : undefined, name: r.name });
    }
    return out;
  }

  /** Names of the Applications in `namespace` that depend on `kind`/`name` (spec.dependsOn or envFrom). */
  async applicationsDependingOn(namespace: string, kind: string, name: string): Promise<string[]> {
    const rows: { name: string }[] = await this.ds.query(
      `SELECT a.name FROM applications a JOIN projects p ON p.id = a.project_id WHERE p.name = $1
         AND (a.spec->'dependsOn' @> $2::jsonb OR ($3 = 'Database' AND a.spec->'envFrom' @> $4::jsonb)) ORDER BY a.name`,
      [namespace, JSON.stringify([{ kind, name }]), kind, JSON.stringify([{ databaseRef: name }])],
    );
    return rows.map((r) => r.name);
  }

  /** A consistent list and the resource version it was read at (one snapshot). */
  async list(kindName: string, opts: ListOptions = {}, stored = false): Promise<{ items: ResourceObject[]; resourceVersion: string }> {
    const kind = kindInfo(kindName);
    const qr = this.ds.createQueryRunner();
    try {
      await qr.connect();
      await qr.startTransaction("REPEATABLE READ");
      const rv = await currentRv(qr);
      const where: string[] = [];
      const params: unknown[] = [];
      if (kind.namespaced && opts.namespace) {
        params.push(opts.namespace);
        where.push(`p.name = $${params.length}`);
      }
      if (opts.name) {
        params.push(opts.name);
        where.push(`t.name = $${params.length}`);
      }
      const sql = `${selectSql(kind)} ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY ${kind.namespaced ? "p.name, " : ""}t.name`;
      const rows: Row[] = await qr.query(sql, params);
      await qr.commitTransaction();
      const items = rows
        .map((r) => toObject(kind, r))
        .filter((o) => !opts.labelSelector || opts.labelSelector(o.metadata.labels ?? {}))
        .map((o) => (stored ? o : sealedView(this.box, o)));
      return { items, resourceVersion: String(rv) };
    } catch (e) {
      await rollbackQuietly(qr);
      throw e;
    } finally {
      await qr.release();
    }
  }

  async currentResourceVersion(): Promise<number> {
    const rows = await this.ds.query(`SELECT coalesce(max(rv), 0) AS rv FROM resource_changes`);
    return Number(rows[0].rv);
  }

  /** Changes after `rv` in commit order; 410 Expired when compaction already dropped some of them. */
  async changesSince(rv: number, limit = 1000): Promise<Change[]> {
    const min = await this.ds.query(`SELECT min(rv) AS rv FROM resource_changes`);
    const oldest = min[0].rv === null ? null : Number(min[0].rv);
    if (oldest !== null && rv < oldest - 1) throw new ApiError(410, "Expired", `too old resource version: ${rv} (${oldest - 1})`);
    const rows: ChangeRow[] = await this.ds.query(`SELECT rv, kind, namespace, name, uid, event_type, object, status_only FROM resource_changes WHERE rv > $1 ORDER BY rv LIMIT $2`, [rv, limit]);
    return rows.map((r) => ({ rv: Number(r.rv), type: r.event_type, kind: r.kind, namespace: r.namespace, name: r.name, uid: r.uid, object: sealedView(this.box, r.object), statusOnly: r.status_only }));
  }

  /** Drops change-log rows older than `keepSeconds`, always keeping the newest one. */
  async compact(keepSeconds: number): Promise<number> {
    const res = await this.ds.query(
      `DELETE FROM resource_changes WHERE created_at < now() - make_interval(secs => $1) AND rv < (SELECT max(rv) FROM resource_changes)`,
      [keepSeconds],
    );
    return Array.isArray(res) ? Number(res[1] ?? 0) : 0;
  }

  async create(obj: ResourceObject, ctx: RequestContext): Promise<WriteResult> {
    const kind = kindInfo(obj.kind);
    return this.write(kind, obj.metadata.namespace, obj.metadata.name, ctx, "create", (current) => {
      if (current) throw alreadyExists(kind.plural, obj.metadata.name);
      return obj;
    });
  }

  /**
   * Read-modify-write of one object under the write lock. `mutate` sees the current object
   * (secrets as sealed strings) and returns the next one; a stale metadata.resourceVersion in it is a 409.
   */
  async update(kindName: string, namespace: string | undefined, name: string, ctx: RequestContext, action: string, mutate: Mutation): Promise<WriteResult> {
    const kind = kindInfo(kindName);
    return this.write(kind, namespace, name, ctx, action, (current) => {
      if (!current) throw notFound(kind.plural, name);
      return mutate(current);
    });
  }

  /** Create-or-update (server-side apply and upserts); `mutate` sees undefined when absent. */
  async upsert(kindName: string, namespace: string | undefined, name: string, ctx: RequestContext, action: string, mutate: Mutation): Promise<WriteResult> {
    return this.write(kindInfo(kindName), namespace, name, ctx, action, mutate);
  }

  async delete(kindName: string, namespace: string | undefined, name: string, ctx: RequestContext, pre: { uid?: string; resourceVersion?: string } = {}): Promise<WriteResult> {
    const kind = kindInfo(kindName);
    return this.write(kind, namespace, name, ctx, "delete", (current) => {
      if (!current) throw notFound(kind.plural, name);
      if (pre.uid && pre.uid !== current.metadata.uid) throw conflict(kind.plural, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`);
      if (pre.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) throw conflict(kind.plural, name);
      return "delete";
    });
  }

  private async write(kind: KindInfo, namespace: string | undefined, name: string, ctx: RequestContext, action: string, decide: Mutation): Promise<WriteResult> {
    const [result] = await this.transaction(ctx, (qr) => this.writeIn(qr, kind, namespace, name, ctx, action, decide).then((r) => [r]));
    return result;
  }

  /**
   * Several writes in one transaction: all are stored or none is (a multi-document apply).
   * An error names the index of the operation that failed.
   */
  async batch(ops: BatchOp[], ctx: RequestContext): Promise<WriteResult[]> {
    return this.transaction(ctx, async (qr) => {
      const results: WriteResult[] = [];
      for (const [index, op] of ops.entries()) {
        try {
          results.push(await this.writeIn(qr, kindInfo(op.kind), op.namespace, op.name, ctx, op.action, op.mutate));
        } catch (e) {
          throw new BatchError(index, translateDbError(e, kindInfo(op.kind), op.name));
        }
      }
      return results;
    });
  }

  private async transaction(ctx: RequestContext, body: (qr: QueryRunner) => Promise<WriteResult[]>): Promise<WriteResult[]> {
    const qr = this.ds.createQueryRunner();
    await qr.connect();
    try {
      await qr.startTransaction();
      // Controllers' writes (status, finalizers) are derived from the runtime again on the next
      // reconcile; they need not wait for a WAL flush (ADR 0005). Users' writes always do.
      if (ctx.user.startsWith("system:")) await qr.query(ASYNC_COMMIT_SQL);
      await qr.query(`SELECT pg_advisory_xact_lock($1)`, [WRITE_LOCK]);
      const results = await body(qr);
      if (ctx.dryRun || !results.some((r) => r.changed)) await qr.rollbackTransaction();
      else await qr.commitTransaction();
      return results.map((r) => ({ object: sealedView(this.box, r.object), changed: r.changed }));
    } catch (e) {
      await rollbackQuietly(qr);
      throw e;
    } finally {
      await qr.release();
    }
  }

  private async writeIn(qr: QueryRunner, kind: KindInfo, namespace: string | undefined, name: string, ctx: RequestContext, action: string, decide: Mutation): Promise<WriteResult> {
    try {
      const projectId = kind.namespaced ? await this.lockNamespace(qr, namespace, name, kind) : undefined;
      const rows: Row[] = await qr.query(`${selectSql(kind)} WHERE t.name = $1 ${kind.namespaced ? "AND t.project_id = $2" : ""} FOR UPDATE OF t`, kind.namespaced ? [name, projectId] : [name]);
      const stored = rows[0] ? toObject(kind, rows[0]) : undefined;
      const decision = decide(stored ? sealedView(this.box, stored) : undefined);
      if (decision === "skip") return { object: stored ?? { apiVersion: API_VERSION, kind: kind.kind, metadata: { name, ...(namespace ? { namespace } : {}) } }, changed: false };
      return await this.apply(qr, kind, projectId, stored, decision, ctx, action);
    } catch (e) {
      throw translateDbError(e, kind, name);
    }
  }

  private async lockNamespace(qr: QueryRunner, namespace: string | undefined, name: string, kind: KindInfo): Promise<string> {
    if (!namespace) throw invalid(kind.kind, name, [{ field: "metadata.namespace", message: "Required value", reason: "FieldValueRequired" }]);
    const rows = await qr.query(`SELECT id, deletion_timestamp FROM projects WHERE name = $1`, [namespace]);
    if (!rows[0]) throw namespaceNotFound(namespace);
    return rows[0].id;
  }

  private async apply(qr: QueryRunner, kind: KindInfo, projectId: string | undefined, stored: ResourceObject | undefined, decision: ResourceObject | "delete", ctx: RequestContext, action: string): Promise<WriteResult> {
    if (decision === "delete") return this.applyDelete(qr, kind, stored!, ctx);
    const next = sealObject(this.box, decision, stored);
    if (!stored) {
      if (projectId) {
        const p = await qr.query(`SELECT deletion_timestamp FROM projects WHERE id = $1`, [projectId]);
        if (p[0]?.deletion_timestamp) throw forbidden(`${kind.plural}.berth.dev "${next.metadata.name}" is forbidden: unable to create new content in namespace ${next.metadata.namespace} because it is being terminated`);
      }
      return this.insert(qr, kind, projectId, next, ctx);
    }
    const expected = decision.metadata.resourceVersion;
    if (expected && expected !== stored.metadata.resourceVersion) throw conflict(kind.plural, stored.metadata.name);
    return this.replace(qr, kind, stored, next, ctx, action);
  }

  private async insert(qr: QueryRunner, kind: KindInfo, projectId: string | undefined, obj: ResourceObject, ctx: RequestContext): Promise<WriteResult> {
    const rv = await nextRv(qr);
    const seed = seedColumns(kind.kind, obj, this.adminUserId());
    const cols: Record<string, unknown> = {
      name: obj.metadata.name,
      resource_version: rv,
      generation: 1,
      labels: JSON.stringify(obj.metadata.labels ?? {}),
      annotations: JSON.stringify(obj.metadata.annotations ?? {}),
      finalizers: JSON.stringify(obj.metadata.finalizers ?? []),
      managed_fields: JSON.stringify(obj.metadata.managedFields ?? []),
      spec: JSON.stringify(obj.spec ?? {}),
      object_status: JSON.stringify(obj.status ?? {}),
      ...(projectId ? { project_id: projectId } : {}),
      ...seed,
    };
    const names = Object.keys(cols);
    const rows: Row[] = await qr.query(
      `INSERT INTO ${kind.table} (${names.join(", ")}) VALUES (${names.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING *, ${kind.namespaced ? `(SELECT name FROM projects WHERE id = project_id)` : "NULL"} AS ns`,
      Object.values(cols),
    );
    const created = toObject(kind, rows[0]);
    await this.afterWrite(qr, { kind, uid: rows[0].id, obj: created, rv, type: "ADDED", ctx, action: "create", before: undefined });
    return { object: created, changed: true };
  }

  private async replace(qr: QueryRunner, kind: KindInfo, stored: ResourceObject, proposed: ResourceObject, ctx: RequestContext, action: string): Promise<WriteResult> {
    let next = proposed;
    const finalizers = next.metadata.finalizers ?? [];
    // An object marked for deletion goes once its last finalizer is removed (a Project once it is also empty).
    if (stored.metadata.deletionTimestamp && finalizers.length === 0 && !(await this.isNonEmptyProject(qr, kind, stored))) return this.removeRow(qr, kind, stored, ctx, action);
    const specChanged = !isDeepStrictEqual(stored.spec ?? {}, next.spec ?? {});
    const same =
      !specChanged &&
      isDeepStrictEqual(stored.status ?? {}, next.status ?? {}) &&
      isDeepStrictEqual(stored.metadata.labels ?? {}, next.metadata.labels ?? {}) &&
      isDeepStrictEqual(stored.metadata.annotations ?? {}, next.metadata.annotations ?? {}) &&
      isDeepStrictEqual(stored.metadata.finalizers ?? [], finalizers) &&
      isDeepStrictEqual(stored.metadata.managedFields ?? [], next.metadata.managedFields ?? []);
    if (same) return { object: stored, changed: false };
    const rv = await nextRv(qr);
    const generation = (stored.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    if (specChanged) next = { ...next, status: statusForNewGeneration(next.status, generation) };
    const seed = seedColumns(kind.kind, next, this.adminUserId());
    const cols: Record<string, unknown> = {
      resource_version: rv,
      generation,
      labels: JSON.stringify(next.metadata.labels ?? {}),
      annotations: JSON.stringify(next.metadata.annotations ?? {}),
      finalizers: JSON.stringify(finalizers),
      managed_fields: JSON.stringify(next.metadata.managedFields ?? []),
      spec: JSON.stringify(next.spec ?? {}),
      object_status: JSON.stringify(next.status ?? {}),
      updated_at: kind.table === "projects" || kind.table === "applications" ? new Date() : undefined,
      ...seed,
    };
    for (const k of Object.keys(cols)) if (cols[k] === undefined) delete cols[k];
    delete cols.owner_id;
    const names = Object.keys(cols);
    const params = [...Object.values(cols), stored.metadata.uid, stored.metadata.resourceVersion];
    // Version-checked update: exactly one row must change, or someone else won the race.
    const res = await qr.query(
      `UPDATE ${kind.table} SET ${names.map((n, i) => `${n} = $${i + 1}`).join(", ")} WHERE id = $${names.length + 1} AND resource_version = $${names.length + 2}
       RETURNING *, ${kind.namespaced ? `(SELECT name FROM projects WHERE id = project_id)` : "NULL"} AS ns`,
      params,
    );
    const rows: Row[] = Array.isArray(res[0]) ? res[0] : res;
    if (rows.length !== 1) throw conflict(kind.plural, stored.metadata.name);
    const updated = toObject(kind, rows[0]);
    await this.afterWrite(qr, { kind, uid: updated.metadata.uid!, obj: updated, rv, type: "MODIFIED", ctx, action, before: stored });
    return { object: updated, changed: true };
  }

  /**
   * Deletion: an object without finalizers goes at once; otherwise it is marked (deletionTimestamp).
   * A Project is a namespace: while it still holds objects it is only marked (Terminating, no new
   * content); the project controller deletes its objects, and it goes with the last of them.
   */
  private async applyDelete(qr: QueryRunner, kind: KindInfo, stored: ResourceObject, ctx: RequestContext): Promise<WriteResult> {
    if ((stored.metadata.finalizers ?? []).length === 0 && !(await this.isNonEmptyProject(qr, kind, stored))) return this.removeRow(qr, kind, stored, ctx, "delete");
    if (stored.metadata.deletionTimestamp) return { object: stored, changed: false };
    const rv = await nextRv(qr);
    const res = await qr.query(
      `UPDATE ${kind.table} SET deletion_timestamp = now(), resource_version = $1 WHERE id = $2 AND resource_version = $3
       RETURNING *, ${kind.namespaced ? `(SELECT name FROM projects WHERE id = project_id)` : "NULL"} AS ns`,
      [rv, stored.metadata.uid, stored.metadata.resourceVersion],
    );
    const rows: Row[] = Array.isArray(res[0]) ? res[0] : res;
    if (rows.length !== 1) throw conflict(kind.plural, stored.metadata.name);
    const marked = toObject(kind, rows[0]);
    await this.afterWrite(qr, { kind, uid: marked.metadata.uid!, obj: marked, rv, type: "MODIFIED", ctx, action: "delete", before: stored });
    return { object: marked, changed: true };
  }

  private async isNonEmptyProject(qr: QueryRunner, kind: KindInfo, stored: ResourceObject): Promise<boolean> {
    if (kind.kind !== "Project") return false;
    const children = await qr.query(
      `SELECT (SELECT count(*) FROM applications WHERE project_id = $1) + (SELECT count(*) FROM databases WHERE project_id = $1) + (SELECT count(*) FROM domains WHERE project_id = $1) AS n`,
      [stored.metadata.uid],
    );
    return Number(children[0].n) > 0;
  }

  private async removeRow(qr: QueryRunner, kind: KindInfo, stored: ResourceObject, ctx: RequestContext, action: string): Promise<WriteResult> {
    // Children have finalizers of their own; a cascade here would skip them (callers check first).
    if (await this.isNonEmptyProject(qr, kind, stored)) throw conflict("projects", stored.metadata.name, "the project still contains objects");
    const rv = await nextRv(qr);
    await qr.query(`DELETE FROM ${kind.table} WHERE id = $1`, [stored.metadata.uid]);
    const gone: ResourceObject = { ...stored, metadata: { ...stored.metadata, resourceVersion: String(rv) } };
    await this.afterWrite(qr, { kind, uid: stored.metadata.uid!, obj: gone, rv, type: "DELETED", ctx, action, before: stored });
    if (kind.namespaced && stored.metadata.namespace) await this.removeTerminatedProject(qr, stored.metadata.namespace, ctx);
    return { object: gone, changed: true };
  }

  /** A Terminating Project without finalizers goes with its last object, as a namespace does. */
  private async removeTerminatedProject(qr: QueryRunner, namespace: string, ctx: RequestContext): Promise<void> {
    const kind = kindInfo("Project");
    const rows: Row[] = await qr.query(`${selectSql(kind)} WHERE t.name = $1 AND t.deletion_timestamp IS NOT NULL FOR UPDATE OF t`, [namespace]);
    const project = rows[0] ? toObject(kind, rows[0]) : undefined;
    if (!project || (project.metadata.finalizers ?? []).length > 0 || (await this.isNonEmptyProject(qr, kind, project))) return;
    await this.removeRow(qr, kind, project, ctx, "delete");
  }

  private async afterWrite(qr: QueryRunner, w: Written): Promise<void> {
    const { kind, uid, obj, rv, type, ctx, action, before } = w;
    await qr.query(
      `INSERT INTO resource_changes (rv, kind, namespace, name, uid, event_type, object, status_only) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [rv, kind.kind, obj.metadata.namespace ?? null, obj.metadata.name, uid, type, JSON.stringify(obj), statusOnly(before, obj, type)],
    );
    if (kind.kind === "Application" && type !== "DELETED") await syncEnvVars(qr, uid, obj.spec);
    // Audit rows need no round trip: a placeholder, not a sealed string.
    const details = {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      resourceVersion: String(rv),
      before: before ? redactObject(before) : null,
      after: type === "DELETED" ? null : redactObject(obj),
    };
    await this.audit.record({ action, resourceType: kind.singular as AuditResourceType, resourceId: uid, details, ctx }, qr);
    // Delivered on commit only, so a listener never sees a change that was rolled back.
    await qr.query(`SELECT pg_notify($1, $2)`, [CHANGES_CHANNEL, String(rv)]);
  }
}

async function nextRv(qr: QueryRunner): Promise<number> {
  const rows = await qr.query(`SELECT nextval('berth_resource_version') AS rv`);
  return Number(rows[0].rv);
}

async function currentRv(qr: QueryRunner): Promise<number> {
  const rows = await qr.query(`SELECT coalesce(max(rv), 0) AS rv FROM resource_changes`);
  return Number(rows[0].rv);
}

/** The seed's env_vars rows mirror spec.env and spec.secretEnv (values of secrets stay ciphertext). */
async function syncEnvVars(qr: QueryRunner, appId: string, spec: Record<string, unknown> | undefined): Promise<void> {
  await qr.query(`DELETE FROM env_vars WHERE application_id = $1`, [appId]);
  const env = (spec?.env ?? {}) as Record<string, string>;
  const secret = (spec?.secretEnv ?? {}) as Record<string, string>;
  const rows = [...Object.entries(env).map(([k, v]) => [k, v, false]), ...Object.entries(secret).map(([k, v]) => [k, v, true])];
  for (const [key, value, isSecret] of rows) {
    await qr.query(`INSERT INTO env_vars (application_id, key, value, is_secret) VALUES ($1, $2, $3, $4)`, [appId, key, value, isSecret]);
  }
}

/** Database constraint violations become API errors that name the field. */
function translateDbError(e: unknown, kind: KindInfo, name: string): unknown {
  const err = e as { driverError?: { code?: string; constraint?: string; detail?: string }; code?: string };
  const code = err.driverError?.code ?? err.code;
  const constraint = err.driverError?.constraint ?? "";
  if (code === "23505") {
    if (kind.kind === "Domain" && /domain/.test(constraint)) {
      return invalid(kind.kind, name, [{ field: "spec.host", message: `Duplicate value: another Domain already routes this host (${err.driverError?.detail ?? constraint})`, reason: "FieldValueDuplicate" }]);
    }
    return alreadyExists(kind.plural, name);
  }
  if (code === "23514" || code === "23502") {
    return invalid(kind.kind, name, [{ field: "spec", message: `rejected by store constraint ${constraint}`, reason: "FieldValueInvalid" }]);
  }
  return e;
}

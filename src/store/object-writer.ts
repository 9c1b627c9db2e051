import { isDeepStrictEqual } from "node:util";
import type { QueryRunner } from "typeorm";
import { statusForNewGeneration } from "../core/conditions.js";
import { conflict, forbidden, invalid, namespaceNotFound } from "../core/errors.js";
import { API_VERSION, kindInfo, type KindInfo } from "../core/kinds.js";
import type { RequestContext, ResourceObject, WatchEventType } from "../core/types.js";
import type { AuditLog } from "./audit.js";
import type { AuditResourceType } from "./entities/audit-log.js";
import { nextRv, objectColumns, returningSql, selectSql, statusOnly, syncEnvVars, toObject, translateDbError, unchanged, type Row } from "./object-rows.js";
import { redactObject, sealedView, sealObject, type SecretBox } from "./secrets.js";
import { seedColumns } from "./seed-columns.js";
import { returned } from "./sql.js";

export const CHANGES_CHANNEL = "berth_changes";

/** What a writer wants done with the current object, decided inside the write lock. */
/** What to store: the next object, "delete", or "skip" (leave it as it is, or absent). */
export type Mutation = (current: ResourceObject | undefined) => ResourceObject | "delete" | "skip";

/** One write: which object, what for (the audit action), and the decision. */
export interface WriteOp {
  kind: string;
  namespace: string | undefined;
  name: string;
  action: string;
  mutate: Mutation;
}

export interface WriteResult {
  object: ResourceObject;
  /** false when the write was a no-op: nothing stored, no new resource version. */
  changed: boolean;
}

/** What afterWrite records: the change log row, the env_vars mirror, the audit row, the NOTIFY. */
interface Written {
  kind: KindInfo;
  obj: ResourceObject;
  rv: number;
  type: WatchEventType;
  action: string;
  before: ResourceObject | undefined;
}

export interface WriterDeps {
  box: SecretBox;
  audit: AuditLog;
  /** Owner of a Project the control loop creates (a Sync's): the installation's super_admin. Never an audit row's user. */
  adminUserId: () => string | undefined;
}

/**
 * The writes of one transaction (the caller holds the write lock): each decides on the current
 * row under FOR UPDATE, seals secrets, writes the seed columns with the object columns, and
 * records the change-log row, the audit row and the NOTIFY in the same transaction.
 */
export class ObjectWriter {
  constructor(
    private readonly qr: QueryRunner,
    private readonly ctx: RequestContext,
    private readonly d: WriterDeps,
  ) {}

  async write(op: WriteOp): Promise<WriteResult> {
    const kind = kindInfo(op.kind);
    try {
      const projectId = kind.namespaced ? await this.lockNamespace(kind, op) : undefined;
      const stored = await this.current(kind, op.name, projectId);
      const decision = op.mutate(stored ? sealedView(this.d.box, stored) : undefined);
      if (decision === "skip") return { object: stored ?? placeholder(kind, op), changed: false };
      this.authorize(kind, op, decision === "delete" ? "delete" : stored ? "update" : "create");
      if (decision === "delete") return await this.delete(kind, stored!);
      const next = sealObject(this.d.box, decision, stored);
      if (!stored) return await this.insert(kind, projectId, next);
      const expected = decision.metadata.resourceVersion;
      if (expected && expected !== stored.metadata.resourceVersion) throw conflict(kind.plural, stored.metadata.name);
      return await this.replace(kind, stored, next, op.action);
    } catch (e) {
      throw translateDbError(e, kind, op.name);
    }
  }

  /** The API's decision asked again for this object (a batch names many); the control loop has none to ask. */
  private authorize(kind: KindInfo, op: WriteOp, verb: "create" | "update" | "delete"): void {
    this.ctx.authorize?.({ verb, resource: kind.plural, namespace: kind.namespaced ? op.namespace : op.name, name: op.name });
  }

  private async current(kind: KindInfo, name: string, projectId: string | undefined): Promise<ResourceObject | undefined> {
    const rows: Row[] = await this.qr.query(`${selectSql(kind)} WHERE t.name = $1 ${kind.namespaced ? "AND t.project_id = $2" : ""} FOR UPDATE OF t`, kind.namespaced ? [name, projectId] : [name]);
    return rows[0] ? toObject(kind, rows[0]) : undefined;
  }

  private async lockNamespace(kind: KindInfo, op: WriteOp): Promise<string> {
    if (!op.namespace) throw invalid(kind.kind, op.name, [{ field: "metadata.namespace", message: "Required value", reason: "FieldValueRequired" }]);
    const rows = await this.qr.query(`SELECT id, deletion_timestamp FROM projects WHERE name = $1`, [op.namespace]);
    if (!rows[0]) throw namespaceNotFound(op.namespace);
    return rows[0].id;
  }

  private async insert(kind: KindInfo, projectId: string | undefined, obj: ResourceObject): Promise<WriteResult> {
    if (projectId) await this.refuseInTerminatingProject(kind, projectId, obj);
    const rv = await nextRv(this.qr);
    const cols: Record<string, unknown> = { name: obj.metadata.name, resource_version: rv, generation: 1, ...objectColumns(obj), ...(projectId ? { project_id: projectId } : {}), ...seedColumns(kind.kind, obj, this.ctx.userId ?? this.d.adminUserId()) };
    const names = Object.keys(cols);
    const rows: Row[] = await this.qr.query(`INSERT INTO ${kind.table} (${names.join(", ")}) VALUES (${names.map((_, i) => `$${i + 1}`).join(", ")}) ${returningSql(kind)}`, Object.values(cols));
    const created = toObject(kind, rows[0]);
    await this.afterWrite({ kind, obj: created, rv, type: "ADDED", action: "create", before: undefined });
    return { object: created, changed: true };
  }

  private async refuseInTerminatingProject(kind: KindInfo, projectId: string, obj: ResourceObject): Promise<void> {
    const p = await this.qr.query(`SELECT deletion_timestamp FROM projects WHERE id = $1`, [projectId]);
    if (p[0]?.deletion_timestamp) throw forbidden(`${kind.plural}.berth.dev "${obj.metadata.name}" is forbidden: unable to create new content in namespace ${obj.metadata.namespace} because it is being terminated`);
  }

  /** An object marked for deletion goes once its last finalizer is removed (a Project once it is also empty). */
  private async finalized(kind: KindInfo, stored: ResourceObject, proposed: ResourceObject): Promise<boolean> {
    return !!stored.metadata.deletionTimestamp && !(proposed.metadata.finalizers ?? []).length && !(await this.isNonEmptyProject(kind, stored));
  }

  private async replace(kind: KindInfo, stored: ResourceObject, proposed: ResourceObject, action: string): Promise<WriteResult> {
    if (await this.finalized(kind, stored, proposed)) return this.removeRow(kind, stored, action);
    if (unchanged(stored, proposed)) return { object: stored, changed: false };
    const specChanged = !isDeepStrictEqual(stored.spec ?? {}, proposed.spec ?? {});
    const generation = (stored.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    const next = specChanged ? { ...proposed, status: statusForNewGeneration(proposed.status, generation) } : proposed;
    const rv = await nextRv(this.qr);
    // A Project's owner is set once, at creation: an update names no owner.
    const cols: Record<string, unknown> = { resource_version: rv, generation, ...objectColumns(next), ...seedColumns(kind.kind, next, undefined) };
    if (["projects", "applications", "syncs", "notifications", "backup_destinations"].includes(kind.table)) cols.updated_at = new Date();
    const updated = await this.versionChecked(kind, stored, cols);
    await this.afterWrite({ kind, obj: updated, rv, type: "MODIFIED", action, before: stored });
    return { object: updated, changed: true };
  }

  /** UPDATE … WHERE id AND resource_version: exactly one row must change, or someone else won the race. */
  private async versionChecked(kind: KindInfo, stored: ResourceObject, cols: Record<string, unknown>): Promise<ResourceObject> {
    const names = Object.keys(cols);
    const res = await this.qr.query(
      `UPDATE ${kind.table} SET ${names.map((n, i) => `${n} = $${i + 1}`).join(", ")} WHERE id = $${names.length + 1} AND resource_version = $${names.length + 2} ${returningSql(kind)}`,
      [...Object.values(cols), stored.metadata.uid, stored.metadata.resourceVersion],
    );
    const rows = returned<Row>(res);
    if (rows.length !== 1) throw conflict(kind.plural, stored.metadata.name);
    return toObject(kind, rows[0]);
  }

  /**
   * Deletion: an object without finalizers goes at once; otherwise it is marked (deletionTimestamp).
   * A Project is a namespace: while it still holds objects it is only marked (Terminating, no new
   * content); the project controller deletes its objects, and it goes with the last of them.
   */
  private async delete(kind: KindInfo, stored: ResourceObject): Promise<WriteResult> {
    if (!(stored.metadata.finalizers ?? []).length && !(await this.isNonEmptyProject(kind, stored))) return this.removeRow(kind, stored, "delete");
    if (stored.metadata.deletionTimestamp) return { object: stored, changed: false };
    const rv = await nextRv(this.qr);
    const marked = await this.versionChecked(kind, stored, { deletion_timestamp: new Date(), resource_version: rv });
    await this.afterWrite({ kind, obj: marked, rv, type: "MODIFIED", action: "delete", before: stored });
    return { object: marked, changed: true };
  }

  private async isNonEmptyProject(kind: KindInfo, stored: ResourceObject): Promise<boolean> {
    if (kind.kind !== "Project") return false;
    const children = await this.qr.query(
      `SELECT (SELECT count(*) FROM applications WHERE project_id = $1) + (SELECT count(*) FROM databases WHERE project_id = $1) + (SELECT count(*) FROM domains WHERE project_id = $1) + (SELECT count(*) FROM backup_destinations WHERE project_id = $1) AS n`,
      [stored.metadata.uid],
    );
    return Number(children[0].n) > 0;
  }

  private async removeRow(kind: KindInfo, stored: ResourceObject, action: string): Promise<WriteResult> {
    // Children have finalizers of their own; a cascade here would skip them (callers check first).
    if (await this.isNonEmptyProject(kind, stored)) throw conflict("projects", stored.metadata.name, "the project still contains objects");
    const rv = await nextRv(this.qr);
    await this.qr.query(`DELETE FROM ${kind.table} WHERE id = $1`, [stored.metadata.uid]);
    const gone: ResourceObject = { ...stored, metadata: { ...stored.metadata, resourceVersion: String(rv) } };
    await this.afterWrite({ kind, obj: gone, rv, type: "DELETED", action, before: stored });
    if (kind.namespaced && stored.metadata.namespace) await this.removeTerminatedProject(stored.metadata.namespace);
    return { object: gone, changed: true };
  }

  /** A Terminating Project without finalizers goes with its last object, as a namespace does. */
  private async removeTerminatedProject(namespace: string): Promise<void> {
    const kind = kindInfo("Project");
    const rows: Row[] = await this.qr.query(`${selectSql(kind)} WHERE t.name = $1 AND t.deletion_timestamp IS NOT NULL FOR UPDATE OF t`, [namespace]);
    const project = rows[0] ? toObject(kind, rows[0]) : undefined;
    if (!project || (project.metadata.finalizers ?? []).length > 0 || (await this.isNonEmptyProject(kind, project))) return;
    await this.removeRow(kind, project, "delete");
  }

  private async afterWrite(w: Written): Promise<void> {
    const { kind, obj, rv, type, before } = w;
    const uid = obj.metadata.uid!;
    await this.qr.query(
      `INSERT INTO resource_changes (rv, kind, namespace, name, uid, event_type, object, status_only, prev_labels) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [rv, kind.kind, obj.metadata.namespace ?? null, obj.metadata.name, uid, type, JSON.stringify(obj), statusOnly(before, obj, type), before ? JSON.stringify(before.metadata.labels ?? {}) : null],
    );
    if (kind.kind === "Application" && type !== "DELETED") await syncEnvVars(this.qr, uid, obj.spec);
    // Audit rows need no round trip: a placeholder, not a sealed string.
    const details = { name: obj.metadata.name, namespace: obj.metadata.namespace, resourceVersion: String(rv), before: before ? redactObject(before) : null, after: type === "DELETED" ? null : redactObject(obj) };
    await this.d.audit.record({ action: w.action, resourceType: kind.singular as AuditResourceType, resourceId: uid, details, ctx: this.ctx }, this.qr);
    // Delivered on commit only, so a listener never sees a change that was rolled back.
    await this.qr.query(`SELECT pg_notify($1, $2)`, [CHANGES_CHANNEL, String(rv)]);
  }
}

/** What a skipped write of an object that does not exist answers with: its identity only. */
function placeholder(kind: KindInfo, op: WriteOp): ResourceObject {
  return { apiVersion: API_VERSION, kind: kind.kind, metadata: { name: op.name, ...(op.namespace ? { namespace: op.namespace } : {}) } };
}

import type { DataSource } from "typeorm";
import { ApiError, alreadyExists, conflict, notFound } from "../core/errors.js";
import { kindInfo } from "../core/kinds.js";
import type { Change, RequestContext, ResourceObject } from "../core/types.js";
import { AuditLog } from "./audit.js";
import { ASYNC_COMMIT_SQL } from "./durability.js";
import { selectSql, toObject, translateDbError, type ChangeRow, type Row } from "./object-rows.js";
import { readAll, readPage, type ListFilter } from "./list-pages.js";
import { CHANGES_CHANNEL, ObjectWriter, type Mutation, type WriteOp, type WriteResult } from "./object-writer.js";
import { sealedView, GIT_WEBHOOK_SECRET, SYNC_WEBHOOK_SECRET, unsealSecret, type SecretBox } from "./secrets.js";
import { rollbackQuietly } from "./sql.js";

export { CHANGES_CHANNEL };
export type { Mutation, WriteResult };

/** Every write takes this transaction-scoped advisory lock so resource versions commit in order. */
const WRITE_LOCK = 0x6265727468; // "berth"

/** Which object: its kind, namespace (the Project; none for Projects) and name. */
export interface ObjectRef {
  kind: string;
  namespace: string | undefined;
  name: string;
}

/** @deprecated name kept for readers of keysWithReadyReason; the same shape as ObjectRef. */
export type ObjectKeyRef = ObjectRef;

export interface ListOptions {
  namespace?: string;
  labelSelector?: (labels: Record<string, string>) => boolean;
  /** A field selector's check of each object (its equality on name/namespace also as `name`/`namespace`). */
  fieldSelector?: (o: ResourceObject) => boolean;
  name?: string;
  /** At most this many objects; the rest through `continue` (0 or absent: all). */
  limit?: number;
  /** The token of the previous page. */
  continue?: string;
  /** Only objects of these Projects (a caller who sees only some). */
  projects?: ReadonlySet<string> | readonly string[];
  /** Only objects whose spec matches this SQL/JSON path, e.g. `$.jobs[*]` (a poller's narrow read). */
  specPath?: string;
}

export interface ListResult {
  items: ResourceObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

/** The selectors of a list as one check of each object; undefined when there are none. */
function selection(opts: ListOptions): ((o: ResourceObject) => boolean) | undefined {
  const { labelSelector: labels, fieldSelector: fields } = opts;
  if (!labels && !fields) return undefined;
  return (o) => (!labels || labels(o.metadata.labels ?? {})) && (!fields || fields(o));
}

/** A continued list that names no limit of its own gets pages of this size. */
const DEFAULT_PAGE = 500;

/** One write of a batch. */
export type BatchOp = WriteOp;

/** A failed batch: which operation failed and why; nothing of the batch was stored. */
export class BatchError extends Error {
  constructor(
    readonly index: number,
    readonly failure: unknown,
  ) {
    super(`operation ${index} failed: ${(failure as Error)?.message ?? String(failure)}`);
  }
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
    this.audit = new AuditLog(ds);
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

  /**
   * `plain` as the sealed string a read of that object would show for `field` (`berth seal`):
   * bound to the kind, Project, object and field, so it opens nowhere else. Nothing is stored.
   */
  seal(binding: { kind: string; namespace: string | undefined; name: string; field: string }, plain: string): string {
    return this.box.seal(binding, plain);
  }

  /**
   * The plaintext spec.webhook.secret of Sync `name`, for checking a webhook's signature only
   * (POST /hooks/sync/NAME). Undefined when there is no such Sync, it has no (or an empty)
   * secret, or the stored value is not one this installation can open: every case is a 401.
   */
  async syncWebhookSecret(name: string): Promise<string | undefined> {
    const sync = await this.getStored("Sync", undefined, name);
    if (!sync) return undefined;
    try {
      return unsealSecret(this.box, "Sync", sync.spec, SYNC_WEBHOOK_SECRET) || undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The webhook secret of git-source Application `name` in Project `project` (POST
   * /hooks/git/PROJECT/NAME), with the branch it follows; undefined in every case that is a 401.
   */
  async gitWebhookTarget(project: string, name: string): Promise<{ secret: string; branch?: string; tag?: string } | undefined> {
    const app = await this.getStored("Application", project, name);
    const git = (app?.spec as { source?: { git?: { branch?: string; tag?: string } } } | undefined)?.source?.git;
    if (!app || !git) return undefined;
    try {
      const secret = unsealSecret(this.box, "Application", app.spec, GIT_WEBHOOK_SECRET);
      return secret ? { secret, branch: git.branch, tag: git.tag } : undefined;
    } catch {
      return undefined;
    }
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

  /**
   * A consistent list and the resource version it was read at (one snapshot). With `limit`, one
   * page of it and a continue token for the next (./list-pages.ts); without, all of it.
   */
  async list(kindName: string, opts: ListOptions = {}, stored = false): Promise<ListResult> {
    const kind = kindInfo(kindName);
    const filter: ListFilter = { namespace: opts.namespace, name: opts.name, matches: selection(opts), specPath: opts.specPath, ...(opts.projects ? { projects: [...opts.projects] } : {}) };
    const qr = this.ds.createQueryRunner();
    try {
      await qr.connect();
      await qr.startTransaction("REPEATABLE READ");
      const page = opts.limit || opts.continue ? await readPage(qr, kind, filter, { limit: opts.limit || DEFAULT_PAGE, token: opts.continue }) : await readAll(qr, kind, filter);
      await qr.commitTransaction();
      const items = stored ? page.items : page.items.map((o) => sealedView(this.box, o));
      return { ...page, items, resourceVersion: String(page.resourceVersion) };
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
    const rows: ChangeRow[] = await this.ds.query(`SELECT rv, kind, namespace, name, uid, event_type, object, status_only, prev_labels FROM resource_changes WHERE rv > $1 ORDER BY rv LIMIT $2`, [rv, limit]);
    return rows.map((r) => ({ rv: Number(r.rv), type: r.event_type, kind: r.kind, namespace: r.namespace, name: r.name, uid: r.uid, object: sealedView(this.box, r.object), statusOnly: r.status_only, ...(r.prev_labels ? { prevLabels: r.prev_labels } : {}) }));
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
    return this.write({ kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name }, ctx, "create", (current) => {
      if (current) throw alreadyExists(kind.plural, obj.metadata.name);
      return obj;
    });
  }

  /**
   * Read-modify-write of one object under the write lock. `mutate` sees the current object
   * (secrets as sealed strings) and returns the next one; a stale metadata.resourceVersion in it is a 409.
   */
  async update(ref: ObjectRef, ctx: RequestContext, action: string, mutate: Mutation): Promise<WriteResult> {
    return this.write(ref, ctx, action, (current) => {
      if (!current) throw notFound(kindInfo(ref.kind).plural, ref.name);
      return mutate(current);
    });
  }

  /** Create-or-update (server-side apply and upserts); `mutate` sees undefined when absent. */
  async upsert(ref: ObjectRef, ctx: RequestContext, action: string, mutate: Mutation): Promise<WriteResult> {
    return this.write(ref, ctx, action, mutate);
  }

  async delete(ref: ObjectRef, ctx: RequestContext, pre: { uid?: string; resourceVersion?: string } = {}): Promise<WriteResult> {
    const plural = kindInfo(ref.kind).plural;
    return this.write(ref, ctx, "delete", (current) => {
      if (!current) throw notFound(plural, ref.name);
      if (pre.uid && pre.uid !== current.metadata.uid) throw conflict(plural, ref.name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`);
      if (pre.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) throw conflict(plural, ref.name);
      return "delete";
    });
  }

  private async write(ref: ObjectRef, ctx: RequestContext, action: string, mutate: Mutation): Promise<WriteResult> {
    const [result] = await this.transaction(ctx, async (writer) => [await writer.write({ ...ref, action, mutate })]);
    return result;
  }

  /**
   * Several writes in one transaction: all are stored or none is (a multi-document apply).
   * An error names the index of the operation that failed.
   */
  async batch(ops: BatchOp[], ctx: RequestContext): Promise<WriteResult[]> {
    return this.transaction(ctx, async (writer) => {
      const results: WriteResult[] = [];
      for (const [index, op] of ops.entries()) {
        try {
          results.push(await writer.write(op));
        } catch (e) {
          throw new BatchError(index, translateDbError(e, kindInfo(op.kind), op.name));
        }
      }
      return results;
    });
  }

  private async transaction(ctx: RequestContext, body: (writer: ObjectWriter) => Promise<WriteResult[]>): Promise<WriteResult[]> {
    const qr = this.ds.createQueryRunner();
    await qr.connect();
    try {
      await qr.startTransaction();
      // Controllers' writes (status, finalizers) are derived from the runtime again on the next
      // reconcile; they need not wait for a WAL flush (ADR 0005). Users' writes always do.
      if (ctx.user.startsWith("system:")) await qr.query(ASYNC_COMMIT_SQL);
      await qr.query(`SELECT pg_advisory_xact_lock($1)`, [WRITE_LOCK]);
      const results = await body(new ObjectWriter(qr, ctx, { box: this.box, audit: this.audit, adminUserId: this.adminUserId }));
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
}

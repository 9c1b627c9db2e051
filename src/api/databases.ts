import { loadCredentials } from "../reconcilers/database.js";
import { connectionUrl, ENGINE_INFO } from "../runtime/database-engines.js";
import { databaseContainerName } from "../runtime/database-plan.js";
import type { ResourceStore } from "../store/resources.js";
import type { RequestContext, ResourceObject } from "../store/types.js";
import type { SecretBox } from "../util/secrets.js";
import { ApiError, badRequest, notFound } from "./errors.js";
import type { Reply } from "./handlers.js";

export interface BackupInfo {
  id: string;
  status: "pending" | "running" | "success" | "failed";
  source: "manual" | "schedule";
  sizeBytes: number | null;
  path: string | null;
  error: string | null;
  createdAt: string;
  completedAt: string | null;
}

export interface RestoreInfo {
  id: string;
  backupId: string | null;
  status: "pending" | "running" | "success" | "failed";
  error: string | null;
  createdAt: string;
  completedAt: string | null;
}

const iso = (d: Date | string | null): string | null => (d ? new Date(d).toISOString().replace(/\.\d{3}Z$/, "Z") : null);

function toBackup(r: Record<string, any>): BackupInfo {
  return { id: r.id, status: r.status, source: r.source, sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes), path: r.storage_path, error: r.error, createdAt: iso(r.created_at)!, completedAt: iso(r.completed_at) };
}

function toRestore(r: Record<string, any>): RestoreInfo {
  return { id: r.id, backupId: r.backup_id, status: r.status, error: r.error, createdAt: iso(r.created_at)!, completedAt: iso(r.completed_at) };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Berth's database endpoints (under /berth/v1, outside the Kubernetes groups):
 *
 *   GET  …/databases/NAME/credentials          reveal the credentials (audit-logged)
 *   GET  …/databases/NAME/backups              list backups
 *   POST …/databases/NAME/backups              take one now; waits for it (?timeoutSeconds=600)
 *   GET  …/databases/NAME/restores             list restores
 *   POST …/databases/NAME/restores?from=ID     restore a backup; waits for it
 *
 * Backups and restores are requests (rows in `pending`) that the controller leader's BackupWorker
 * runs, so any API replica can accept them. A reply with status pending or running (HTTP 202)
 * means the wait timed out; the operation goes on.
 */
export class DatabaseEndpoints {
  private readonly box: SecretBox | undefined;

  /**
   * `box` decrypts credentials for the reveal. Without one, the store's own SecretBox is used (the
   * key the store seals with); main.ts may pass it explicitly through ApiServerOptions.box.
   */
  constructor(
    private readonly store: ResourceStore,
    box?: SecretBox,
  ) {
    this.box = box ?? (store as unknown as { box?: SecretBox }).box;
  }

  async handle(method: string, ns: string, name: string, what: string, q: URLSearchParams, ctx: RequestContext, body: () => Promise<Buffer>): Promise<Reply> {
    const db = await this.store.getStored("Database", ns, name);
    if (!db) throw notFound("databases", name);
    if (what === "credentials" && method === "GET") return this.credentials(db, ctx);
    if (what === "backups" && method === "GET") return this.listBackups(db);
    if (what === "backups" && method === "POST") return this.backup(db, q, ctx);
    if (what === "restores" && method === "GET") return this.listRestores(db);
    if (what === "restores" && method === "POST") return this.restore(db, q, ctx, await body());
    throw new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  }

  private async audit(action: string, resourceType: "database" | "backup", resourceId: string, db: ResourceObject, ctx: RequestContext, extra: Record<string, unknown> = {}): Promise<void> {
    const ip = ctx.ip?.startsWith("::ffff:") ? ctx.ip.slice(7) : (ctx.ip ?? null);
    await this.store.dataSource.query(
      `INSERT INTO audit_logs (user_id, action, resource_type, resource_id, details, ip_address, user_agent) VALUES ((SELECT id FROM users WHERE username = 'admin'), $1, $2, $3, $4, $5, $6)`,
      [action, resourceType, resourceId, JSON.stringify({ name: db.metadata.name, namespace: db.metadata.namespace, actor: ctx.user, ...extra }), ip, ctx.userAgent ?? null],
    );
  }

  /** The plaintext credentials, for `berth db credentials`; every reveal is an audit_logs row. */
  private async credentials(db: ResourceObject, ctx: RequestContext): Promise<Reply> {
    if (!this.box) throw new ApiError(503, "ServiceUnavailable", "this server cannot decrypt credentials (no secret key)");
    const creds = await loadCredentials(this.store, this.box, db.metadata.uid!);
    if (!creds) throw new ApiError(409, "Conflict", `database ${db.metadata.name} has no credentials yet: the Database controller has not reconciled it`);
    await this.audit("reveal-credentials", "database", db.metadata.uid!, db, ctx);
    const host = databaseContainerName(db.metadata.namespace!, db.metadata.name);
    const port = ENGINE_INFO[creds.engine].port;
    const published = typeof db.status?.publishedEndpoint === "string" ? (db.status.publishedEndpoint as string) : undefined;
    const [pubHost, pubPort] = published ? [published.slice(0, published.lastIndexOf(":")), Number(published.slice(published.lastIndexOf(":") + 1))] : [];
    return {
      status: 200,
      body: {
        kind: "DatabaseCredentials",
        apiVersion: "berth.dev/v1",
        engine: creds.engine,
        host,
        port,
        username: creds.username,
        password: creds.password,
        database: creds.database,
        ...(creds.rootPassword ? { rootPassword: creds.rootPassword } : {}),
        connectionString: connectionUrl(creds, host, port),
        ...(pubHost ? { publishedConnectionString: connectionUrl(creds, pubHost, pubPort!) } : {}),
      },
    };
  }

  private async listBackups(db: ResourceObject): Promise<Reply> {
    const rows = await this.store.dataSource.query(`SELECT * FROM backups WHERE database_id = $1 ORDER BY created_at DESC, id DESC`, [db.metadata.uid]);
    return { status: 200, body: { kind: "BackupList", apiVersion: "berth.dev/v1", items: rows.map(toBackup) } };
  }

  private async listRestores(db: ResourceObject): Promise<Reply> {
    const rows = await this.store.dataSource.query(`SELECT * FROM restores WHERE database_id = $1 ORDER BY created_at DESC, id DESC`, [db.metadata.uid]);
    return { status: 200, body: { kind: "RestoreList", apiVersion: "berth.dev/v1", items: rows.map(toRestore) } };
  }

  private async waitFor(table: "backups" | "restores", id: string, q: URLSearchParams): Promise<Record<string, any>> {
    const timeoutMs = Math.min(Number(q.get("timeoutSeconds") ?? 600), 3600) * 1000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = (await this.store.dataSource.query(`SELECT * FROM ${table} WHERE id = $1`, [id]))[0];
      if (!row || row.status === "success" || row.status === "failed" || Date.now() >= deadline) return row;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private async backup(db: ResourceObject, q: URLSearchParams, ctx: RequestContext): Promise<Reply> {
    if (db.metadata.deletionTimestamp) throw new ApiError(409, "Conflict", `database ${db.metadata.name} is being deleted`);
    const rows = await this.store.dataSource.query(`INSERT INTO backups (database_id, status, source) VALUES ($1, 'pending', 'manual') RETURNING id`, [db.metadata.uid]);
    const id: string = rows[0].id;
    await this.audit("backup", "backup", id, db, ctx);
    if (q.get("wait") === "false") return { status: 202, body: toBackup((await this.store.dataSource.query(`SELECT * FROM backups WHERE id = $1`, [id]))[0]) };
    const row = await this.waitFor("backups", id, q);
    const info = toBackup(row);
    return { status: info.status === "success" || info.status === "failed" ? 200 : 202, body: info };
  }

  private async restore(db: ResourceObject, q: URLSearchParams, ctx: RequestContext, raw: Buffer): Promise<Reply> {
    let from = q.get("from") ?? undefined;
    if (!from && raw.length) {
      try {
        from = (JSON.parse(raw.toString("utf8")) as { backupId?: string }).backupId;
      } catch {
        throw badRequest("the body must be JSON: {\"backupId\": \"…\"}");
      }
    }
    if (!from) throw badRequest("which backup? pass ?from=BACKUP_ID");
    if (db.metadata.deletionTimestamp) throw new ApiError(409, "Conflict", `database ${db.metadata.name} is being deleted`);
    // A unique prefix of the id is enough, as `berth db backups` shows them.
    const matches: { id: string; status: string }[] = UUID.test(from)
      ? await this.store.dataSource.query(`SELECT id, status FROM backups WHERE database_id = $1 AND id = $2`, [db.metadata.uid, from])
      : /^[0-9a-f-]{4,}$/i.test(from)
        ? await this.store.dataSource.query(`SELECT id, status FROM backups WHERE database_id = $1 AND id::text LIKE $2`, [db.metadata.uid, `${from.toLowerCase()}%`])
        : [];
    if (matches.length === 0) throw new ApiError(404, "NotFound", `backup "${from}" of database ${db.metadata.name} not found`);
    if (matches.length > 1) throw badRequest(`backup id prefix "${from}" is ambiguous`);
    if (matches[0].status !== "success") throw new ApiError(409, "Conflict", `backup ${matches[0].id} is ${matches[0].status}; only a successful backup can be restored`);
    const rows = await this.store.dataSource.query(`INSERT INTO restores (database_id, backup_id, status) VALUES ($1, $2, 'pending') RETURNING id`, [db.metadata.uid, matches[0].id]);
    const id: string = rows[0].id;
    await this.audit("restore", "backup", matches[0].id, db, ctx, { restoreId: id });
    const row = await this.waitFor("restores", id, q);
    const info = toRestore(row);
    return { status: info.status === "success" || info.status === "failed" ? 200 : 202, body: info };
  }
}

import { ApiError, badRequest, notFound } from "../core/errors.js";
import type { BackupInfo, RestoreInfo } from "../core/records.js";
import type { RequestContext, ResourceObject } from "../core/types.js";
import { connectionUrl, ENGINE_INFO } from "../runtime/database-engines.js";
import { databaseContainerName } from "../runtime/database-spec.js";
import type { AuditLog } from "../store/audit.js";
import type { BackupQueue } from "../store/backups.js";
import type { CredentialStore } from "../store/credentials.js";
import type { ResourceStore } from "../store/resources.js";
import type { Reply } from "./request.js";

export type { BackupInfo, RestoreInfo };

export interface DatabaseEndpointDeps {
  store: ResourceStore;
  credentials: CredentialStore;
  backups: BackupQueue;
  audit: AuditLog;
}

/** One request to a database endpoint: …/namespaces/NAMESPACE/databases/NAME/WHAT. */
export interface DatabaseOperation {
  method: string;
  namespace: string;
  name: string;
  what: string;
  query: URLSearchParams;
  ctx: RequestContext;
  body: () => Promise<Buffer>;
}

/** What the endpoints serve of a backup or restore (the database is in the URL already). */
function wire<T extends { databaseId: string }>(row: T): Omit<T, "databaseId"> {
  const { databaseId: _d, ...rest } = row;
  return rest;
}

function finished(status: string): boolean {
  return status === "success" || status === "failed";
}

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
  constructor(private readonly d: DatabaseEndpointDeps) {}

  async handle(op: DatabaseOperation): Promise<Reply> {
    const { method, what, query: q, ctx, body } = op;
    const db = await this.d.store.getStored("Database", op.namespace, op.name);
    if (!db) throw notFound("databases", op.name);
    if (what === "credentials" && method === "GET") return this.credentials(db, ctx);
    if (what === "backups" && method === "GET") return { status: 200, body: { kind: "BackupList", apiVersion: "berth.dev/v1", items: (await this.d.backups.backupsOf(db.metadata.uid!)).map(wire) } };
    if (what === "backups" && method === "POST") return this.backup(db, q, ctx);
    if (what === "restores" && method === "GET") return { status: 200, body: { kind: "RestoreList", apiVersion: "berth.dev/v1", items: (await this.d.backups.restoresOf(db.metadata.uid!)).map(wire) } };
    if (what === "restores" && method === "POST") return this.restore(db, q, ctx, await body());
    throw new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  }

  private async audit(db: ResourceObject, ctx: RequestContext, what: { action: string; resourceType: "database" | "backup"; resourceId: string; extra?: Record<string, unknown> }): Promise<void> {
    await this.d.audit.record({ action: what.action, resourceType: what.resourceType, resourceId: what.resourceId, details: { name: db.metadata.name, namespace: db.metadata.namespace, ...(what.extra ?? {}) }, ctx });
  }

  /** The plaintext credentials, for `berth db credentials`; every reveal is an audit_logs row. */
  private async credentials(db: ResourceObject, ctx: RequestContext): Promise<Reply> {
    const creds = await this.d.credentials.load(db.metadata.uid!);
    if (!creds) throw new ApiError(409, "Conflict", `database ${db.metadata.name} has no credentials yet: the Database controller has not reconciled it`);
    await this.audit(db, ctx, { action: "reveal-credentials", resourceType: "database", resourceId: db.metadata.uid! });
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

  /** Polls the row until it finished or the wait (?timeoutSeconds, at most an hour) is over. */
  private async waitFor<T extends { status: string }>(read: () => Promise<T | undefined>, q: URLSearchParams): Promise<T | undefined> {
    const deadline = Date.now() + Math.min(Number(q.get("timeoutSeconds") ?? 600), 3600) * 1000;
    for (;;) {
      const row = await read();
      if (!row || finished(row.status) || Date.now() >= deadline) return row;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private async backup(db: ResourceObject, q: URLSearchParams, ctx: RequestContext): Promise<Reply> {
    if (db.metadata.deletionTimestamp) throw new ApiError(409, "Conflict", `database ${db.metadata.name} is being deleted`);
    const requested = await this.d.backups.requestBackup(db.metadata.uid!, "manual");
    await this.audit(db, ctx, { action: "backup", resourceType: "backup", resourceId: requested.id });
    if (q.get("wait") === "false") return { status: 202, body: wire(requested) };
    const row = (await this.waitFor(() => this.d.backups.backup(requested.id), q)) ?? requested;
    return { status: finished(row.status) ? 200 : 202, body: wire(row) };
  }

  private backupIdFrom(q: URLSearchParams, raw: Buffer): string {
    let from = q.get("from") ?? undefined;
    if (!from && raw.length) {
      try {
        from = (JSON.parse(raw.toString("utf8")) as { backupId?: string }).backupId;
      } catch {
        throw badRequest("the body must be JSON: {\"backupId\": \"…\"}");
      }
    }
    if (!from) throw badRequest("which backup? pass ?from=BACKUP_ID");
    return from;
  }

  private async restore(db: ResourceObject, q: URLSearchParams, ctx: RequestContext, raw: Buffer): Promise<Reply> {
    const from = this.backupIdFrom(q, raw);
    if (db.metadata.deletionTimestamp) throw new ApiError(409, "Conflict", `database ${db.metadata.name} is being deleted`);
    // A unique prefix of the id is enough, as `berth db backups` shows them.
    const matches = await this.d.backups.findBackup(db.metadata.uid!, from);
    if (matches.length === 0) throw new ApiError(404, "NotFound", `backup "${from}" of database ${db.metadata.name} not found`);
    if (matches.length > 1) throw badRequest(`backup id prefix "${from}" is ambiguous`);
    if (matches[0].status !== "success") throw new ApiError(409, "Conflict", `backup ${matches[0].id} is ${matches[0].status}; only a successful backup can be restored`);
    const requested = await this.d.backups.requestRestore(db.metadata.uid!, matches[0].id);
    await this.audit(db, ctx, { action: "restore", resourceType: "backup", resourceId: matches[0].id, extra: { restoreId: requested.id } });
    const row = (await this.waitFor(() => this.d.backups.restore(requested.id), q)) ?? requested;
    return { status: finished(row.status) ? 200 : 202, body: wire(row) };
  }
}

import type { AuditRecord } from "../core/records.js";
import type { RequestContext } from "../core/types.js";
import type { AuditResourceType } from "./entities/audit-log.js";
import { affected, type Sql } from "./sql.js";

export type { AuditRecord };

export interface AuditEntry {
  action: string;
  resourceType: AuditResourceType;
  resourceId: string | null | undefined;
  /** What happened, secrets already redacted. */
  details: Record<string, unknown>;
  ctx: RequestContext;
}

/** What `GET /berth/v1/audit` may ask for; every field optional. */
export interface AuditQuery {
  /** A username, or a system actor such as `system:berth-controller`. */
  user?: string;
  /** Rows about objects in this Project, and about the Project itself. */
  project?: string;
  action?: string;
  since?: Date;
  limit: number;
  /** The position after the last row of the previous page (see AuditPage.next). */
  after?: AuditCursor;
}

/** A keyset position: the (created_at, id) of the last row returned; created_at to the microsecond. */
export interface AuditCursor {
  createdAt: string;
  id: string;
}

export interface AuditPage {
  items: AuditRecord[];
  /** Present when more rows may follow. */
  next?: AuditCursor;
}

interface Row {
  id: string;
  created: string;
  user_id: string | null;
  username: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  details: Record<string, unknown>;
  ip_address: string | null;
  user_agent: string | null;
}

/** The seed's retention for audit rows: one year. */
export const AUDIT_RETENTION_DAYS = 365;

/**
 * The audit_logs table: one row per API mutation or reveal. The one place these rows are
 * written; the resource store writes them inside the mutation's own transaction. Each row names
 * its person: user_id is the caller's users row (NULL for the control loop and other system
 * actors), and details.actor the username (or the system actor's name).
 */
export class AuditLog {
  constructor(private readonly sql: Sql) {}

  async record(entry: AuditEntry, tx: Sql = this.sql): Promise<void> {
    await tx.query(
      `INSERT INTO audit_logs (user_id, action, resource_type, resource_id, details, ip_address, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [entry.ctx.userId ?? null, entry.action, entry.resourceType, entry.resourceId ?? null, JSON.stringify({ ...entry.details, actor: entry.ctx.user, ...(entry.ctx.impersonator ? { impersonator: entry.ctx.impersonator } : {}) }), normalizeIp(entry.ctx.ip), entry.ctx.userAgent ?? null],
    );
  }

  /** Newest first, keyset-paginated on (created_at, id): a page never skips or repeats a row while rows are added. */
  async list(q: AuditQuery): Promise<AuditPage> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown): string => `$${args.push(v)}`;
    if (q.user !== undefined) {
      const u = arg(q.user);
      where.push(`(u.username = ${u} OR (a.user_id IS NULL AND a.details->>'actor' = ${u}))`);
    }
    if (q.project !== undefined) {
      const p = arg(q.project);
      where.push(`(a.details->>'namespace' = ${p} OR (a.resource_type = 'project' AND a.details->>'name' = ${p}))`);
    }
    if (q.action !== undefined) where.push(`a.action = ${arg(q.action)}`);
    if (q.since) where.push(`a.created_at >= ${arg(q.since)}`);
    if (q.after) where.push(`(a.created_at, a.id) < (${arg(q.after.createdAt)}::timestamptz, ${arg(q.after.id)}::bigint)`);
    const rows: Row[] = await this.sql.query(
      `SELECT a.id, to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created, a.user_id, u.username, a.action, a.resource_type, a.resource_id, a.details,
              host(a.ip_address) AS ip_address, a.user_agent
         FROM audit_logs a LEFT JOIN users u ON u.id = a.user_id
         ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
         ORDER BY a.created_at DESC, a.id DESC LIMIT ${arg(q.limit + 1)}`,
      args,
    );
    const more = rows.length > q.limit;
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return { items: page.map(toRecord), ...(more && last ? { next: { createdAt: last.created, id: String(last.id) } } : {}) };
  }

  /** Rows older than `days` go (the retention job; seed: one year). */
  async prune(days = AUDIT_RETENTION_DAYS): Promise<number> {
    return affected(await this.sql.query(`DELETE FROM audit_logs WHERE created_at < now() - make_interval(days => $1)`, [days]));
  }
}

function toRecord(r: Row): AuditRecord {
  const d = r.details ?? {};
  const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
  return {
    id: String(r.id),
    time: r.created,
    user: r.username ?? str(d.actor) ?? "unknown",
    userId: r.user_id,
    action: r.action,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    name: str(d.name),
    namespace: str(d.namespace) ?? (r.resource_type === "project" ? str(d.name) : null),
    ipAddress: r.ip_address,
    userAgent: r.user_agent,
    details: d,
  };
}

function normalizeIp(ip: string | undefined): string | null {
  if (!ip) return null;
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

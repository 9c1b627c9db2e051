import type { RequestContext } from "../core/types.js";
import type { AuditResourceType } from "./entities/audit-log.js";
import type { Sql } from "./sql.js";

export interface AuditEntry {
  action: string;
  resourceType: AuditResourceType;
  resourceId: string | null | undefined;
  /** What happened, secrets already redacted. */
  details: Record<string, unknown>;
  ctx: RequestContext;
}

/**
 * The audit_logs table: one row per API mutation or reveal. The one place these rows are
 * written; the resource store writes them inside the mutation's own transaction.
 */
export class AuditLog {
  constructor(
    private readonly sql: Sql,
    private readonly userId: () => string | undefined = () => undefined,
  ) {}

  async record(entry: AuditEntry, tx: Sql = this.sql): Promise<void> {
    await tx.query(
      `INSERT INTO audit_logs (user_id, action, resource_type, resource_id, details, ip_address, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [this.userId() ?? null, entry.action, entry.resourceType, entry.resourceId ?? null, JSON.stringify({ actor: entry.ctx.user, ...(entry.ctx.impersonator ? { impersonator: entry.ctx.impersonator } : {}), ...entry.details }), normalizeIp(entry.ctx.ip), entry.ctx.userAgent ?? null],
    );
  }
}

function normalizeIp(ip: string | undefined): string | null {
  if (!ip) return null;
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

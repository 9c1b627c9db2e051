/**
 * GET /berth/v1/audit (issue 17): the audit trail per person, newest first, for the admins only
 * (the choke point classifies it as resource "audit", which no other role reaches).
 *
 *   ?user=U          rows of user U (or of a system actor, e.g. system:berth-controller)
 *   ?project=P       rows about objects in Project P and about P itself
 *   ?action=A        create, update, patch, delete, update-status, reveal-credentials, …
 *   ?since=1h|RFC3339  rows at or after that time (a duration counts back from now: s, m, h, d)
 *   ?limit=N         at most N rows (1–1000, default 100); metadata.continue fetches the next page
 *   ?continue=T      the token of the previous page (keyset on created_at, id: stable while rows are added)
 */
import { badRequest } from "../core/errors.js";
import type { AuditCursor, AuditLog, AuditQuery } from "../store/audit.js";
import type { Reply } from "./request.js";

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `15m`, `1h`, `7d` back from `now`, or an RFC 3339 time. */
export function parseSince(text: string, now = Date.now()): Date {
  const m = /^(\d{1,9})(s|m|h|d)$/.exec(text);
  if (m) return new Date(now - Number(m[1]) * UNITS[m[2]]);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    const d = new Date(text);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw badRequest(`since: "${text.slice(0, 64)}" is neither a duration (30m, 1h, 7d) nor an RFC 3339 time`);
}

function parseLimit(text: string | null): number {
  if (text === null || text === "") return DEFAULT_LIMIT;
  if (!/^\d{1,7}$/.test(text) || Number(text) < 1) throw badRequest(`limit: a whole number from 1 to ${MAX_LIMIT}`);
  return Math.min(Number(text), MAX_LIMIT);
}

const encodeCursor = (c: AuditCursor): string => Buffer.from(JSON.stringify([c.createdAt, c.id])).toString("base64url");

function decodeCursor(text: string): AuditCursor {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as unknown[];
    if (typeof createdAt === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(createdAt) && !Number.isNaN(Date.parse(createdAt)) && typeof id === "string" && /^\d{1,19}$/.test(id)) return { createdAt, id };
  } catch {
    // answered below
  }
  throw badRequest("continue: not a token this endpoint gave out");
}

/** A short filter value: a username, Project or action name is never longer. */
function filter(q: URLSearchParams, name: string): string | undefined {
  const v = q.get(name);
  if (v === null || v === "") return undefined;
  if (v.length > 255) throw badRequest(`${name}: at most 255 characters`);
  return v;
}

export class AuditEndpoint {
  constructor(private readonly audit: AuditLog) {}

  async list(q: URLSearchParams): Promise<Reply> {
    const since = filter(q, "since");
    const cont = filter(q, "continue");
    const query: AuditQuery = {
      user: filter(q, "user"),
      project: filter(q, "project"),
      action: filter(q, "action"),
      ...(since ? { since: parseSince(since) } : {}),
      limit: parseLimit(q.get("limit")),
      ...(cont ? { after: decodeCursor(cont) } : {}),
    };
    const page = await this.audit.list(query);
    return { status: 200, body: { kind: "AuditList", apiVersion: "berth.dev/v1", metadata: page.next ? { continue: encodeCursor(page.next) } : {}, items: page.items } };
  }
}

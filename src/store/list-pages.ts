import type { QueryRunner } from "typeorm";
import { ApiError, badRequest } from "../core/errors.js";
import type { KindInfo } from "../core/kinds.js";
import type { ResourceObject } from "../core/types.js";
import { currentRv, objectSelectSql, toObject, type Row } from "./object-rows.js";

/** What a list selects; `matches` (label and field selectors) is applied to each stored object. */
export interface ListFilter {
  namespace?: string;
  name?: string;
  /** Only objects of these Projects (for Projects: these Projects); counts and pages respect it. */
  projects?: readonly string[];
  matches?: (o: ResourceObject) => boolean;
  /** Only objects whose spec has a match for this SQL/JSON path (e.g. `$.jobs[*]`), filtered in SQL. */
  specPath?: string;
}

export interface ListPage {
  items: ResourceObject[];
  resourceVersion: number;
  /** Opaque: where the next page starts and at which resource version (all pages share one). */
  continue?: string;
  /** Objects after this page; only for lists without selectors, as Kubernetes reports it. */
  remainingItemCount?: number;
}

/** An object's place in a list: Kubernetes' key order, namespace then name, bytewise. */
interface Key {
  ns: string;
  name: string;
}

interface Cursor {
  rv: number;
  after: Key;
}

/** Rows read at a time when a selector filters them (a selective one would otherwise mean many small reads). */
const SELECTOR_CHUNK = 500;
/**
 * Rows read at a time otherwise. The pg client parses whatever a read brought in one go, and
 * libuv reads up to 2 MB per turn: a 500-object page of 2.5 KB objects was a 20 ms block in
 * which no other request (a health probe, a small GET) ran. 100 rows is ~250 KB, ~4 ms, and
 * the round trip between two chunks lets others in (issue 21; docs/benchmarks.md). The chunks
 * are keyset reads in the page's one REPEATABLE READ transaction: the same snapshot.
 */
const READ_CHUNK = Number(process.env.BERTH_LIST_READ_CHUNK ?? 100);

/** Bytewise order in SQL (COLLATE "C") and in JS (names are ASCII DNS labels): the same order. */
const C = `COLLATE "C"`;

function keyOf(o: ResourceObject): Key {
  return { ns: o.metadata.namespace ?? "", name: o.metadata.name };
}

function compareKeys(a: Key, b: Key): number {
  if (a.ns !== b.ns) return a.ns < b.ns ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function encodeContinue(c: Cursor): string {
  return Buffer.from(JSON.stringify({ v: 1, rv: c.rv, start: [c.after.ns, c.after.name] })).toString("base64url");
}

function decodeContinue(token: string): Cursor {
  let parsed: { v?: unknown; rv?: unknown; start?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw badRequest("continue key is not valid: it is not a token this server issued");
  }
  const start = parsed?.start;
  const valid = parsed?.v === 1 && Number.isSafeInteger(parsed.rv) && (parsed.rv as number) >= 0 && Array.isArray(start) && start.length === 2 && start.every((s) => typeof s === "string");
  if (!valid) throw badRequest("continue key is not valid: it is not a token this server issued");
  return { rv: parsed.rv as number, after: { ns: (start as string[])[0], name: (start as string[])[1] } };
}

function expired(): ApiError {
  return new ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.");
}

/** SQL conditions and their numbered parameters. */
class Where {
  readonly terms: string[] = [];
  readonly params: unknown[] = [];

  /** The placeholder of a new parameter. */
  param(v: unknown): string {
    return `$${this.params.push(v)}`;
  }

  add(sql: (n: (v: unknown) => string) => string): this {
    this.terms.push(sql((v) => this.param(v)));
    return this;
  }

  get sql(): string {
    return this.terms.length ? `WHERE ${this.terms.join(" AND ")}` : "";
  }
}

/** The whole list at the current resource version (a request without `limit`). */
export async function readAll(qr: QueryRunner, kind: KindInfo, filter: ListFilter): Promise<ListPage> {
  const rv = await currentRv(qr);
  const w = tableWhere(kind, filter, undefined, undefined);
  const rows: Row[] = await qr.query(`${objectSelectSql(kind)} ${w.sql} ORDER BY ${tableKey(kind)}`, w.params);
  const items = rows.map((r) => toObject(kind, r)).filter((o) => !filter.matches || filter.matches(o));
  return { items, resourceVersion: rv };
}

/**
 * One page of a list, as the Kubernetes API pages: at most `limit` objects in key order, all
 * pages read at the first page's resource version. Postgres keeps no old versions across
 * requests, so a later page is the table's rows unchanged since that version plus, for objects
 * changed since, their state then, read from the change log. When compaction dropped what that
 * needs, the continue token has expired (410), as a compacted etcd revision does.
 */
export async function readPage(qr: QueryRunner, kind: KindInfo, filter: ListFilter, page: { limit: number; token: string | undefined }): Promise<ListPage> {
  const { limit, token } = page;
  const cursor = token ? decodeContinue(token) : undefined;
  const rv = cursor?.rv ?? (await currentRv(qr));
  if (cursor) await requireHistory(qr, kind, rv);
  const found: ResourceObject[] = [];
  let after = cursor?.after;
  // Selectors filter after the read: keep reading chunks until the page is full or the list ends.
  for (;;) {
    const n = filter.matches ? Math.max(limit + 1, SELECTOR_CHUNK) : Math.min(limit + 1, READ_CHUNK);
    const chunk = await snapshotChunk(qr, kind, filter, { rv, after, n, history: !!cursor });
    found.push(...chunk.filter((o) => !filter.matches || filter.matches(o)));
    if (found.length > limit || chunk.length < n) break;
    after = keyOf(chunk[chunk.length - 1]);
  }
  const items = found.slice(0, limit);
  if (found.length <= limit) return { items, resourceVersion: rv };
  const last = keyOf(items[items.length - 1]);
  const remainingItemCount = filter.matches ? undefined : await countAfter(qr, kind, filter, { rv, after: last, history: !!cursor });
  return { items, resourceVersion: rv, continue: encodeContinue({ rv, after: last }), remainingItemCount };
}

/**
 * 410 unless the change log still holds what a list at `rv` needs: every change after it, and
 * for each object changed after it (and not created after it) its last change up to it.
 */
async function requireHistory(qr: QueryRunner, kind: KindInfo, rv: number): Promise<void> {
  const oldest = await qr.query(`SELECT min(rv) AS rv FROM resource_changes`);
  if (oldest[0].rv !== null && rv < Number(oldest[0].rv) - 1) throw expired();
  const lost = await qr.query(
    `SELECT 1 FROM (SELECT DISTINCT ON (uid) uid, event_type FROM resource_changes WHERE kind = $1 AND rv > $2 ORDER BY uid, rv) f
      WHERE f.event_type <> 'ADDED' AND NOT EXISTS (SELECT 1 FROM resource_changes c WHERE c.uid = f.uid AND c.rv <= $2) LIMIT 1`,
    [kind.kind, rv],
  );
  if (lost.length) throw expired();
}

function tableKey(kind: KindInfo): string {
  return kind.namespaced ? `p.name ${C}, t.name ${C}` : `t.name ${C}`;
}

/** Conditions on the kind's table: unchanged since `rv` (when given), the filter, after `after`. */
function tableWhere(kind: KindInfo, filter: ListFilter, rv: number | undefined, after: Key | undefined): Where {
  const w = new Where();
  if (rv !== undefined) w.add((n) => `t.resource_version <= ${n(rv)}`);
  if (kind.namespaced && filter.namespace) w.add((n) => `p.name = ${n(filter.namespace)}`);
  if (filter.name) w.add((n) => `t.name = ${n(filter.name)}`);
  if (filter.projects) w.add((n) => `${kind.namespaced ? "p.name" : "t.name"} = ANY(${n(filter.projects)})`);
  if (filter.specPath) w.add((n) => `jsonb_path_exists(t.spec, ${n(filter.specPath)}::jsonpath)`);
  if (after && kind.namespaced) w.add((n) => `(p.name ${C}, t.name ${C}) > (${n(after.ns)}, ${n(after.name)})`);
  if (after && !kind.namespaced) w.add((n) => `t.name ${C} > ${n(after.name)}`);
  return w;
}

/** The log's state at `rv` of the objects of `kind` changed after it (absent ones excluded). */
function historySql(kind: KindInfo, filter: ListFilter, rv: number, after: Key | undefined): { sql: string; params: unknown[] } {
  const w = new Where();
  const k = w.param(kind.kind);
  const r = w.param(rv);
  w.add(() => "s.event_type <> 'DELETED'");
  if (kind.namespaced && filter.namespace) w.add((n) => `s.namespace = ${n(filter.namespace)}`);
  if (filter.name) w.add((n) => `s.name = ${n(filter.name)}`);
  if (filter.projects) w.add((n) => `${kind.namespaced ? "s.namespace" : "s.name"} = ANY(${n(filter.projects)})`);
  if (filter.specPath) w.add((n) => `jsonb_path_exists(coalesce(s.object -> 'spec', '{}'::jsonb), ${n(filter.specPath)}::jsonpath)`);
  if (after) w.add((n) => `(coalesce(s.namespace, '') ${C}, s.name ${C}) > (${n(after.ns)}, ${n(after.name)})`);
  const sql = `WITH later AS (SELECT DISTINCT uid FROM resource_changes WHERE kind = ${k} AND rv > ${r}),
    s AS (SELECT DISTINCT ON (c.uid) c.uid, c.event_type, c.object, c.namespace, c.name FROM resource_changes c JOIN later l ON l.uid = c.uid WHERE c.rv <= ${r} ORDER BY c.uid, c.rv DESC)
    SELECT s.object FROM s ${w.sql}`;
  return { sql, params: w.params };
}

/** The next `n` objects after `after` at version `rv`, in key order. */
async function snapshotChunk(qr: QueryRunner, kind: KindInfo, filter: ListFilter, at: { rv: number; after: Key | undefined; n: number; history: boolean }): Promise<ResourceObject[]> {
  const w = tableWhere(kind, filter, at.rv, at.after);
  const rows: Row[] = await qr.query(`${objectSelectSql(kind)} ${w.sql} ORDER BY ${tableKey(kind)} LIMIT ${at.n}`, w.params);
  const current = rows.map((row) => toObject(kind, row));
  // A first page is read in the transaction that read `rv`: nothing in it changed after `rv`.
  if (!at.history) return current;
  const h = historySql(kind, filter, at.rv, at.after);
  const changed: { object: ResourceObject }[] = await qr.query(`${h.sql} ORDER BY coalesce(s.namespace, '') ${C}, s.name ${C} LIMIT ${at.n}`, h.params);
  return [...current, ...changed.map((c) => c.object)].sort((a, b) => compareKeys(keyOf(a), keyOf(b))).slice(0, at.n);
}

async function countAfter(qr: QueryRunner, kind: KindInfo, filter: ListFilter, at: { rv: number; after: Key; history: boolean }): Promise<number> {
  const { rv, after, history } = at;
  const w = tableWhere(kind, filter, rv, after);
  const join = kind.namespaced ? `JOIN projects p ON p.id = t.project_id` : "";
  const rows = await qr.query(`SELECT count(*) AS n FROM ${kind.table} t ${join} ${w.sql}`, w.params);
  if (!history) return Number(rows[0].n);
  const h = historySql(kind, filter, rv, after);
  const changed = await qr.query(`SELECT count(*) AS n FROM (${h.sql}) x`, h.params);
  return Number(rows[0].n) + Number(changed[0].n);
}

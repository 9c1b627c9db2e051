import type { DataSource } from "typeorm";
import { ApiError } from "../core/errors.js";
import type { RequestContext } from "../core/types.js";
import type { AuditLog } from "./audit.js";
import { generateKey, writeKeyFile } from "./keyring.js";
import type { SecretBox } from "./secrets.js";
import { returned, rollbackQuietly, type Sql } from "./sql.js";

/**
 * `berth rotate-key` (ADR 0016): every value SecretBox encrypted is re-encrypted under a new key
 * while the server keeps serving, then the old keys retire.
 *
 * 1. The rotation's row is stored (new key id, the ids that retire), then the new key is
 *    written to the key file as primary with the old keys after it, then the box switches: from
 *    here every write encrypts and seals under the new key, and both keys open.
 * 2. Each table below is walked in keyset order, one batch per transaction: the batch's rows
 *    are locked, every `enc:v1:` value not under the new key is re-encrypted, and the table's
 *    cursor and counts are stored in the same transaction. A crash loses at most the batch in
 *    flight; a restart resumes from the cursors.
 * 3. A verifying pass walks everything again (a reader that held an old value across the first
 *    pass may have written it back); it repeats until a pass re-encrypts nothing.
 * 4. The old keys leave the key file and the box, the row says completed, the audit log names
 *    the user who started it. Only key ids are ever stored or shown, never a key or a plaintext.
 */

/** A table holding ciphertext: its keyset column (and type) and the columns to re-encrypt. */
interface SecretTable {
  table: string;
  key: string;
  keyType: "uuid" | "bigint" | "text";
  columns: { name: string; type: "jsonb" | "text" }[];
}

/** Everywhere SecretBox ciphertext lives (ADR 0003, 0006, 0013, 0022; the credentials of ADR databases). */
export const SECRET_TABLES: readonly SecretTable[] = [
  { table: "applications", key: "id", keyType: "uuid", columns: [{ name: "spec", type: "jsonb" }, { name: "annotations", type: "jsonb" }] },
  { table: "syncs", key: "id", keyType: "uuid", columns: [{ name: "spec", type: "jsonb" }, { name: "annotations", type: "jsonb" }] },
  { table: "notifications", key: "id", keyType: "uuid", columns: [{ name: "spec", type: "jsonb" }, { name: "annotations", type: "jsonb" }] },
  { table: "backup_destinations", key: "id", keyType: "uuid", columns: [{ name: "spec", type: "jsonb" }, { name: "annotations", type: "jsonb" }] },
  { table: "env_vars", key: "id", keyType: "uuid", columns: [{ name: "value", type: "text" }] },
  { table: "databases", key: "id", keyType: "uuid", columns: [{ name: "credentials", type: "text" }, { name: "connection_string", type: "text" }] },
  { table: "berth_retained_credentials", key: "volume_name", keyType: "text", columns: [{ name: "credentials", type: "text" }] },
  { table: "certificates", key: "id", keyType: "uuid", columns: [{ name: "private_key", type: "text" }] },
  { table: "deployments", key: "id", keyType: "uuid", columns: [{ name: "metadata", type: "jsonb" }] },
  { table: "resource_changes", key: "rv", keyType: "bigint", columns: [{ name: "object", type: "jsonb" }] },
  // A Project's registry passwords (ADR 0022).
  { table: "projects", key: "id", keyType: "uuid", columns: [{ name: "spec", type: "jsonb" }, { name: "annotations", type: "jsonb" }] },
];

/** One table's progress: where the pass is, and what was re-encrypted so far (all passes). */
export interface TableProgress {
  cursor: string | null;
  done: boolean;
  /** Rows with at least one value re-encrypted. */
  rows: number;
  /** Values re-encrypted. */
  values: number;
  /** Values no key of the ring opens (corrupt or foreign): left as they are, counted. */
  unreadable: number;
}

export type RotationStatus = "running" | "completed" | "abandoned";

export interface KeyRotation {
  id: string;
  status: RotationStatus;
  newKeyId: string;
  oldKeyIds: string[];
  /** 1 is the re-encrypting pass; later passes verify (and catch stragglers). */
  pass: number;
  /** Rows the current pass re-encrypted so far (a verifying pass that ends at 0 completes the rotation). */
  passChanged: number;
  batches: number;
  tables: Record<string, TableProgress>;
  startedBy: string;
  startedAt: string;
  finishedAt: string | null;
  /** Milliseconds from start to finish (or to now while it runs). */
  durationMs: number;
  /** Set when the old keys are still configured and only the operator can remove them (BERTH_SECRET_KEY). */
  removeFromEnvironment?: string[];
}

interface Row {
  id: string;
  status: RotationStatus;
  new_key_id: string;
  old_key_ids: string[];
  progress: { pass?: number; passChanged?: number; tables?: Record<string, TableProgress>; removeFromEnvironment?: string[] };
  batches: number;
  started_by: string | null;
  started_by_name: string;
  started_at: Date;
  finished_at: Date | null;
}

/** 409: the rotation cannot start or go on in this state; the message says why. */
function busy(message: string): ApiError {
  return new ApiError(409, "Conflict", message);
}

const ENC_TOKEN = /enc:v1:[A-Za-z0-9_-]+/g;
export const DEFAULT_BATCH_SIZE = 100;

function freshTables(): Record<string, TableProgress> {
  return Object.fromEntries(SECRET_TABLES.map((t) => [t.table, { cursor: null, done: false, rows: 0, values: 0, unreadable: 0 }]));
}

function toRotation(r: Row): KeyRotation {
  const end = r.finished_at ? new Date(r.finished_at).getTime() : Date.now();
  return {
    id: String(r.id),
    status: r.status,
    newKeyId: r.new_key_id,
    oldKeyIds: r.old_key_ids,
    pass: r.progress.pass ?? 1,
    passChanged: r.progress.passChanged ?? 0,
    batches: r.batches,
    tables: { ...freshTables(), ...(r.progress.tables ?? {}) },
    startedBy: r.started_by_name,
    startedAt: new Date(r.started_at).toISOString(),
    finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
    durationMs: end - new Date(r.started_at).getTime(),
    ...(r.progress.removeFromEnvironment ? { removeFromEnvironment: r.progress.removeFromEnvironment } : {}),
  };
}

/**
 * Every `enc:v1:` value in `text` not under the primary key, re-encrypted under it (a value in
 * kubectl's last-applied annotation is a token inside a JSON string: base64url needs no escape).
 */
export function reencryptText(box: SecretBox, text: string): { text: string; values: number; unreadable: number } {
  let values = 0;
  let unreadable = 0;
  const out = text.replace(ENC_TOKEN, (token) => {
    const id = box.keyIdOf(token);
    if (id === box.primaryId) return token;
    if (id === undefined) {
      unreadable++;
      return token;
    }
    values++;
    return box.encrypt(box.decrypt(token));
  });
  return { text: out, values, unreadable };
}

/** The UPDATE that re-encrypts one row's values (counted into `p`), or undefined when none needs it. */
function rowUpdate(table: SecretTable, row: Record<string, string | null>, box: SecretBox, p: TableProgress): { sql: string; args: unknown[] } | undefined {
  const sets: string[] = [];
  const args: unknown[] = [row.k];
  for (const c of table.columns) {
    const value = row[c.name];
    if (value === null || !value.includes("enc:v1:")) continue;
    const r = reencryptText(box, value);
    p.unreadable += r.unreadable;
    if (!r.values) continue;
    p.values += r.values;
    args.push(r.text);
    sets.push(`${c.name} = $${args.length}::${c.type}`);
  }
  return sets.length ? { sql: `UPDATE ${table.table} SET ${sets.join(", ")} WHERE ${table.key} = $1::${table.keyType}`, args } : undefined;
}

/** The store side of a rotation: its state row and the batches, each in one transaction. */
export class KeyRotationStore {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditLog,
  ) {}

  async current(): Promise<KeyRotation | undefined> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM berth_key_rotations WHERE status = 'running'`);
    return rows[0] && toRotation(rows[0]);
  }

  /** The running rotation, else the newest one. */
  async latest(): Promise<KeyRotation | undefined> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM berth_key_rotations ORDER BY (status = 'running') DESC, id DESC LIMIT 1`);
    return rows[0] && toRotation(rows[0]);
  }

  /** Stores a new running rotation and its audit row (one transaction); 409 if one runs already. */
  async begin(newKeyId: string, oldKeyIds: string[], ctx: RequestContext): Promise<KeyRotation> {
    return await this.tx(async (q) => {
      const rows = returned<Row>(await q.query(
        `INSERT INTO berth_key_rotations (new_key_id, old_key_ids, progress, started_by, started_by_name) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING RETURNING *`,
        [newKeyId, JSON.stringify(oldKeyIds), JSON.stringify({ pass: 1, tables: freshTables() }), ctx.userId ?? null, ctx.user],
      ));
      if (!rows[0]) throw busy("a key rotation is already running");
      await this.audit.record({ action: "rotate-key", resourceType: "installation", resourceId: null, details: { name: "secret-key", phase: "started", rotation: String(rows[0].id), newKeyId, oldKeyIds }, ctx }, q);
      return toRotation(rows[0]);
    });
  }

  /** A rotation whose new key this process does not have (lost before the key file was written): nothing used it. */
  async abandon(id: string): Promise<void> {
    await this.ds.query(`UPDATE berth_key_rotations SET status = 'abandoned', finished_at = now() WHERE id = $1 AND status = 'running'`, [id]);
  }

  /**
   * One batch of one table: its next `batchSize` rows (locked) re-encrypted, the cursor and
   * counts stored with them. Returns the rows changed; the table is done when fewer came back.
   */
  async batch(rotationId: string, table: SecretTable, box: SecretBox, batchSize: number): Promise<{ changed: number; done: boolean }> {
    return await this.tx(async (q) => {
      const state: Row[] = await q.query(`SELECT * FROM berth_key_rotations WHERE id = $1 AND status = 'running' FOR UPDATE`, [rotationId]);
      if (!state[0]) throw busy("the key rotation is no longer running");
      const progress = { pass: state[0].progress.pass ?? 1, passChanged: state[0].progress.passChanged ?? 0, tables: { ...freshTables(), ...(state[0].progress.tables ?? {}) } };
      const p = progress.tables[table.table];
      const cols = table.columns.map((c) => `${c.name}::text AS ${c.name}`).join(", ");
      const after = p.cursor === null ? "" : `WHERE ${table.key} > $2::${table.keyType}`;
      const rows: Record<string, string | null>[] = await q.query(
        `SELECT ${table.key}::text AS k, ${cols} FROM ${table.table} ${after} ORDER BY ${table.key} LIMIT $1 FOR UPDATE`,
        p.cursor === null ? [batchSize] : [batchSize, p.cursor],
      );
      let changed = 0;
      for (const row of rows) {
        const update = rowUpdate(table, row, box, p);
        if (!update) continue;
        changed++;
        await q.query(update.sql, update.args);
      }
      p.rows += changed;
      progress.passChanged += changed;
      if (rows.length) p.cursor = rows[rows.length - 1].k;
      p.done = rows.length < batchSize;
      await q.query(`UPDATE berth_key_rotations SET progress = $2, batches = batches + 1 WHERE id = $1`, [rotationId, JSON.stringify(progress)]);
      return { changed, done: p.done };
    });
  }

  /** Every table walked again from the start: the verifying pass. */
  async nextPass(rotationId: string): Promise<void> {
    await this.tx(async (q) => {
      const state: Row[] = await q.query(`SELECT * FROM berth_key_rotations WHERE id = $1 FOR UPDATE`, [rotationId]);
      const tables = { ...freshTables(), ...(state[0].progress.tables ?? {}) };
      for (const t of Object.values(tables)) Object.assign(t, { cursor: null, done: false });
      await q.query(`UPDATE berth_key_rotations SET progress = $2 WHERE id = $1`, [rotationId, JSON.stringify({ ...state[0].progress, pass: (state[0].progress.pass ?? 1) + 1, passChanged: 0, tables })]);
    });
  }

  /** The rotation is complete: its row and the audit row that names who started it (one transaction). */
  async complete(rotationId: string, removeFromEnvironment: string[] | undefined): Promise<KeyRotation> {
    return await this.tx(async (q) => {
      const state: Row[] = await q.query(`SELECT * FROM berth_key_rotations WHERE id = $1 FOR UPDATE`, [rotationId]);
      const progress = { ...state[0].progress, ...(removeFromEnvironment?.length ? { removeFromEnvironment } : {}) };
      const rows = returned<Row>(await q.query(`UPDATE berth_key_rotations SET status = 'completed', finished_at = now(), progress = $2 WHERE id = $1 RETURNING *`, [rotationId, JSON.stringify(progress)]));
      const done = toRotation(rows[0]);
      const reencrypted = Object.fromEntries(Object.entries(done.tables).map(([t, p]) => [t, { rows: p.rows, values: p.values, unreadable: p.unreadable }]));
      const ctx: RequestContext = { user: state[0].started_by_name, ...(state[0].started_by ? { userId: state[0].started_by } : {}) };
      await this.audit.record({ action: "rotate-key", resourceType: "installation", resourceId: null, details: { name: "secret-key", phase: "completed", rotation: done.id, newKeyId: done.newKeyId, retiredKeyIds: done.oldKeyIds, reencrypted, durationMs: done.durationMs, passes: done.pass }, ctx }, q);
      return done;
    });
  }

  private async tx<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    const qr = this.ds.createQueryRunner();
    try {
      await qr.connect();
      await qr.startTransaction();
      const out = await fn(qr);
      await qr.commitTransaction();
      return out;
    } catch (e) {
      await rollbackQuietly(qr);
      throw e;
    } finally {
      await qr.release();
    }
  }
}

export interface RunOptions {
  batchSize?: number;
  /** Tests: return after this many batches, as a crash would leave it (nothing is finished). */
  stopAfterBatches?: number;
}

/**
 * Drives a rotation in this process: starts one (or resumes the running one), walks the tables
 * batch by batch, verifies, retires the old keys. One run at a time per process; the rotation
 * row's lock serialises batches across processes.
 */
export class KeyRotator {
  private running: Promise<KeyRotation> | undefined;
  private stopping = false;
  /** Why the last run in this process stopped before completing (never a key or a plaintext: errors of SQL or the file). */
  lastError: string | undefined;

  constructor(
    private readonly store: KeyRotationStore,
    private readonly box: SecretBox,
    private readonly log: (message: string, fields: Record<string, unknown>) => void = () => undefined,
  ) {}

  /** The server stops: the run ends after its batch in flight (committed; a restart resumes). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
  }

  status(): Promise<KeyRotation | undefined> {
    return this.store.latest();
  }

  /** Whether this process is driving a rotation now. */
  get active(): boolean {
    return this.running !== undefined;
  }

  /**
   * Starts a rotation (or picks up the running one) and returns its state once the new key is
   * in force; the re-encryption goes on in the background (`done` settles when it ends).
   */
  async start(ctx: RequestContext, opts: RunOptions = {}): Promise<{ rotation: KeyRotation; done: Promise<KeyRotation> }> {
    const rotation = await this.prepare(ctx);
    this.running ??= this.tracked(this.run(rotation.id, opts));
    const done = this.running;
    done.catch((e) => this.log("key rotation stopped", { rotation: rotation.id, error: String(e) }));
    return { rotation, done };
  }

  /** At start-up: a rotation left running (a crash, a restart) goes on where it stopped. */
  async resume(opts: RunOptions = {}): Promise<Promise<KeyRotation> | undefined> {
    const current = await this.store.current();
    if (!current || (await this.abandonedIfKeyLost(current))) return undefined;
    if (this.box.primaryId !== current.newKeyId) {
      this.log("key rotation not resumed: its new key is not this keyring's primary", { rotation: current.id, newKeyId: current.newKeyId });
      return undefined;
    }
    this.running ??= this.tracked(this.run(current.id, opts));
    return this.running;
  }

  /**
   * A rotation that never ran a batch and whose new key is in no keyring here: the process that
   * began it stopped before writing the key file, so nothing can have used that key. Marked
   * abandoned (true). A rotation that ran batches is another keyring's to finish: left alone.
   */
  private async abandonedIfKeyLost(r: KeyRotation): Promise<boolean> {
    if (r.batches > 0 || this.box.keyIds().includes(r.newKeyId)) return false;
    await this.store.abandon(r.id);
    this.log("key rotation abandoned: its new key never reached the keyring", { rotation: r.id, newKeyId: r.newKeyId });
    return true;
  }

  private tracked(run: Promise<KeyRotation>): Promise<KeyRotation> {
    this.lastError = undefined;
    return run
      .catch((e: unknown) => {
        this.lastError = e instanceof Error ? e.message : String(e);
        throw e;
      })
      .finally(() => (this.running = undefined));
  }

  /** The running rotation this keyring can drive, or a new one with its new key in force. */
  private async prepare(ctx: RequestContext): Promise<KeyRotation> {
    const current = await this.store.current();
    if (current && this.box.primaryId === current.newKeyId) return current;
    if (current && !(await this.abandonedIfKeyLost(current))) throw busy(`a key rotation to key ${current.newKeyId} is running, and this server's primary key is ${this.box.primaryId}: give this server the same keyring (docs/secrets.md)`);
    const keys = this.box.keys();
    const source = this.box.source;
    if (keys.length > 1) {
      // A keyring that already lists a new key first (BERTH_SECRET_KEY, or an edited file): rotate to it.
      return await this.store.begin(keys[0].id, keys.slice(1).map((k) => k.id), ctx);
    }
    if (source?.kind !== "file") {
      throw busy(
        "the installation key comes from BERTH_SECRET_KEY, which Berth cannot rewrite: put a new key first in it (BERTH_SECRET_KEY=<new-id>:<64 hex>,<old-id>:<64 hex>) on every server, then run berth rotate-key again (docs/secrets.md)",
      );
    }
    const fresh = generateKey();
    // The state first, then the key file, then the box: a crash between them leaves a rotation
    // whose key never reached the keyring (abandoned on resume), never a key the state does not know.
    const rotation = await this.store.begin(fresh.id, keys.map((k) => k.id), ctx);
    writeKeyFile(source.path, [fresh, ...keys]);
    this.box.setKeys([fresh, ...keys]);
    return rotation;
  }

  /** A batch that lost a deadlock or a serialization race to a concurrent write is tried again. */
  private async withRetry<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const code = (e as { driverError?: { code?: string }; code?: string }).driverError?.code ?? (e as { code?: string }).code;
        if (attempt >= 5 || (code !== "40P01" && code !== "40001")) throw e;
        await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
      }
    }
  }

  private async run(id: string, opts: RunOptions): Promise<KeyRotation> {
    const budget = { batchSize: Math.max(1, opts.batchSize ?? DEFAULT_BATCH_SIZE), left: opts.stopAfterBatches ?? Infinity };
    for (;;) {
      const state = await this.store.current();
      if (!state || state.id !== id) throw busy("the key rotation is no longer running");
      for (const table of SECRET_TABLES) {
        // A rotation begun before a table was listed has no progress for it yet: that table is still to do.
        if (state.tables[table.table]?.done) continue;
        if (!(await this.walk(id, table, budget))) return (await this.store.current())!;
      }
      // A pass that re-encrypted nothing (after the first) proves every value is under the new key.
      const after = (await this.store.current())!;
      if (after.pass > 1 && after.passChanged === 0) break;
      await this.store.nextPass(id);
    }
    return await this.retire(id);
  }

  /** One table to its end, batch by batch; false when the run must stop first (server stopping, test budget). */
  private async walk(id: string, table: SecretTable, budget: { batchSize: number; left: number }): Promise<boolean> {
    for (;;) {
      if (this.stopping || budget.left <= 0) return false;
      const r = await this.withRetry(() => this.store.batch(id, table, this.box, budget.batchSize));
      budget.left--;
      // Let requests in between batches: the server keeps serving.
      await new Promise((resolve) => setImmediate(resolve));
      if (r.done) return true;
    }
  }

  /** The old keys leave the key file (a BERTH_SECRET_KEY is the operator's to edit) and the box. */
  private async retire(id: string): Promise<KeyRotation> {
    const state = (await this.store.current())!;
    const keep = this.box.keys().filter((k) => !state.oldKeyIds.includes(k.id));
    const source = this.box.source;
    if (source?.kind === "file") {
      writeKeyFile(source.path, keep);
      this.box.setKeys(keep);
    }
    const done = await this.store.complete(id, source?.kind === "file" ? undefined : state.oldKeyIds);
    this.log("key rotation completed", { rotation: id, newKeyId: done.newKeyId, retired: done.oldKeyIds, durationMs: done.durationMs });
    return done;
  }
}

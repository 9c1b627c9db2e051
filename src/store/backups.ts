import type { DataSource } from "typeorm";
import { backupsToKeep, type KeepPolicy } from "../core/backup-rotation.js";
import type { BackupInfo, RestoreInfo } from "../core/records.js";
import { iso, returned, type Sql } from "./sql.js";

export type { BackupInfo, RestoreInfo };

/** A successful backup retention is about to remove: where its dump is. */
export interface ExpiredBackup {
  id: string;
  path: string | null;
  destination: string | null;
}

/**
 * Which successful backups to keep, and how the dumps of the others go. `remove` returns the ids
 * whose dumps are gone (or were never there); only their rows are deleted, so a dump that could
 * not be deleted (a destination that is down) keeps its row and the next pass tries again.
 */
export interface Retention {
  policy: KeepPolicy;
  remove: (expired: ExpiredBackup[]) => Promise<Set<string>>;
}

/** Where a finished dump is. */
export interface StoredDump {
  path: string;
  bytes: number;
  sha256: string;
  destination: string | null;
}

export interface PendingOperation {
  kind: "backup" | "restore";
  id: string;
  databaseId: string;
}

type Row = Record<string, any>;

function toBackup(r: Row): BackupInfo {
  return {
    id: r.id,
    databaseId: r.database_id,
    status: r.status,
    source: r.source,
    sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
    path: r.storage_path,
    error: r.error,
    createdAt: iso(r.created_at),
    completedAt: r.completed_at ? iso(r.completed_at) : null,
    destination: r.destination ?? null,
    sha256: r.sha256 ? String(r.sha256).trim() : null,
  };
}

function toRestore(r: Row): RestoreInfo {
  return { id: r.id, databaseId: r.database_id, backupId: r.backup_id, status: r.status, error: r.error, createdAt: iso(r.created_at), completedAt: r.completed_at ? iso(r.completed_at) : null };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Backups and restores as a queue of rows: the API and the schedule insert `pending` rows, the
 * controller leader's worker claims them (pending → running → success | failed). These rows
 * are state that cannot be derived again, so they commit synchronously (ADR 0005).
 */
export class BackupQueue {
  constructor(private readonly ds: DataSource) {}

  /** Rows a previous leader was running when it died can never finish. */
  async failInterrupted(): Promise<void> {
    const why = "interrupted: the Berth process running it stopped";
    await this.ds.query(`UPDATE backups SET status = 'failed', error = $1, completed_at = now() WHERE status = 'running'`, [why]);
    await this.ds.query(`UPDATE restores SET status = 'failed', error = $1, completed_at = now() WHERE status = 'running'`, [why]);
  }

  async lastScheduledAt(dbUid: string): Promise<Date | undefined> {
    const rows: { created_at: Date }[] = await this.ds.query(`SELECT created_at FROM backups WHERE database_id = $1 AND source = 'schedule' ORDER BY created_at DESC LIMIT 1`, [dbUid]);
    return rows[0]?.created_at;
  }

  async requestBackup(dbUid: string, source: "manual" | "schedule", at?: Date): Promise<BackupInfo> {
    const rows: Row[] = await this.ds.query(`INSERT INTO backups (database_id, status, source, created_at) VALUES ($1, 'pending', $2, coalesce($3, now())) RETURNING *`, [dbUid, source, at ?? null]);
    return toBackup(rows[0]);
  }

  async requestRestore(dbUid: string, backupId: string): Promise<RestoreInfo> {
    const rows: Row[] = await this.ds.query(`INSERT INTO restores (database_id, backup_id, status) VALUES ($1, $2, 'pending') RETURNING *`, [dbUid, backupId]);
    return toRestore(rows[0]);
  }

  /** Pending requests, oldest first. */
  async pending(): Promise<PendingOperation[]> {
    const rows: { kind: "backup" | "restore"; id: string; database_id: string }[] = await this.ds.query(
      `SELECT 'backup' AS kind, id, database_id, created_at FROM backups WHERE status = 'pending'
       UNION ALL SELECT 'restore' AS kind, id, database_id, created_at FROM restores WHERE status = 'pending'
       ORDER BY created_at`,
    );
    return rows.map((r) => ({ kind: r.kind, id: r.id, databaseId: r.database_id }));
  }

  /** pending → running; false when another worker (or a cancel) got there first. */
  async claim(op: PendingOperation): Promise<boolean> {
    const table = op.kind === "backup" ? "backups" : "restores";
    return returned(await this.ds.query(`UPDATE ${table} SET status = 'running' WHERE id = $1 AND status = 'pending' RETURNING id`, [op.id])).length > 0;
  }

  async backup(id: string): Promise<BackupInfo | undefined> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM backups WHERE id = $1`, [id]);
    return rows[0] ? toBackup(rows[0]) : undefined;
  }

  async restore(id: string): Promise<RestoreInfo | undefined> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM restores WHERE id = $1`, [id]);
    return rows[0] ? toRestore(rows[0]) : undefined;
  }

  async backupsOf(dbUid: string): Promise<BackupInfo[]> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM backups WHERE database_id = $1 ORDER BY created_at DESC, id DESC`, [dbUid]);
    return rows.map(toBackup);
  }

  async restoresOf(dbUid: string): Promise<RestoreInfo[]> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM restores WHERE database_id = $1 ORDER BY created_at DESC, id DESC`, [dbUid]);
    return rows.map(toRestore);
  }

  /** A backup of this database by id or unique id prefix (as `berth db backups` shows them). */
  async findBackup(dbUid: string, idOrPrefix: string): Promise<BackupInfo[]> {
    const rows: Row[] = UUID.test(idOrPrefix)
      ? await this.ds.query(`SELECT * FROM backups WHERE database_id = $1 AND id = $2`, [dbUid, idOrPrefix])
      : /^[0-9a-f-]{4,}$/i.test(idOrPrefix)
        ? await this.ds.query(`SELECT * FROM backups WHERE database_id = $1 AND id::text LIKE $2`, [dbUid, `${idOrPrefix.toLowerCase()}%`])
        : [];
    return rows.map(toBackup);
  }

  /** The newest finished backup: what the Database's status reports. */
  async lastFinished(dbUid: string): Promise<BackupInfo | undefined> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM backups WHERE database_id = $1 AND status IN ('success', 'failed') ORDER BY created_at DESC, id DESC LIMIT 1`, [dbUid]);
    return rows[0] ? toBackup(rows[0]) : undefined;
  }

  /**
   * Marks a backup successful and applies retention in one transaction, so no reader sees it
   * succeeded while retention is still owed. Dumps are removed before the commit; if the commit
   * fails, rows of backups due to go anyway point at no dump and the next retention removes them.
   */
  async succeedBackup(id: string, dump: StoredDump, retention: Retention): Promise<number> {
    return await this.ds.transaction(async (m) => {
      await m.query(`UPDATE backups SET status = 'success', storage_path = $2, size_bytes = $3, sha256 = $4, destination = $5, completed_at = now(), error = NULL WHERE id = $1`, [id, dump.path, dump.bytes, dump.sha256, dump.destination]);
      const rows: Row[] = await m.query(`SELECT database_id FROM backups WHERE id = $1`, [id]);
      return this.applyRetention(m, rows[0].database_id, retention);
    });
  }

  /** Keeps the successful backups the policy keeps (dumps and rows); failed rows older than all of them go too. */
  async applyRetention(sql: Sql, dbUid: string, { policy, remove }: Retention): Promise<number> {
    if (!policy.last && !policy.rotation) return 0;
    const successes: { id: string; storage_path: string | null; destination: string | null; created_at: Date }[] = await sql.query(
      `SELECT id, storage_path, destination, created_at FROM backups WHERE database_id = $1 AND status = 'success' ORDER BY created_at DESC, id DESC`,
      [dbUid],
    );
    const keep = backupsToKeep(successes.map((b) => ({ id: b.id, createdAt: b.created_at })), policy);
    const expired = successes.filter((b) => !keep.has(b.id));
    const gone = expired.length ? await remove(expired.map((b) => ({ id: b.id, path: b.storage_path, destination: b.destination }))) : new Set<string>();
    if (gone.size) await sql.query(`DELETE FROM backups WHERE id = ANY($1::uuid[])`, [[...gone]]);
    const kept = successes.filter((b) => keep.has(b.id));
    const oldestKept = kept[kept.length - 1];
    // As before rotation: once the policy holds a full set, failed attempts older than it are history.
    if (oldestKept && (expired.length || (policy.last && successes.length >= policy.last))) {
      await sql.query(`DELETE FROM backups WHERE database_id = $1 AND status = 'failed' AND created_at < $2`, [dbUid, oldestKept.created_at]);
    }
    return gone.size;
  }

  async failBackup(id: string, error: string): Promise<void> {
    await this.ds.query(`UPDATE backups SET status = 'failed', error = $2, completed_at = now() WHERE id = $1`, [id, error]);
  }

  async succeedRestore(id: string): Promise<void> {
    await this.ds.query(`UPDATE restores SET status = 'success', completed_at = now(), error = NULL WHERE id = $1`, [id]);
  }

  async failRestore(id: string, error: string): Promise<void> {
    await this.ds.query(`UPDATE restores SET status = 'failed', error = $2, completed_at = now() WHERE id = $1`, [id, error]);
  }
}

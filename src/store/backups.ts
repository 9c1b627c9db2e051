import type { DataSource } from "typeorm";
import type { BackupInfo, RestoreInfo } from "../core/records.js";
import { iso, returned, type Sql } from "./sql.js";

export type { BackupInfo, RestoreInfo };

/** How many successful backups to keep, and how their files go. */
export interface Retention {
  keep: number | undefined;
  removeFile: (path: string) => void;
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
   * succeeded while retention is still owed. `removeFile` runs before the commit; if the commit
   * fails, rows of backups due to go anyway point at no file and the next retention removes them.
   */
  async succeedBackup(id: string, file: { path: string; bytes: number }, retention: Retention): Promise<number> {
    return await this.ds.transaction(async (m) => {
      await m.query(`UPDATE backups SET status = 'success', storage_path = $2, size_bytes = $3, completed_at = now(), error = NULL WHERE id = $1`, [id, file.path, file.bytes]);
      const rows: Row[] = await m.query(`SELECT database_id FROM backups WHERE id = $1`, [id]);
      return this.applyRetention(m, rows[0].database_id, retention);
    });
  }

  /** Keeps the newest `keep` successful backups (files and rows); older failed rows go with them. */
  async applyRetention(sql: Sql, dbUid: string, { keep, removeFile }: Retention): Promise<number> {
    if (!keep) return 0;
    const successes: { id: string; storage_path: string | null; created_at: Date }[] = await sql.query(
      `SELECT id, storage_path, created_at FROM backups WHERE database_id = $1 AND status = 'success' ORDER BY created_at DESC, id DESC`,
      [dbUid],
    );
    const old = successes.slice(keep);
    for (const b of old) {
      if (b.storage_path) removeFile(b.storage_path);
      await sql.query(`DELETE FROM backups WHERE id = $1`, [b.id]);
    }
    const oldestKept = successes[Math.min(keep, successes.length) - 1];
    if (oldestKept && successes.length >= keep) {
      await sql.query(`DELETE FROM backups WHERE database_id = $1 AND status = 'failed' AND created_at < $2`, [dbUid, oldestKept.created_at]);
    }
    return old.length;
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

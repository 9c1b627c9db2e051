import type { DataSource } from "typeorm";
import type { VolumeBackupInfo, VolumeRestoreInfo } from "../core/records.js";
import { iso, returned } from "./sql.js";

export type { VolumeBackupInfo, VolumeRestoreInfo };

/** Where a finished archive is. */
export interface StoredArchive {
  path: string;
  bytes: number;
  sha256: string;
  destination: string | null;
}

/** A successful backup retention is about to remove. */
export interface ExpiredArchive {
  id: string;
  path: string | null;
  destination: string | null;
}

export interface PendingVolumeOperation {
  kind: "backup" | "restore";
  id: string;
  applicationUid: string;
}

type Row = Record<string, any>;

function toBackup(r: Row): VolumeBackupInfo {
  return {
    id: r.id,
    applicationUid: r.application_id,
    volume: r.volume_name,
    status: r.status,
    source: r.source,
    sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
    path: r.storage_path,
    destination: r.destination ?? null,
    sha256: r.sha256 ? String(r.sha256).trim() : null,
    error: r.error,
    createdAt: iso(r.created_at),
    completedAt: r.completed_at ? iso(r.completed_at) : null,
  };
}

function toRestore(r: Row): VolumeRestoreInfo {
  return {
    id: r.id,
    applicationUid: r.application_id,
    backupId: r.backup_id,
    targetVolume: r.target_volume,
    overwrite: !!r.overwrite,
    status: r.status,
    error: r.error,
    createdAt: iso(r.created_at),
    completedAt: r.completed_at ? iso(r.completed_at) : null,
  };
}

/**
 * Backups of Applications' named volumes and their restores (ADR 0024): two queues of rows, as
 * Database backups are. They record archives that cannot be derived again, so they commit
 * synchronously (ADR 0005).
 */
export class VolumeBackupStore {
  constructor(private readonly ds: DataSource) {}

  /** Rows a previous leader was running when it died can never finish. */
  async failInterrupted(): Promise<void> {
    const why = "interrupted: the Berth process running it stopped";
    await this.ds.query(`UPDATE volume_backups SET status = 'failed', error = $1, completed_at = now() WHERE status = 'running'`, [why]);
    await this.ds.query(`UPDATE volume_restores SET status = 'failed', error = $1, completed_at = now() WHERE status = 'running'`, [why]);
  }

  async lastScheduledAt(appUid: string, volume: string): Promise<Date | undefined> {
    const rows: { created_at: Date }[] = await this.ds.query(`SELECT created_at FROM volume_backups WHERE application_id = $1 AND volume_name = $2 AND source = 'schedule' ORDER BY created_at DESC LIMIT 1`, [appUid, volume]);
    return rows[0]?.created_at;
  }

  /** Whether a backup of the volume is waiting or running (a schedule never queues a second). */
  async hasOpenBackup(appUid: string, volume: string): Promise<boolean> {
    const rows: unknown[] = await this.ds.query(`SELECT 1 FROM volume_backups WHERE application_id = $1 AND volume_name = $2 AND status IN ('pending', 'running') LIMIT 1`, [appUid, volume]);
    return rows.length > 0;
  }

  async requestBackup(appUid: string, volume: string, source: "manual" | "schedule", at?: Date): Promise<VolumeBackupInfo> {
    const rows: Row[] = await this.ds.query(`INSERT INTO volume_backups (application_id, volume_name, status, source, created_at) VALUES ($1, $2, 'pending', $3, coalesce($4, now())) RETURNING *`, [appUid, volume, source, at ?? null]);
    return toBackup(rows[0]);
  }

  async requestRestore(appUid: string, backupId: string, target: { volume: string; overwrite: boolean }): Promise<VolumeRestoreInfo> {
    const rows: Row[] = await this.ds.query(`INSERT INTO volume_restores (application_id, backup_id, target_volume, overwrite) VALUES ($1, $2, $3, $4) RETURNING *`, [appUid, backupId, target.volume, target.overwrite]);
    return toRestore(rows[0]);
  }

  /** Pending requests, oldest first. */
  async pending(): Promise<PendingVolumeOperation[]> {
    const rows: { kind: "backup" | "restore"; id: string; application_id: string }[] = await this.ds.query(
      `SELECT 'backup' AS kind, id, application_id, created_at FROM volume_backups WHERE status = 'pending'
       UNION ALL SELECT 'restore' AS kind, id, application_id, created_at FROM volume_restores WHERE status = 'pending'
       ORDER BY created_at`,
    );
    return rows.map((r) => ({ kind: r.kind, id: r.id, applicationUid: r.application_id }));
  }

  /** pending → running; false when another worker got there first. */
  async claim(op: PendingVolumeOperation): Promise<boolean> {
    const table = op.kind === "backup" ? "volume_backups" : "volume_restores";
    return returned(await this.ds.query(`UPDATE ${table} SET status = 'running' WHERE id = $1 AND status = 'pending' RETURNING id`, [op.id])).length > 0;
  }

  async backup(id: string): Promise<VolumeBackupInfo | undefined> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM volume_backups WHERE id = $1`, [id]);
    return rows[0] ? toBackup(rows[0]) : undefined;
  }

  async restore(id: string): Promise<VolumeRestoreInfo | undefined> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM volume_restores WHERE id = $1`, [id]);
    return rows[0] ? toRestore(rows[0]) : undefined;
  }

  /** Backups of an Application (of one volume, when given), newest first. */
  async backupsOf(appUid: string, volume?: string): Promise<VolumeBackupInfo[]> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM volume_backups WHERE application_id = $1 AND ($2::text IS NULL OR volume_name = $2) ORDER BY created_at DESC, id DESC`, [appUid, volume ?? null]);
    return rows.map(toBackup);
  }

  async restoresOf(appUid: string): Promise<VolumeRestoreInfo[]> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM volume_restores WHERE application_id = $1 ORDER BY created_at DESC, id DESC`, [appUid]);
    return rows.map(toRestore);
  }

  /** A backup of the Application by id or a unique id prefix (as `berth volume backups` shows them). */
  async findBackup(appUid: string, idOrPrefix: string): Promise<VolumeBackupInfo[]> {
    if (!/^[0-9a-f-]{4,36}$/i.test(idOrPrefix)) return [];
    const rows: Row[] = await this.ds.query(`SELECT * FROM volume_backups WHERE application_id = $1 AND id::text LIKE $2 LIMIT 2`, [appUid, `${idOrPrefix.toLowerCase()}%`]);
    return rows.map(toBackup);
  }

  /** Each volume's newest finished backup: what the Application's VolumeBackupsSucceeded reports. */
  async lastFinishedPerVolume(appUid: string): Promise<VolumeBackupInfo[]> {
    const rows: Row[] = await this.ds.query(
      `SELECT DISTINCT ON (volume_name) * FROM volume_backups WHERE application_id = $1 AND status IN ('success', 'failed') ORDER BY volume_name, created_at DESC, id DESC`,
      [appUid],
    );
    return rows.map(toBackup);
  }

  /**
   * Marks a backup successful, then keeps the newest `retention` successful ones of its volume
   * in the same transaction. `remove` deletes the archives and answers the ids whose archives
   * are gone; only those rows go, so an archive that could not be deleted is tried again.
   */
  async succeedBackup(id: string, archive: StoredArchive, retention: { keep?: number; remove: (expired: ExpiredArchive[]) => Promise<Set<string>> }): Promise<number> {
    return await this.ds.transaction(async (m) => {
      const rows: Row[] = await m.query(
        `UPDATE volume_backups SET status = 'success', storage_path = $2, size_bytes = $3, sha256 = $4, destination = $5, completed_at = now(), error = NULL WHERE id = $1 RETURNING application_id, volume_name`,
        [id, archive.path, archive.bytes, archive.sha256, archive.destination],
      );
      const row = returned<Row>(rows)[0];
      if (!retention.keep || !row) return 0;
      const successes: Row[] = await m.query(
        `SELECT id, storage_path, destination, created_at FROM volume_backups WHERE application_id = $1 AND volume_name = $2 AND status = 'success' ORDER BY created_at DESC, id DESC`,
        [row.application_id, row.volume_name],
      );
      const expired = successes.slice(retention.keep);
      if (!expired.length) return 0;
      const gone = await retention.remove(expired.map((b) => ({ id: b.id, path: b.storage_path, destination: b.destination })));
      if (gone.size) await m.query(`DELETE FROM volume_backups WHERE id = ANY($1::uuid[])`, [[...gone]]);
      // Failed attempts older than the oldest kept backup are history.
      const oldestKept = successes[retention.keep - 1];
      await m.query(`DELETE FROM volume_backups WHERE application_id = $1 AND volume_name = $2 AND status = 'failed' AND created_at < $3`, [row.application_id, row.volume_name, oldestKept.created_at]);
      return gone.size;
    });
  }

  async failBackup(id: string, error: string): Promise<void> {
    await this.ds.query(`UPDATE volume_backups SET status = 'failed', error = $2, completed_at = now() WHERE id = $1`, [id, error]);
  }

  async succeedRestore(id: string): Promise<void> {
    await this.ds.query(`UPDATE volume_restores SET status = 'success', completed_at = now(), error = NULL WHERE id = $1`, [id]);
  }

  async failRestore(id: string, error: string): Promise<void> {
    await this.ds.query(`UPDATE volume_restores SET status = 'failed', error = $2, completed_at = now() WHERE id = $1`, [id, error]);
  }
}

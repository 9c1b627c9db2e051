import type { EntityManager } from "typeorm";
import { mkdirSync, renameSync, rmSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CronExpressionParser } from "cron-parser";
import type { Logger } from "winston";
import type { ObjectKey } from "../controller/controller.js";
import type { DockerDriver, ObservedContainer } from "../runtime/docker.js";
import { execCapture, execToFile, putFile } from "../runtime/database-exec.js";
import { backupCommand, ENGINE_INFO, readinessProbe, restoreCommand, type Credentials, type DatabaseSpec, type Engine } from "../runtime/database-engines.js";
import { stopContainer } from "../runtime/database-plan.js";
import { LABEL } from "../runtime/labels.js";
import type { EventStore } from "../store/events.js";
import type { ResourceStore } from "../store/resources.js";
import type { ResourceObject } from "../store/types.js";
import type { Metrics } from "../telemetry/metrics.js";
import type { SecretBox } from "../util/secrets.js";
import { getCondition, type Condition } from "./conditions.js";
import { loadCredentials, scrub } from "./database.js";

/**
 * Databases whose container a restore owns for the moment (redis is restored with the server
 * stopped): the Database reconciler leaves them alone until the restore is done. In-process,
 * because both run only in the controller leader.
 */
export class DatabaseMaintenance {
  private readonly busy = new Set<string>();

  isBusy(uid: string): boolean {
    return this.busy.has(uid);
  }

  async during<T>(uid: string, fn: () => Promise<T>): Promise<T> {
    this.busy.add(uid);
    try {
      return await fn();
    } finally {
      this.busy.delete(uid);
    }
  }
}

/**
 * When a scheduled backup is due: the newest fire time of `schedule` at or before `now`, if the
 * Database existed then and no scheduled backup was taken since. Level-triggered, like a
 * CronJob with one missed run allowed: after downtime one backup catches up, not every missed one.
 */
export function dueScheduledBackup(schedule: string, now: Date, createdAt: Date, lastScheduledAt: Date | undefined, tz?: string): Date | undefined {
  const prev = CronExpressionParser.parse(schedule, { currentDate: new Date(now.getTime() + 1), ...(tz ? { tz } : {}) }).prev().toDate();
  if (prev.getTime() < createdAt.getTime()) return undefined;
  if (lastScheduledAt && lastScheduledAt.getTime() >= prev.getTime()) return undefined;
  return prev;
}

/** Where backup files go: $BERTH_BACKUP_DIR, else `<data-dir>/backups`. */
export function backupRoot(dataDir: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (env.BERTH_BACKUP_DIR) return env.BERTH_BACKUP_DIR;
  const dir = dataDir ?? env.BERTH_DATA_DIR ?? path.join(env.XDG_DATA_HOME ?? path.join(os.homedir(), ".local", "share"), "berth");
  return path.join(dir, "backups");
}

export interface BackupWorkerDeps {
  store: ResourceStore;
  box: SecretBox;
  driver: DockerDriver;
  events: EventStore;
  metrics: Metrics;
  logger: Logger;
  maintenance: DatabaseMaintenance;
  /** Wakes the Database reconciler so status shows the outcome at once. */
  enqueue: (key: ObjectKey) => void;
  backupDir: string;
  /** How often pending requests and schedules are looked at (default 1 s). */
  pollMs?: number;
  /** Time zone of cron schedules (default: $BERTH_BACKUP_TZ, else this machine's). */
  timeZone?: string;
  now?: () => Date;
  /** Longest a single dump or restore may run (default $BERTH_BACKUP_TIMEOUT_SECONDS or 1 h). */
  timeoutMs?: number;
}

interface DbRef {
  uid: string;
  project: string;
  name: string;
}

interface BackupRow {
  id: string;
  database_id: string;
  source: string;
  storage_path: string | null;
  status: string;
}

const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * Runs backups and restores where the controllers run (the leader). Requests are rows: the API
 * (`berth db backup` / `berth db restore`) and the schedule insert `pending` rows; this worker
 * claims them (pending → running → success | failed), one operation per database at a time,
 * dumps with the engine's own tool inside its container (docker exec), applies retention, and
 * wakes the Database reconciler, which reports the outcome in the Database's conditions.
 */
export class BackupWorker {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly inFlight = new Map<string, Promise<void>>();
  private ticking: Promise<void> | undefined;
  private lastSchedulePass = 0;

  constructor(private readonly d: BackupWorkerDeps) {}

  private get now(): Date {
    return this.d.now?.() ?? new Date();
  }

  private get timeoutMs(): number {
    return this.d.timeoutMs ?? Number(process.env.BERTH_BACKUP_TIMEOUT_SECONDS ?? 3600) * 1000;
  }

  async start(_signal: AbortSignal): Promise<void> {
    this.stopped = false;
    const ds = this.d.store.dataSource;
    // Rows a previous leader was running when it died can never finish.
    await ds.query(`UPDATE backups SET status = 'failed', error = 'interrupted: the Berth process running it stopped', completed_at = now() WHERE status = 'running'`);
    await ds.query(`UPDATE restores SET status = 'failed', error = 'interrupted: the Berth process running it stopped', completed_at = now() WHERE status = 'running'`);
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick()
        .catch((e) => void this.d.logger.warn("backup worker pass failed", { error: String(e) }))
        .finally(() => {
          this.ticking = undefined;
          this.schedule();
        });
    }, this.d.pollMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    // Let running dumps finish for a while; a row still running after that is failed at the next start.
    await Promise.race([Promise.all(this.inFlight.values()), new Promise((r) => setTimeout(r, 10_000).unref())]);
  }

  /** One pass: schedules (every 5 s), then claim and start pending requests. */
  async tick(): Promise<void> {
    if (Date.now() - this.lastSchedulePass >= 5000) {
      this.lastSchedulePass = Date.now();
      await this.schedulePass();
    }
    await this.claimPending();
  }

  /** Inserts a pending scheduled backup for every Ready Database whose schedule fired since its last one. */
  async schedulePass(): Promise<number> {
    const { items } = await this.d.store.list("Database", {}, true);
    const tz = this.d.timeZone ?? process.env.BERTH_BACKUP_TZ ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    let inserted = 0;
    for (const db of items) {
      const spec = (db.spec ?? {}) as unknown as DatabaseSpec;
      const schedule = spec.backup?.schedule;
      if (!schedule || spec.suspend || db.metadata.deletionTimestamp) continue;
      if (getCondition(db.status?.conditions as Condition[] | undefined, "Ready")?.status !== "True") continue;
      const last: { created_at: Date }[] = await this.d.store.dataSource.query(
        `SELECT created_at FROM backups WHERE database_id = $1 AND source = 'schedule' ORDER BY created_at DESC LIMIT 1`,
        [db.metadata.uid],
      );
      let due: Date | undefined;
      try {
        due = dueScheduledBackup(schedule, this.now, new Date(db.metadata.creationTimestamp!), last[0]?.created_at, tz);
      } catch (e) {
        this.d.logger.warn("invalid backup schedule", { namespace: db.metadata.namespace, name: db.metadata.name, schedule, error: String(e) });
        continue;
      }
      if (!due) continue;
      await this.d.store.dataSource.query(`INSERT INTO backups (database_id, status, source, created_at) VALUES ($1, 'pending', 'schedule', $2)`, [db.metadata.uid, this.now]);
      this.d.logger.info("scheduled backup due", { namespace: db.metadata.namespace, name: db.metadata.name, scheduledFor: iso(due) });
      inserted++;
    }
    return inserted;
  }

  private async claimPending(): Promise<void> {
    const ds = this.d.store.dataSource;
    const pending: { kind: "backup" | "restore"; id: string; database_id: string }[] = await ds.query(
      `SELECT 'backup' AS kind, id, database_id, created_at FROM backups WHERE status = 'pending'
       UNION ALL SELECT 'restore' AS kind, id, database_id, created_at FROM restores WHERE status = 'pending'
       ORDER BY created_at`,
    );
    for (const p of pending) {
      if (this.stopped || this.inFlight.has(p.database_id)) continue;
      const table = p.kind === "backup" ? "backups" : "restores";
      const claimed = await ds.query(`UPDATE ${table} SET status = 'running' WHERE id = $1 AND status = 'pending' RETURNING id`, [p.id]);
      const rows = Array.isArray(claimed[0]) ? claimed[0] : claimed;
      if (!rows.length) continue;
      const run = (p.kind === "backup" ? this.runBackup(p.id) : this.runRestore(p.id))
        .catch((e) => void this.d.logger.error(`${p.kind} failed unexpectedly`, { id: p.id, error: String(e) }))
        .finally(() => this.inFlight.delete(p.database_id));
      this.inFlight.set(p.database_id, run);
    }
  }

  /** Waits until nothing is pending or running (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all(this.inFlight.values());
  }

  private async database(uid: string): Promise<{ ref: DbRef; obj: ResourceObject; spec: DatabaseSpec } | undefined> {
    const rows: { name: string; project: string }[] = await this.d.store.dataSource.query(`SELECT d.name, p.name AS project FROM databases d JOIN projects p ON p.id = d.project_id WHERE d.id = $1`, [uid]);
    if (!rows[0]) return undefined;
    const obj = await this.d.store.getStored("Database", rows[0].project, rows[0].name);
    if (!obj) return undefined;
    return { ref: { uid, project: rows[0].project, name: rows[0].name }, obj, spec: (obj.spec ?? {}) as unknown as DatabaseSpec };
  }

  private async runningContainer(uid: string): Promise<ObservedContainer | undefined> {
    const list = await this.d.driver.listContainers({ [LABEL.ownerUid]: uid });
    return list.find((c) => c.state === "running");
  }

  async runBackup(id: string): Promise<void> {
    const ds = this.d.store.dataSource;
    const row: BackupRow | undefined = (await ds.query(`SELECT id, database_id, source, storage_path, status FROM backups WHERE id = $1`, [id]))[0];
    if (!row) return;
    const db = await this.database(row.database_id);
    if (!db) return;
    const engine = db.spec.engine;
    const started = Date.now();
    let creds: Credentials | undefined;
    const dir = path.join(this.d.backupDir, db.ref.project, db.ref.name);
    const stamp = iso(this.now).replace(/[-:]/g, "");
    const file = path.join(dir, `${stamp}-${id.slice(0, 8)}.${ENGINE_INFO[engine].dumpExtension}`);
    try {
      creds = await loadCredentials(this.d.store, this.d.box, db.ref.uid);
      const container = await this.runningContainer(db.ref.uid);
      if (!container) throw new Error("the database container is not running");
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const partial = `${file}.partial`;
      const r = await execToFile(this.d.driver, container.id, backupCommand(engine), partial, this.timeoutMs);
      if (r.timedOut || r.exitCode !== 0 || r.bytes === 0) {
        rmSync(partial, { force: true });
        const why = r.timedOut ? `timed out after ${Math.round(this.timeoutMs / 1000)} s` : r.exitCode !== 0 ? `exited with ${r.exitCode}` : "produced an empty dump";
        throw new Error(`${engine} dump ${why}${r.stderr.trim() ? `: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}` : ""}`);
      }
      renameSync(partial, file);
      // One transaction, so no reader ever sees this backup succeeded while retention is still owed.
      await ds.transaction(async (m) => {
        await m.query(`UPDATE backups SET status = 'success', storage_path = $2, size_bytes = $3, completed_at = now(), error = NULL WHERE id = $1`, [id, file, r.bytes]);
        await this.applyRetention(db.ref, db.spec, m);
      });
      this.d.metrics.backupsTotal.inc({ engine, result: "success" });
      this.d.logger.info("backup completed", { namespace: db.ref.project, name: db.ref.name, backup: id, bytes: r.bytes, ms: Date.now() - started, source: row.source });
      await this.d.events.record(db.obj, "Normal", "BackupSucceeded", `backup ${id} (${row.source}) completed: ${r.bytes} bytes`);
    } catch (e) {
      const message = scrub((e as Error).message, creds).slice(0, 2000);
      await ds.query(`UPDATE backups SET status = 'failed', error = $2, completed_at = now() WHERE id = $1`, [id, message]);
      this.d.metrics.backupsTotal.inc({ engine, result: "failed" });
      this.d.logger.warn("backup failed", { namespace: db.ref.project, name: db.ref.name, backup: id, error: message });
      await this.d.events.record(db.obj, "Warning", "BackupFailed", `backup ${id} (${row.source}) failed: ${message}`);
    } finally {
      this.d.enqueue({ kind: "Database", namespace: db.ref.project, name: db.ref.name });
    }
  }

  /**
   * Keeps the newest `retention` successful backups (files and rows); older failed rows go with
   * them. Files are removed before the caller commits: if the commit failed, rows of backups that
   * were due to go anyway would point at no file, and the next backup's retention removes them.
   */
  async applyRetention(ref: DbRef, spec: DatabaseSpec, m: Pick<EntityManager, "query"> = this.d.store.dataSource): Promise<number> {
    const keep = spec.backup?.retention;
    if (!keep) return 0;
    const ds = m;
    const successes: { id: string; storage_path: string | null; created_at: Date }[] = await ds.query(
      `SELECT id, storage_path, created_at FROM backups WHERE database_id = $1 AND status = 'success' ORDER BY created_at DESC, id DESC`,
      [ref.uid],
    );
    const old = successes.slice(keep);
    for (const b of old) {
      if (b.storage_path) rmSync(b.storage_path, { force: true });
      await ds.query(`DELETE FROM backups WHERE id = $1`, [b.id]);
    }
    const oldestKept = successes[Math.min(keep, successes.length) - 1];
    if (oldestKept && successes.length >= keep) {
      await ds.query(`DELETE FROM backups WHERE database_id = $1 AND status = 'failed' AND created_at < $2`, [ref.uid, oldestKept.created_at]);
    }
    if (old.length) this.d.logger.info("backup retention removed old backups", { namespace: ref.project, name: ref.name, removed: old.length, kept: keep });
    return old.length;
  }

  async runRestore(id: string): Promise<void> {
    const ds = this.d.store.dataSource;
    const row: { id: string; database_id: string; backup_id: string | null } | undefined = (await ds.query(`SELECT id, database_id, backup_id FROM restores WHERE id = $1`, [id]))[0];
    if (!row) return;
    const db = await this.database(row.database_id);
    if (!db) return;
    const engine = db.spec.engine;
    let creds: Credentials | undefined;
    try {
      creds = await loadCredentials(this.d.store, this.d.box, db.ref.uid);
      const backup: BackupRow | undefined = row.backup_id ? (await ds.query(`SELECT id, database_id, source, storage_path, status FROM backups WHERE id = $1`, [row.backup_id]))[0] : undefined;
      if (!backup || backup.database_id !== db.ref.uid) throw new Error("the backup does not exist (any more) for this database");
      if (backup.status !== "success" || !backup.storage_path) throw new Error(`backup ${backup.id} is ${backup.status}, not a successful backup`);
      if (!existsSync(backup.storage_path)) throw new Error(`the backup file ${backup.storage_path} is missing`);
      const container = await this.runningContainer(db.ref.uid);
      if (!container) throw new Error("the database container is not running");
      if (engine === "redis") await this.restoreRedis(db.ref.uid, db.spec, container, backup.storage_path);
      else await this.restoreWithTool(engine, container, backup.storage_path, id);
      await ds.query(`UPDATE restores SET status = 'success', completed_at = now(), error = NULL WHERE id = $1`, [id]);
      this.d.metrics.restoresTotal.inc({ engine, result: "success" });
      this.d.logger.info("restore completed", { namespace: db.ref.project, name: db.ref.name, restore: id, backup: backup.id });
      await this.d.events.record(db.obj, "Normal", "Restored", `restored backup ${backup.id} (restore ${id})`);
    } catch (e) {
      const message = scrub((e as Error).message, creds).slice(0, 2000);
      await ds.query(`UPDATE restores SET status = 'failed', error = $2, completed_at = now() WHERE id = $1`, [id, message]);
      this.d.metrics.restoresTotal.inc({ engine, result: "failed" });
      this.d.logger.warn("restore failed", { namespace: db.ref.project, name: db.ref.name, restore: id, error: message });
      await this.d.events.record(db.obj, "Warning", "RestoreFailed", `restore ${id} failed: ${message}`);
    } finally {
      this.d.enqueue({ kind: "Database", namespace: db.ref.project, name: db.ref.name });
    }
  }

  /** postgresql, mysql, mongodb: copy the dump into the container, run the engine's restore tool, remove the copy. */
  private async restoreWithTool(engine: Engine, container: ObservedContainer, file: string, restoreId: string): Promise<void> {
    const name = `berth-restore-${restoreId}.${ENGINE_INFO[engine].dumpExtension}`;
    await putFile(this.d.driver, container.id, file, "/tmp", name, { mode: 0o644 });
    try {
      const r = await execCapture(this.d.driver, container.id, restoreCommand(engine, `/tmp/${name}`)!, this.timeoutMs);
      if (r.timedOut || r.exitCode !== 0) throw new Error(`${engine} restore ${r.timedOut ? "timed out" : `exited with ${r.exitCode}`}${r.stderr.trim() ? `: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}` : ""}`);
    } finally {
      await execCapture(this.d.driver, container.id, ["rm", "-f", `/tmp/${name}`]).catch(() => undefined);
    }
  }

  /**
   * redis: stop the server (its shutdown save happens first), replace /data/dump.rdb with the
   * backup (owned like /data), start it again and wait for PONG; the reconciler keeps out meanwhile.
   * With appendonly yes the AOF, not the RDB, is what redis loads, so that is refused.
   */
  private async restoreRedis(uid: string, spec: DatabaseSpec, container: ObservedContainer, file: string): Promise<void> {
    if (String(spec.config?.appendonly ?? "no").toLowerCase() === "yes") throw new Error("restoring redis with appendonly yes is not supported: redis would load its AOF, not the restored RDB");
    const owner = await execCapture(this.d.driver, container.id, ["stat", "-c", "%u %g", "/data"]);
    const [uidNum, gidNum] = owner.exitCode === 0 ? owner.stdout.trim().split(/\s+/).map(Number) : [0, 0];
    await this.d.maintenance.during(uid, async () => {
      await stopContainer(this.d.driver, container.id);
      try {
        await putFile(this.d.driver, container.id, file, "/data", "dump.rdb", { mode: 0o600, uid: uidNum || 0, gid: gidNum || 0 });
      } finally {
        await this.d.driver.startContainer(container.id);
      }
      const probe = readinessProbe("redis");
      const deadline = Date.now() + 120_000;
      for (;;) {
        const r = await execCapture(this.d.driver, container.id, probe.command).catch(() => undefined);
        if (r?.exitCode === 0 && r.stdout.includes(probe.expect)) break;
        if (Date.now() > deadline) throw new Error("redis did not answer PING within 120 s after the restore");
        await new Promise((res) => setTimeout(res, 250));
      }
    });
  }
}

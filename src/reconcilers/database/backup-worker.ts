import { CronExpressionParser } from "cron-parser";
import type { Logger } from "winston";
import { getCondition, conditionsOf } from "../../core/conditions.js";
import type { BackupInfo } from "../../core/records.js";
import type { Credentials, DatabaseSpec, Engine } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import type { ObjectKey } from "../../controller/controller.js";
import { PollLoop } from "../../controller/poll-loop.js";
import { ENGINE_INFO, readinessProbe, restoreCommand } from "../../runtime/database-engines.js";
import { execCapture, putFile } from "../../runtime/database-exec.js";
import { DATABASE_STOP_GRACE_SECONDS } from "../../runtime/database-spec.js";
import type { ObservedContainer, RuntimeDriver } from "../../runtime/driver.js";
import { LABEL } from "../../runtime/labels.js";
import type { BackupQueue, PendingOperation } from "../../store/backups.js";
import type { CredentialStore } from "../../store/credentials.js";
import type { EventStore } from "../../store/events.js";
import type { ResourceStore } from "../../store/resources.js";
import type { SecretBox } from "../../store/secrets.js";
import type { Metrics } from "../../telemetry/metrics.js";
import { backupRoot } from "../shared/backup-destinations.js";
import { scrub } from "../shared/failures.js";
import { BackupDumps } from "./backup-dumps.js";
import type { DatabaseMaintenance } from "./maintenance.js";

/**
 * When a scheduled backup is due: the newest fire time of `schedule` at or before `now`, if the
 * Database existed then and no scheduled backup was taken since. Level-triggered, like a
 * CronJob with one missed run allowed: after downtime one backup catches up, not every missed one.
 */
export function dueScheduledBackup(schedule: string, now: Date, history: { createdAt: Date; lastScheduledAt?: Date }, tz?: string): Date | undefined {
  const prev = CronExpressionParser.parse(schedule, { currentDate: new Date(now.getTime() + 1), ...(tz ? { tz } : {}) }).prev().toDate();
  if (prev.getTime() < history.createdAt.getTime()) return undefined;
  if (history.lastScheduledAt && history.lastScheduledAt.getTime() >= prev.getTime()) return undefined;
  return prev;
}

/** Where backup files go (shared with volume backups). */
export { backupRoot };

export interface BackupWorkerDeps {
  store: ResourceStore;
  backups: BackupQueue;
  credentials: CredentialStore;
  driver: RuntimeDriver;
  events: EventStore;
  metrics: Metrics;
  logger: Logger;
  /** Opens the secret keys of BackupDestinations. */
  box: SecretBox;
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

interface Target {
  obj: ResourceObject;
  spec: DatabaseSpec;
  uid: string;
  project: string;
  name: string;
}

const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z");

function tail(stderr: string): string {
  return stderr.trim() ? `: ${stderr.trim().split("\n").slice(-3).join(" / ")}` : "";
}

/**
 * Runs backups and restores where the controllers run (the leader). Requests are rows: the API
 * (`berth db backup` / `berth db restore`) and the schedule insert `pending` rows; this worker
 * claims them (pending → running → success | failed), one operation per database at a time,
 * dumps with the engine's own tool inside its container (docker exec), applies retention, and
 * wakes the Database reconciler, which reports the outcome in the Database's conditions.
 * A stopped worker stays stopped.
 */
export class BackupWorker {
  private readonly inFlight = new Map<string, Promise<void>>();
  private lastSchedulePass = 0;
  private readonly dumps: BackupDumps;

  private readonly loop: PollLoop;

  constructor(private readonly d: BackupWorkerDeps) {
    this.dumps = new BackupDumps(d);
    this.loop = new PollLoop(() => this.tick(), { everyMs: d.pollMs ?? 1000, onError: (e) => void d.logger.warn("backup worker pass failed", { error: String(e) }) });
  }

  private get now(): Date {
    return this.d.now?.() ?? new Date();
  }

  private get timeoutMs(): number {
    return this.d.timeoutMs ?? Number(process.env.BERTH_BACKUP_TIMEOUT_SECONDS ?? 3600) * 1000;
  }

  async start(_signal: AbortSignal): Promise<void> {
    if (this.loop.isStopped) return;
    await this.d.backups.failInterrupted();
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
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
    // Only Databases with a backup schedule: the others never have a due backup.
    const { items } = await this.d.store.list("Database", { specPath: "$.backup.schedule" }, true);
    let inserted = 0;
    for (const db of items) if (await this.scheduleOne(db)) inserted++;
    return inserted;
  }

  private async scheduleOne(db: ResourceObject): Promise<boolean> {
    const spec = (db.spec ?? {}) as unknown as DatabaseSpec;
    const schedule = spec.backup?.schedule;
    if (!schedule || spec.suspend || db.metadata.deletionTimestamp) return false;
    if (getCondition(conditionsOf(db.status), "Ready")?.status !== "True") return false;
    const tz = this.d.timeZone ?? process.env.BERTH_BACKUP_TZ ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    let due: Date | undefined;
    try {
      due = dueScheduledBackup(schedule, this.now, { createdAt: new Date(db.metadata.creationTimestamp!), lastScheduledAt: await this.d.backups.lastScheduledAt(db.metadata.uid!) }, tz);
    } catch (e) {
      this.d.logger.warn("invalid backup schedule", { namespace: db.metadata.namespace, name: db.metadata.name, schedule, error: String(e) });
      return false;
    }
    if (!due) return false;
    await this.d.backups.requestBackup(db.metadata.uid!, "schedule", this.now);
    this.d.logger.info("scheduled backup due", { namespace: db.metadata.namespace, name: db.metadata.name, scheduledFor: iso(due) });
    return true;
  }

  private async claimPending(): Promise<void> {
    for (const p of await this.d.backups.pending()) {
      if (this.loop.isStopped || this.inFlight.has(p.databaseId)) continue;
      if (!(await this.d.backups.claim(p))) continue;
      const run = this.run(p)
        .catch((e) => void this.d.logger.error(`${p.kind} failed unexpectedly`, { id: p.id, error: String(e) }))
        .finally(() => this.inFlight.delete(p.databaseId));
      this.inFlight.set(p.databaseId, run);
    }
  }

  private run(p: PendingOperation): Promise<void> {
    return p.kind === "backup" ? this.runBackup(p.id) : this.runRestore(p.id);
  }

  /** Waits until nothing is running (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all(this.inFlight.values());
  }

  private async target(uid: string): Promise<Target | undefined> {
    const key = await this.d.store.keyOfUid("Database", uid);
    const obj = key ? await this.d.store.getStored("Database", key.namespace, key.name) : undefined;
    if (!key || !obj) return undefined;
    return { obj, spec: (obj.spec ?? {}) as unknown as DatabaseSpec, uid, project: key.namespace!, name: key.name };
  }

  private async runningContainer(uid: string): Promise<ObservedContainer> {
    const c = (await this.d.driver.listContainers({ [LABEL.ownerUid]: uid })).find((x) => x.state === "running");
    if (!c) throw new Error("the database container is not running");
    return c;
  }

  async runBackup(id: string): Promise<void> {
    const row = await this.d.backups.backup(id);
    const db = row ? await this.target(row.databaseId) : undefined;
    if (!row || !db) return;
    const engine = db.spec.engine;
    let creds: Credentials | undefined;
    try {
      creds = await this.d.credentials.load(db.uid);
      const bytes = await this.dump(db, id);
      this.d.metrics.backupsTotal.inc({ engine, result: "success" });
      this.d.logger.info("backup completed", { namespace: db.project, name: db.name, backup: id, bytes, source: row.source });
      await this.d.events.record(db.obj, { type: "Normal", reason: "BackupSucceeded", message: `backup ${id} (${row.source}) completed: ${bytes} bytes` });
    } catch (e) {
      await this.backupFailed(db, row, e, creds);
    } finally {
      this.d.enqueue({ kind: "Database", namespace: db.project, name: db.name });
    }
  }

  /** The dump (to the directory or the destination); success and retention in one transaction. */
  private async dump(db: Target, id: string): Promise<number> {
    const container = await this.runningContainer(db.uid);
    const dump = await this.dumps.dump(db, id, { containerId: container.id, now: this.now, timeoutMs: this.timeoutMs });
    const backup = db.spec.backup;
    const policy = { last: backup?.retention, rotation: backup?.rotation };
    const removed = await this.d.backups.succeedBackup(id, dump, { policy, remove: (expired) => this.dumps.remove(db.project, expired) });
    if (removed) this.d.logger.info("backup retention removed old backups", { namespace: db.project, name: db.name, removed, kept: policy });
    return dump.bytes;
  }

  private async backupFailed(db: Target, row: BackupInfo, e: unknown, creds: Credentials | undefined): Promise<void> {
    const message = scrub((e as Error).message, [creds?.password ?? "", creds?.rootPassword ?? ""]).slice(0, 2000);
    await this.d.backups.failBackup(row.id, message);
    this.d.metrics.backupsTotal.inc({ engine: db.spec.engine, result: "failed" });
    this.d.logger.warn("backup failed", { namespace: db.project, name: db.name, backup: row.id, error: message });
    await this.d.events.record(db.obj, { type: "Warning", reason: "BackupFailed", message: `backup ${row.id} (${row.source}) failed: ${message}` });
  }

  async runRestore(id: string): Promise<void> {
    const row = await this.d.backups.restore(id);
    const db = row ? await this.target(row.databaseId) : undefined;
    if (!row || !db) return;
    const engine = db.spec.engine;
    let creds: Credentials | undefined;
    try {
      creds = await this.d.credentials.load(db.uid);
      const backup = await this.restorableBackup(db, row.backupId);
      const container = await this.runningContainer(db.uid);
      const fetched = await this.dumps.fetch(db.project, backup, id);
      try {
        if (engine === "redis") await this.restoreRedis(db, container, fetched.file);
        else await this.restoreWithTool(engine, container, fetched.file, id);
      } finally {
        fetched.cleanup();
      }
      await this.d.backups.succeedRestore(id);
      this.d.metrics.restoresTotal.inc({ engine, result: "success" });
      this.d.logger.info("restore completed", { namespace: db.project, name: db.name, restore: id, backup: backup.id });
      await this.d.events.record(db.obj, { type: "Normal", reason: "Restored", message: `restored backup ${backup.id} (restore ${id})` });
    } catch (e) {
      const message = scrub((e as Error).message, [creds?.password ?? "", creds?.rootPassword ?? ""]).slice(0, 2000);
      await this.d.backups.failRestore(id, message);
      this.d.metrics.restoresTotal.inc({ engine, result: "failed" });
      this.d.logger.warn("restore failed", { namespace: db.project, name: db.name, restore: id, error: message });
      await this.d.events.record(db.obj, { type: "Warning", reason: "RestoreFailed", message: `restore ${id} failed: ${message}` });
    } finally {
      this.d.enqueue({ kind: "Database", namespace: db.project, name: db.name });
    }
  }

  private async restorableBackup(db: Target, backupId: string | null): Promise<BackupInfo> {
    const backup = backupId ? await this.d.backups.backup(backupId) : undefined;
    if (!backup || backup.databaseId !== db.uid) throw new Error("the backup does not exist (any more) for this database");
    if (backup.status !== "success" || !backup.path) throw new Error(`backup ${backup.id} is ${backup.status}, not a successful backup`);
    return backup;
  }

  /** postgresql, mysql, mongodb: copy the dump into the container, run the engine's restore tool, remove the copy. */
  private async restoreWithTool(engine: Engine, container: ObservedContainer, file: string, restoreId: string): Promise<void> {
    const name = `berth-restore-${restoreId}.${ENGINE_INFO[engine].dumpExtension}`;
    await putFile(this.d.driver, container.id, { source: file, dir: "/tmp", name, mode: 0o644 });
    try {
      const r = await execCapture(this.d.driver, container.id, restoreCommand(engine, `/tmp/${name}`)!, this.timeoutMs);
      if (r.timedOut || r.exitCode !== 0) throw new Error(`${engine} restore ${r.timedOut ? "timed out" : `exited with ${r.exitCode}`}${tail(r.stderr)}`);
    } finally {
      await execCapture(this.d.driver, container.id, ["rm", "-f", `/tmp/${name}`]).catch(() => undefined);
    }
  }

  /**
   * redis: stop the server (its shutdown save happens first), replace /data/dump.rdb with the
   * backup (owned like /data), start it again and wait for PONG; the reconciler keeps out meanwhile.
   * With appendonly yes the AOF, not the RDB, is what redis loads, so that is refused.
   */
  private async restoreRedis(db: Target, container: ObservedContainer, file: string): Promise<void> {
    if (String(db.spec.config?.appendonly ?? "no").toLowerCase() === "yes") throw new Error("restoring redis with appendonly yes is not supported: redis would load its AOF, not the restored RDB");
    const owner = await execCapture(this.d.driver, container.id, ["stat", "-c", "%u %g", "/data"]);
    const [uidNum, gidNum] = owner.exitCode === 0 ? owner.stdout.trim().split(/\s+/).map(Number) : [0, 0];
    await this.d.maintenance.during(db.uid, async () => {
      await this.d.driver.stopContainer(container.id, DATABASE_STOP_GRACE_SECONDS);
      try {
        await putFile(this.d.driver, container.id, { source: file, dir: "/data", name: "dump.rdb", mode: 0o600, uid: uidNum || 0, gid: gidNum || 0 });
      } finally {
        await this.d.driver.startContainer(container.id);
      }
      await this.waitForPong(container.id);
    });
  }

  private async waitForPong(containerId: string): Promise<void> {
    const probe = readinessProbe("redis");
    const deadline = Date.now() + 120_000;
    for (;;) {
      const r = await execCapture(this.d.driver, containerId, probe.command).catch(() => undefined);
      if (r?.exitCode === 0 && r.stdout.includes(probe.expect)) return;
      if (Date.now() > deadline) throw new Error("redis did not answer PING within 120 s after the restore");
      await new Promise((res) => setTimeout(res, 250));
    }
  }
}

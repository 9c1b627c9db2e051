import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { PassThrough, type Readable } from "node:stream";
import type { Logger } from "winston";
import type { VolumeBackupInfo, VolumeRestoreInfo } from "../../core/records.js";
import type { AppVolumeSpec, ApplicationSpec } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import type { ObjectKey } from "../../controller/controller.js";
import type { Component } from "../../controller/manager.js";
import { PollLoop } from "../../controller/poll-loop.js";
import type { RuntimeDriver } from "../../runtime/driver.js";
import { LABEL, MANAGED_BY, volumeName } from "../../runtime/labels.js";
import { s3Url, type S3Destination } from "../../runtime/s3-destination.js";
import { HELPER_KIND, readVolumeArchive, withVolumeHelper, writeVolumeArchive, type VolumeHelper } from "../../runtime/volume-archive.js";
import type { EventStore, NewEvent } from "../../store/events.js";
import type { ResourceStore } from "../../store/resources.js";
import type { SecretBox } from "../../store/secrets.js";
import type { ExpiredArchive, PendingVolumeOperation, StoredArchive, VolumeBackupStore } from "../../store/volume-backups.js";
import { fetchVerified, openDestination, removeExpired, type FetchedFile } from "../shared/backup-destinations.js";
import { archiveName, archiveRelPath, backedUpVolumes, dueVolumeBackup } from "./volume-backup-plan.js";

export interface VolumeBackupWorkerDeps {
  store: ResourceStore;
  volumeBackups: VolumeBackupStore;
  driver: RuntimeDriver;
  events: EventStore;
  box: SecretBox;
  logger: Logger;
  /** Wakes the Application's reconciler, which reports VolumeBackupsSucceeded. */
  enqueue: (key: ObjectKey) => void;
  /** The backup root; archives go under `<backupDir>/volumes/`. */
  backupDir: string;
  /** How often schedules and pending requests are looked at (default 1 s). */
  pollMs?: number;
  /** Time zone of cron schedules (default: $BERTH_BACKUP_TZ, else this machine's). */
  timeZone?: string;
  now?: () => Date;
}

/** The Application and volume an operation is about. */
interface Target {
  app: ResourceObject;
  spec: ApplicationSpec;
  project: string;
  name: string;
  uid: string;
}

/** SHA-256 of a local file, read as a stream. */
/**
 * Backups of Applications' named volumes and their restores into new volumes (ADR 0024), on the
 * leader. Requests are rows (the API and the schedule insert `pending` ones); this worker claims
 * them, one operation per Application at a time, reads or writes the volume through a helper
 * container that is never started and always removed, applies retention, records an event and
 * wakes the Application, whose VolumeBackupsSucceeded condition reports the outcome.
 */
export class VolumeBackupWorker implements Component {
  private readonly inFlight = new Map<string, Promise<void>>();

  private readonly loop: PollLoop;

  constructor(private readonly d: VolumeBackupWorkerDeps) {
    this.loop = new PollLoop(() => this.tick(), { everyMs: d.pollMs ?? 1000, onError: (e) => void d.logger.warn("volume backup pass failed", { error: e.message }) });
  }

  private get now(): Date {
    return this.d.now?.() ?? new Date();
  }

  async start(_signal: AbortSignal): Promise<void> {
    if (this.loop.isStopped) return;
    await this.d.volumeBackups.failInterrupted();
    await this.removeLeftoverHelpers();
    this.loop.start();
  }

  /** Helpers of operations a previous process was running when it died (their rows just failed). */
  private async removeLeftoverHelpers(): Promise<void> {
    for (const c of await this.d.driver.listContainers({ [LABEL.managedBy]: MANAGED_BY, [LABEL.kind]: HELPER_KIND })) await this.d.driver.removeContainer(c.id);
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    // Running copies finish for a while; a row still running after that fails at the next start.
    await Promise.race([Promise.all(this.inFlight.values()), new Promise((r) => setTimeout(r, 10_000).unref())]);
  }

  /** Waits until nothing is running (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all(this.inFlight.values());
  }

  /** One pass: due schedules, then pending requests. */
  async tick(): Promise<void> {
    await this.schedulePass();
    await this.claimPending();
  }

  private get timeZone(): string {
    return this.d.timeZone ?? process.env.BERTH_BACKUP_TZ ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  }

  /** Requests a scheduled backup of every volume whose schedule fired since its last one. */
  async schedulePass(): Promise<number> {
    // Only Applications with a scheduled volume backup: this runs every second.
    const { items } = await this.d.store.list("Application", { specPath: "$.volumes[*].backup.schedule" }, true);
    let requested = 0;
    for (const app of items) {
      const spec = (app.spec ?? {}) as ApplicationSpec;
      if (spec.suspend || app.metadata.deletionTimestamp) continue;
      for (const v of backedUpVolumes(spec)) if (v.backup.schedule && (await this.scheduleOne(app, v, v.backup.schedule))) requested++;
    }
    return requested;
  }

  private async scheduleOne(app: ResourceObject, v: AppVolumeSpec, schedule: string): Promise<boolean> {
    const uid = app.metadata.uid!;
    let due: Date | undefined;
    try {
      due = dueVolumeBackup(schedule, this.now, { createdAt: new Date(app.metadata.creationTimestamp!), lastScheduledAt: await this.d.volumeBackups.lastScheduledAt(uid, v.name) }, this.timeZone);
    } catch (e) {
      this.d.logger.warn("invalid volume backup schedule", { namespace: app.metadata.namespace, name: app.metadata.name, volume: v.name, schedule, error: (e as Error).message });
      return false;
    }
    // A schedule faster than the copy never piles up requests: the open one covers the slot.
    if (!due || (await this.d.volumeBackups.hasOpenBackup(uid, v.name))) return false;
    await this.d.volumeBackups.requestBackup(uid, v.name, "schedule", this.now);
    return true;
  }

  private async claimPending(): Promise<void> {
    for (const p of await this.d.volumeBackups.pending()) {
      if (this.loop.isStopped || this.inFlight.has(p.applicationUid)) continue;
      if (!(await this.d.volumeBackups.claim(p))) continue;
      const run = this.run(p)
        .catch((e) => void this.d.logger.error(`volume ${p.kind} failed unexpectedly`, { id: p.id, error: (e as Error).message }))
        .finally(() => this.inFlight.delete(p.applicationUid));
      this.inFlight.set(p.applicationUid, run);
    }
  }

  private run(p: PendingVolumeOperation): Promise<void> {
    return p.kind === "backup" ? this.runBackup(p.id) : this.runRestore(p.id);
  }

  private async target(uid: string): Promise<Target | undefined> {
    const key = await this.d.store.keyOfUid("Application", uid);
    const app = key ? await this.d.store.getStored("Application", key.namespace, key.name) : undefined;
    if (!key || !app) return undefined;
    return { app, spec: (app.spec ?? {}) as ApplicationSpec, project: key.namespace!, name: key.name, uid };
  }

  /** The Application's current image: the helper needs an image the engine has, and Berth never pulls one for this. */
  private imageOf(t: Target): string {
    const image = (t.app.status as { image?: string } | undefined)?.image ?? t.spec.source?.image;
    if (!image) throw new Error("the Application has no image yet (its first build has not finished)");
    return image;
  }

  async runBackup(id: string): Promise<void> {
    const row = await this.d.volumeBackups.backup(id);
    const t = row ? await this.target(row.applicationUid) : undefined;
    if (!row) return;
    if (!t) return void (await this.d.volumeBackups.failBackup(id, "the Application no longer exists"));
    const started = Date.now();
    try {
      const volume = (t.spec.volumes ?? []).find((v) => v.name === row.volume);
      if (!volume) throw new Error(`the Application declares no volume "${row.volume}" (any more)`);
      const archive = await this.archive(t, volume, id);
      const removed = await this.d.volumeBackups.succeedBackup(id, archive, { keep: volume.backup?.retention, remove: (expired) => this.removeArchives(t.project, expired) });
      const ms = Date.now() - started;
      this.d.logger.info("volume backup completed", { namespace: t.project, name: t.name, volume: row.volume, backup: id, bytes: archive.bytes, ms, removed });
      await this.event(t.app, { type: "Normal", reason: "VolumeBackupSucceeded", message: `volume ${row.volume}: backup ${id} (${row.source}) completed: ${archive.bytes} bytes in ${ms} ms` });
    } catch (e) {
      const message = (e as Error).message.slice(0, 2000);
      await this.d.volumeBackups.failBackup(id, message);
      this.d.logger.warn("volume backup failed", { namespace: t.project, name: t.name, volume: row.volume, backup: id, error: message });
      await this.event(t.app, { type: "Warning", reason: "VolumeBackupFailed", message: `volume ${row.volume}: backup ${id} (${row.source}) failed: ${message}` });
    } finally {
      this.d.enqueue({ kind: "Application", namespace: t.project, name: t.name });
    }
  }

  /** The volume read through a read-only helper (the Application's containers paused meanwhile, when asked). */
  private async archive(t: Target, volume: AppVolumeSpec, id: string): Promise<StoredArchive> {
    const helper: VolumeHelper = { project: t.project, app: t.name, volume: volume.name, dockerVolume: volumeName(t.project, volume.name), image: this.imageOf(t), operationId: id, readOnly: true };
    if ((await this.d.driver.volumeOwner(helper.dockerVolume)).state === "absent") throw new Error(`the Docker volume ${helper.dockerVolume} does not exist (the Application has not created it yet)`);
    const name = archiveName(id, this.now);
    const rel = archiveRelPath({ project: t.project, app: t.name, volume: volume.name }, name);
    const destination = volume.backup?.destination;
    // Opened before anything is paused: a missing destination fails without touching the app.
    const dest = destination ? await openDestination(this.d, t.project, destination) : undefined;
    try {
      return await withVolumeHelper(this.d.driver, helper, (helperId) => this.whilePaused(t, !!volume.backup?.pause, () => (dest ? this.toDestination(dest, helperId, { rel, metadata: { "berth-backup": id, "berth-application": `${t.project}/${t.name}`, "berth-volume": volume.name } }) : this.toDirectory(helperId, rel))));
    } finally {
      dest?.destroy();
    }
  }

  /**
   * Runs `fn` with the Application's running containers (replicas and job runs, which mount its
   * volumes) frozen, and thaws them whatever happens. Frozen, not stopped: nothing restarts, no
   * connection is dropped, and the reconciler counts a paused replica as running, not as drift.
   */
  private async whilePaused<T>(t: Target, pause: boolean, fn: () => Promise<T>): Promise<T> {
    if (!pause) return fn();
    const mine = [...(await this.d.driver.listContainers({ [LABEL.ownerUid]: t.uid })), ...(await this.d.driver.listContainers({ [LABEL.jobOwnerUid]: t.uid }))].filter((c) => c.state === "running");
    const paused: string[] = [];
    try {
      for (const c of mine) {
        await this.d.driver.pauseContainer(c.id);
        paused.push(c.id);
      }
      return await fn();
    } finally {
      for (const id of paused) await this.d.driver.unpauseContainer(id).catch((e: Error) => this.d.logger.error("could not unpause a container after a volume backup", { container: id, error: e.message }));
    }
  }

  /** Written to `<file>.partial` and renamed once complete, so a file in place is always whole. */
  private async toDirectory(helperId: string, rel: string): Promise<StoredArchive> {
    const file = path.join(this.d.backupDir, rel);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const partial = `${file}.partial`;
    try {
      const { sha256, bytes } = await readVolumeArchive(this.d.driver, helperId, createWriteStream(partial, { mode: 0o600 }));
      renameSync(partial, file);
      return { path: file, bytes, sha256, destination: null };
    } catch (e) {
      rmSync(partial, { force: true });
      throw new Error(`reading the volume failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Streamed into a multipart upload; a failed read destroys the body, so the upload is aborted and no object is stored. */
  private async toDestination(dest: S3Destination, helperId: string, at: { rel: string; metadata: Record<string, string> }): Promise<StoredArchive> {
    const key = dest.key(at.rel);
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    const uploaded = dest.upload(key, body, at.metadata).then(
      () => undefined,
      (e: Error) => (body.destroy(e), e),
    );
    let read: { sha256: string; bytes: number };
    try {
      read = await readVolumeArchive(this.d.driver, helperId, body);
    } catch (e) {
      const uploadFailure = await uploaded;
      throw uploadFailure ?? new Error(`reading the volume failed: ${(e as Error).message}`, { cause: e });
    }
    const failed = await uploaded;
    if (failed) throw failed;
    await dest.putText(`${key}.sha256`, `${read.sha256}  ${path.posix.basename(key)}\n`);
    return { path: s3Url(dest.bucket, key), bytes: read.bytes, sha256: read.sha256, destination: dest.s.name };
  }

  /** Retention's remover; a failed delete keeps the row for the next pass. */
  private removeArchives(project: string, expired: ExpiredArchive[]): Promise<Set<string>> {
    return removeExpired((name) => openDestination(this.d, project, name), expired, (x, e) =>
      this.d.logger.warn("volume backup retention could not delete an old archive", { namespace: project, backup: x.id, path: x.path, error: e.message }),
    );
  }

  async runRestore(id: string): Promise<void> {
    const row = await this.d.volumeBackups.restore(id);
    const t = row ? await this.target(row.applicationUid) : undefined;
    if (!row) return;
    if (!t) return void (await this.d.volumeBackups.failRestore(id, "the Application no longer exists"));
    try {
      const backup = await this.restorableBackup(t, row.backupId);
      await this.restoreInto(t, backup, row);
      await this.d.volumeBackups.succeedRestore(id);
      this.d.logger.info("volume restore completed", { namespace: t.project, name: t.name, restore: id, backup: backup.id, target: row.targetVolume });
      await this.event(t.app, { type: "Normal", reason: "VolumeRestored", message: `backup ${backup.id} of volume ${backup.volume} restored into volume ${row.targetVolume} (restore ${id})` });
    } catch (e) {
      const message = (e as Error).message.slice(0, 2000);
      await this.d.volumeBackups.failRestore(id, message);
      this.d.logger.warn("volume restore failed", { namespace: t.project, name: t.name, restore: id, error: message });
      await this.event(t.app, { type: "Warning", reason: "VolumeRestoreFailed", message: `restore ${id} into volume ${row.targetVolume} failed: ${message}` });
    } finally {
      this.d.enqueue({ kind: "Application", namespace: t.project, name: t.name });
    }
  }

  private async restorableBackup(t: Target, backupId: string): Promise<VolumeBackupInfo> {
    const backup = await this.d.volumeBackups.backup(backupId);
    if (!backup || backup.applicationUid !== t.uid) throw new Error("the backup does not exist (any more) for this Application");
    if (backup.status !== "success" || !backup.path) throw new Error(`backup ${backup.id} is ${backup.status}, not a successful backup`);
    return backup;
  }

  /**
   * The archive, its SHA-256 checked first, unpacked into the target volume through a helper.
   * A new volume is created (labelled as the Application's); an existing one is written only
   * with `overwrite`, and only when it is this installation's. A failed restore into a volume it
   * created removes that volume, so a retry with the same name works.
   */
  private async restoreInto(t: Target, backup: VolumeBackupInfo, row: VolumeRestoreInfo): Promise<void> {
    const dockerVolume = volumeName(t.project, row.targetVolume);
    const owner = await this.d.driver.volumeOwner(dockerVolume);
    if (owner.state !== "absent" && !row.overwrite) throw new Error(`the volume ${dockerVolume} exists already; restore into a new name, or ask for --overwrite`);
    if (owner.state !== "absent" && owner.state !== "ours") throw new Error(`the volume ${dockerVolume} is not this Berth installation's; it is never written`);
    const local = await this.fetchArchive(t.project, backup, row.id);
    try {
      const created = owner.state === "absent";
      if (created) await this.d.driver.createVolume(dockerVolume, { [LABEL.managedBy]: MANAGED_BY, [LABEL.project]: t.project, [LABEL.kind]: "Application", [LABEL.name]: t.name, [LABEL.volume]: row.targetVolume });
      const helper: VolumeHelper = { project: t.project, app: t.name, volume: row.targetVolume, dockerVolume, image: this.imageOf(t), operationId: row.id, readOnly: false };
      try {
        await withVolumeHelper(this.d.driver, helper, (helperId) => writeVolumeArchive(this.d.driver, helperId, createReadStream(local.file) as Readable));
      } catch (e) {
        if (created) await this.d.driver.removeVolume(dockerVolume).catch(() => undefined);
        throw e;
      }
    } finally {
      local.cleanup();
    }
  }

  /** A local file holding the archive, its SHA-256 verified; a remote one is downloaded (0600) first. */
  private fetchArchive(project: string, backup: VolumeBackupInfo, restoreId: string): Promise<FetchedFile> {
    return fetchVerified((name) => openDestination(this.d, project, name), backup, { backupDir: this.d.backupDir, name: `${restoreId}.tar.gz` });
  }

  private async event(app: ResourceObject, e: NewEvent): Promise<void> {
    await this.d.events.record(app, e, "berth-volume-backups").catch((err) => this.d.logger.warn("volume backup event not recorded", { error: (err as Error).message }));
  }
}

import { mkdirSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import type { Logger } from "winston";
import type { BackupInfo } from "../../core/records.js";
import type { DatabaseSpec } from "../../core/specs.js";
import { backupCommand, ENGINE_INFO } from "../../runtime/database-engines.js";
import { execToFile } from "../../runtime/database-exec.js";
import type { ExecResult, RuntimeDriver } from "../../runtime/driver.js";
import { HashingSink, s3Url, type S3Destination } from "../../runtime/s3-destination.js";
import type { ExpiredBackup, StoredDump } from "../../store/backups.js";
import type { ResourceStore } from "../../store/resources.js";
import type { SecretBox } from "../../store/secrets.js";
import { fetchVerified, openDestination, removeExpired, sha256OfFile, type FetchedFile } from "../shared/backup-destinations.js";

/** The Database a dump is of. */
export interface DumpTarget {
  spec: DatabaseSpec;
  project: string;
  name: string;
}

export interface DumpDeps {
  store: ResourceStore;
  driver: RuntimeDriver;
  box: SecretBox;
  logger: Logger;
  backupDir: string;
}

/** A dump fetched for a restore: a local file, and what to remove once the restore is done. */
export type FetchedDump = FetchedFile;

function tail(stderr: string): string {
  return stderr.trim() ? `: ${stderr.trim().split("\n").slice(-3).join(" / ")}` : "";
}

/** Why a dump run is not a backup, or undefined when it is one. */
function dumpProblem(engine: string, r: Pick<ExecResult, "timedOut" | "exitCode" | "stderr">, bytes: number, timeoutMs: number): string | undefined {
  if (r.timedOut) return `${engine} dump timed out after ${Math.round(timeoutMs / 1000)} s${tail(r.stderr)}`;
  if (r.exitCode !== 0) return `${engine} dump exited with ${r.exitCode}${tail(r.stderr)}`;
  if (bytes === 0) return `${engine} dump produced an empty dump${tail(r.stderr)}`;
  return undefined;
}

/** SHA-256 of a local file, read as a stream. */
/**
 * Where dumps go and come from: the local backup directory, or the bucket of the
 * BackupDestination a Database names (issue 20, ADR 0023). Either way the dump streams from the
 * engine's tool with a running SHA-256, recorded on the row and checked before a restore.
 */
export class BackupDumps {
  constructor(private readonly d: DumpDeps) {}

  /** The file (or object) name of a new dump: time, id prefix, the engine's extension. */
  private fileName(spec: DatabaseSpec, id: string, now: Date): string {
    return `${now.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "")}-${id.slice(0, 8)}.${ENGINE_INFO[spec.engine].dumpExtension}`;
  }

  /** The named BackupDestination of the Database's Project, with its secret key unsealed. */
  async destination(project: string, name: string): Promise<S3Destination> {
    return openDestination(this.d, project, name);
  }

  /** Dumps the database running in `containerId` to where its spec says; throws with the reason. */
  async dump(db: DumpTarget, id: string, at: { containerId: string; now: Date; timeoutMs: number }): Promise<StoredDump> {
    const name = this.fileName(db.spec, id, at.now);
    const destination = db.spec.backup?.destination;
    return destination ? this.dumpToDestination(db, destination, { ...at, name, id }) : this.dumpToDirectory(db, { ...at, name });
  }

  /** The dump, written to `<file>.partial` and renamed once complete. */
  private async dumpToDirectory(db: DumpTarget, at: { containerId: string; name: string; timeoutMs: number }): Promise<StoredDump> {
    const dir = path.join(this.d.backupDir, db.project, db.name);
    const file = path.join(dir, at.name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const partial = `${file}.partial`;
    const r = await execToFile(this.d.driver, at.containerId, backupCommand(db.spec.engine), { file: partial, timeoutMs: at.timeoutMs });
    const problem = dumpProblem(db.spec.engine, r, r.bytes, at.timeoutMs);
    if (problem) {
      rmSync(partial, { force: true });
      throw new Error(problem);
    }
    renameSync(partial, file);
    return { path: file, bytes: r.bytes, sha256: await sha256OfFile(file), destination: null };
  }

  /**
   * The engine's dump piped straight into a multipart upload: never on disk, never whole in
   * memory (backpressure holds the dump while parts are in flight). The upload's input is ended
   * only once the dump exited 0, so a failed dump never completes an object; a failed upload
   * stops the dump at once instead of letting it run into the timeout.
   */
  private async dumpToDestination(db: DumpTarget, destinationName: string, at: { containerId: string; name: string; id: string; timeoutMs: number }): Promise<StoredDump> {
    const dest = await this.destination(db.project, destinationName);
    try {
      const key = dest.key(`${db.project}/${db.name}/${at.name}`);
      const body = new PassThrough({ highWaterMark: 1024 * 1024 });
      const sink = new HashingSink(body);
      const uploaded = dest.upload(key, body, { "berth-backup": at.id, "berth-database": `${db.project}/${db.name}`, "berth-engine": db.spec.engine }).then(
        () => undefined,
        (e: Error) => (sink.destroy(e), e),
      );
      const r = await this.d.driver.exec(at.containerId, backupCommand(db.spec.engine), { sink, timeoutMs: at.timeoutMs }).catch((e: Error) => e);
      const problem = r instanceof Error ? r.message : dumpProblem(db.spec.engine, r, sink.bytes, at.timeoutMs);
      if (problem) {
        body.destroy(new Error(problem));
        const uploadFailure = await uploaded;
        // An exec that broke off because the upload failed reports the upload's error; a dump that failed, its own.
        throw r instanceof Error && uploadFailure ? uploadFailure : new Error(problem);
      }
      const sha256 = sink.seal();
      const failed = await uploaded;
      if (failed) throw failed;
      await dest.putText(`${key}.sha256`, `${sha256}  ${at.name}\n`);
      return { path: s3Url(dest.bucket, key), bytes: sink.bytes, sha256, destination: destinationName };
    } finally {
      dest.destroy();
    }
  }

  /** A local file holding the backup's dump, its checksum verified; a remote one is downloaded first. */
  fetch(project: string, backup: BackupInfo, restoreId: string): Promise<FetchedDump> {
    return fetchVerified((name) => this.destination(project, name), backup, { backupDir: this.d.backupDir, name: `${restoreId}.dump` });
  }

  /** Retention's remover; a failed delete keeps the row for the next pass. */
  remove(project: string, expired: ExpiredBackup[]): Promise<Set<string>> {
    return removeExpired((name) => this.destination(project, name), expired, (x, e) =>
      this.d.logger.warn("backup retention could not delete an old backup", { namespace: project, backup: x.id, path: x.path, error: e.message }),
    );
  }
}

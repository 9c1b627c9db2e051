import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { defaultDataDir } from "../../core/config.js";
import type { BackupDestinationSpec } from "../../core/specs.js";
import { parseS3Url, S3Destination } from "../../runtime/s3-destination.js";
import type { ResourceStore } from "../../store/resources.js";
import { unsealSecret, type SecretBox } from "../../store/secrets.js";

/** Where backup files go: $BERTH_BACKUP_DIR, else `<data-dir>/backups` (Database and volume backups alike). */
export function backupRoot(dataDir: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (env.BERTH_BACKUP_DIR) return env.BERTH_BACKUP_DIR;
  return path.join(dataDir ?? defaultDataDir(env), "backups");
}

/** The named BackupDestination of a Project, its secret key unsealed; throws a message naming what is wrong. */
export async function openDestination(d: { store: ResourceStore; box: SecretBox }, project: string, name: string): Promise<S3Destination> {
  const obj = await d.store.getStored("BackupDestination", project, name);
  if (!obj || obj.metadata.deletionTimestamp) throw new Error(`BackupDestination ${name} does not exist in project ${project}`);
  const spec = obj.spec as unknown as BackupDestinationSpec;
  let secretAccessKey: string | undefined;
  try {
    secretAccessKey = unsealSecret(d.box, "BackupDestination", obj.spec, "spec.secretAccessKey");
  } catch (e) {
    throw new Error(`BackupDestination ${name}: ${(e as Error).message}`, { cause: e });
  }
  if (!secretAccessKey) throw new Error(`BackupDestination ${name} has no spec.secretAccessKey`);
  return new S3Destination({ ...spec, name, secretAccessKey });
}

/** A backup retention removes: a local file (`path`), or an object in a destination (`path` an s3:// URL). */
export interface ExpiredFile {
  id: string;
  path: string | null;
  destination: string | null;
}

/**
 * Retention's remover for Database and volume backups alike: local files, and objects (the
 * archive and its `.sha256`) in their destinations. Returns the ids whose file is gone; an
 * object that could not be deleted keeps its row, so the next pass tries again.
 */
export async function removeExpired(open: (destination: string) => Promise<S3Destination>, expired: readonly ExpiredFile[], warn: (b: ExpiredFile, e: Error) => void): Promise<Set<string>> {
  const gone = new Set<string>();
  for (const b of expired) {
    if (!b.destination) {
      if (b.path) rmSync(b.path, { force: true });
      gone.add(b.id);
    } else if (await removeRemote(open, b, warn)) gone.add(b.id);
  }
  return gone;
}

async function removeRemote(open: (destination: string) => Promise<S3Destination>, b: ExpiredFile, warn: (b: ExpiredFile, e: Error) => void): Promise<boolean> {
  const where = parseS3Url(b.path ?? "");
  if (!where) return true;
  try {
    const dest = await open(b.destination!);
    try {
      return (await dest.remove([where.key, `${where.key}.sha256`], where.bucket)).has(where.key);
    } finally {
      dest.destroy();
    }
  } catch (e) {
    warn(b, e as Error);
    return false;
  }
}

/** A backup to restore from: where its file is, and the SHA-256 recorded when it was taken. */
export interface StoredFile {
  id: string;
  path: string | null;
  destination: string | null;
  sha256: string | null;
}

export interface FetchedFile {
  file: string;
  cleanup: () => void;
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function checkSum(backup: StoredFile, actual: string): void {
  if (backup.sha256 && backup.sha256 !== actual) throw new Error(`backup ${backup.id} is corrupt: its SHA-256 is ${actual}, the backup recorded ${backup.sha256}; nothing was restored`);
}

/**
 * A local file holding the backup (a Database dump or a volume archive), its SHA-256 checked
 * before anything is restored; a remote one is downloaded (0600, under `<backupDir>/.restores`)
 * first and removed by `cleanup`, or at once when the download or the check fails.
 */
export async function fetchVerified(open: (destination: string) => Promise<S3Destination>, backup: StoredFile, to: { backupDir: string; name: string }): Promise<FetchedFile> {
  if (!backup.destination) {
    if (!backup.path || !existsSync(backup.path)) throw new Error(`the backup file ${backup.path} is missing`);
    checkSum(backup, await sha256OfFile(backup.path));
    return { file: backup.path, cleanup: () => undefined };
  }
  const where = parseS3Url(backup.path ?? "");
  if (!where) throw new Error(`backup ${backup.id} has no object path`);
  const dir = path.join(to.backupDir, ".restores");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, to.name);
  const cleanup = (): void => rmSync(file, { force: true });
  const dest = await open(backup.destination);
  try {
    checkSum(backup, (await dest.download(where.key, file, where.bucket)).sha256);
    return { file, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  } finally {
    dest.destroy();
  }
}

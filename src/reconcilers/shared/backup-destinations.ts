import path from "node:path";
import { defaultDataDir } from "../../core/config.js";
import type { BackupDestinationSpec } from "../../core/specs.js";
import { S3Destination } from "../../runtime/s3-destination.js";
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

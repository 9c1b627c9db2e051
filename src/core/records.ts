/** Records Berth keeps besides objects, in the shape its own endpoints (under /berth/v1) serve them. */

export type OperationStatus = "pending" | "running" | "success" | "failed";

export interface BackupInfo {
  id: string;
  databaseId: string;
  status: OperationStatus;
  source: "manual" | "schedule";
  sizeBytes: number | null;
  path: string | null;
  error: string | null;
  createdAt: string;
  completedAt: string | null;
  /** The BackupDestination it was written to; null for the local backup directory. */
  destination: string | null;
  /** SHA-256 of the dump (hex), checked on restore; null for backups taken before it was recorded. */
  sha256: string | null;
}

export interface RestoreInfo {
  id: string;
  databaseId: string;
  backupId: string | null;
  status: OperationStatus;
  error: string | null;
  createdAt: string;
  completedAt: string | null;
}

/** One archive of an Application's named volume (ADR 0024). */
export interface VolumeBackupInfo {
  id: string;
  applicationUid: string;
  volume: string;
  status: OperationStatus;
  source: "manual" | "schedule";
  sizeBytes: number | null;
  path: string | null;
  destination: string | null;
  sha256: string | null;
  error: string | null;
  createdAt: string;
  completedAt: string | null;
}

/** A restore of a volume backup into a new named volume (ADR 0024). */
export interface VolumeRestoreInfo {
  id: string;
  applicationUid: string;
  backupId: string;
  /** The Docker volume written: a new one unless `overwrite` was asked. */
  targetVolume: string;
  overwrite: boolean;
  status: OperationStatus;
  error: string | null;
  createdAt: string;
  completedAt: string | null;
}

/** One rollout revision, as `berth rollout history` shows it. */
export interface RevisionInfo {
  revision: number;
  status: string;
  configHash: string;
  generation: number;
  startedAt: string;
  completedAt: string | null;
  spec?: Record<string, unknown>;
  logs?: { level: string; message: string; time: string }[];
  /** The commit a git-source revision was built from. */
  commit?: string;
  /** Its build: duration, image size, cache hits (the seed's deployment metadata). */
  build?: Record<string, unknown>;
}

/** One row of GET /berth/v1/audit (issue 17): who did what to which object, from where. */
export interface AuditRecord {
  id: string;
  /** RFC 3339 to the microsecond (UTC). */
  time: string;
  /** The username, or the system actor (e.g. system:berth-controller; then userId is null). */
  user: string;
  userId: string | null;
  action: string;
  resourceType: string;
  resourceId: string | null;
  name: string | null;
  /** The object's Project (for a Project, the Project itself). */
  namespace: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  /** Before and after (secrets as placeholders), actor; never a password, token or hash. */
  details: Record<string, unknown>;
}

export type JobRunStatus = "pending" | "running" | "succeeded" | "failed" | "skipped";

/** One run of an Application's scheduled job (ADR 0020). */
export interface JobRunInfo {
  id: string;
  applicationUid: string;
  job: string;
  /** The schedule slot it ran for (a manual run: when it was asked for). */
  slot: string;
  trigger: "schedule" | "manual";
  status: JobRunStatus;
  containerId: string | null;
  exitCode: number | null;
  message: string;
  logs: string;
  startedAt: string | null;
  finishedAt: string | null;
}

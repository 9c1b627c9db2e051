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
}

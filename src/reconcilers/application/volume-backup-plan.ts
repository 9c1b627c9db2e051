import path from "node:path";
import { CronExpressionParser } from "cron-parser";
import type { ConditionInput } from "../../core/conditions.js";
import type { VolumeBackupInfo } from "../../core/records.js";
import type { AppVolumeSpec, ApplicationSpec } from "../../core/specs.js";
import type { Summary } from "../shared/status.js";

/**
 * The pure parts of volume backups (ADR 0024): when one is due, where its archive goes, and
 * what the Application's VolumeBackupsSucceeded condition says. No I/O, so a unit test pins them.
 */

type Extra = Omit<ConditionInput, "observedGeneration">;

/** The volumes of a spec that declare backups. */
export function backedUpVolumes(spec: ApplicationSpec): (AppVolumeSpec & { backup: NonNullable<AppVolumeSpec["backup"]> })[] {
  return (spec.volumes ?? []).filter((v): v is AppVolumeSpec & { backup: NonNullable<AppVolumeSpec["backup"]> } => !!v.backup);
}

/**
 * The newest fire time of `schedule` at or before `now`, when the Application existed then and no
 * scheduled backup of the volume was requested since. Level-triggered as Database backups are:
 * after downtime one backup catches up, not every missed one.
 */
export function dueVolumeBackup(schedule: string, now: Date, history: { createdAt: Date; lastScheduledAt?: Date }, tz?: string): Date | undefined {
  const prev = CronExpressionParser.parse(schedule, { currentDate: new Date(now.getTime() + 1), ...(tz ? { tz } : {}) }).prev().toDate();
  if (prev.getTime() < history.createdAt.getTime()) return undefined;
  if (history.lastScheduledAt && history.lastScheduledAt.getTime() >= prev.getTime()) return undefined;
  return prev;
}

/** `<UTC time>-<id prefix>.tar.gz`: sorts by time, unique by id. */
export function archiveName(id: string, now: Date): string {
  return `${now.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "")}-${id.slice(0, 8)}.tar.gz`;
}

/** The archive's path below the backup root (or a destination's prefix): volumes/<project>/<app>/<volume>/<name>. */
export function archiveRelPath(t: { project: string; app: string; volume: string }, name: string): string {
  return path.posix.join("volumes", t.project, t.app, t.volume, name);
}

/** Why a restore target is refused, or undefined: a DNS-1123 label like a spec volume name. */
export function restoreTargetProblem(name: string): string | undefined {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) return `the target volume name "${name}" must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)`;
  return undefined;
}

/**
 * VolumeBackupsSucceeded: False (reason VolumeBackupFailed) while a volume's newest finished
 * backup failed, naming the volume and the error; Unknown before any finished; else True.
 * Absent when no volume declares backups.
 */
export function volumeBackupsCondition(spec: ApplicationSpec, lastFinished: readonly VolumeBackupInfo[]): Extra | undefined {
  const names = new Set(backedUpVolumes(spec).map((v) => v.name));
  if (!names.size) return undefined;
  const relevant = lastFinished.filter((b) => names.has(b.volume));
  const failed = relevant.filter((b) => b.status === "failed");
  if (failed.length) return { type: "VolumeBackupsSucceeded", status: "False", reason: "VolumeBackupFailed", message: failed.map((b) => `volume ${b.volume}: backup ${b.id} (${b.source}) failed: ${b.error ?? "unknown error"}`).join("; ").slice(0, 2000) };
  if (!relevant.length) return { type: "VolumeBackupsSucceeded", status: "Unknown", reason: "NoBackupYet", message: "no volume backup has finished yet" };
  return { type: "VolumeBackupsSucceeded", status: "True", reason: "LastBackupsSucceeded", message: `the last backup of ${relevant.length} volume(s) succeeded` };
}

/** The volume backups' condition added to a summary (the rest of the status is untouched). */
export function withVolumeBackups(summary: Summary, spec: ApplicationSpec, lastFinished: readonly VolumeBackupInfo[] | undefined): Summary {
  if (!lastFinished) return summary;
  const c = volumeBackupsCondition(spec, lastFinished);
  return c ? { ...summary, extra: [...(summary.extra ?? []), c] } : summary;
}

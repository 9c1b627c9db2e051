import type { BackupRotation } from "./specs.js";

/** What retention needs to know of one successful backup. */
export interface RotatedBackup {
  id: string;
  createdAt: Date;
}

export interface KeepPolicy {
  /** The newest N backups. */
  last?: number;
  rotation?: BackupRotation;
}

/** The ISO-8601 week of a UTC date, e.g. "2026-W49": weeks start on Monday, week 1 holds the first Thursday. */
export function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

const BUCKETS: { field: keyof BackupRotation; of: (d: Date) => string }[] = [
  { field: "daily", of: (d) => d.toISOString().slice(0, 10) },
  { field: "weekly", of: isoWeek },
  { field: "monthly", of: (d) => d.toISOString().slice(0, 7) },
];

/** The newest backup of each of the newest `n` periods that have one (restic's --keep-daily …). */
function newestPerPeriod(newestFirst: RotatedBackup[], n: number, of: (d: Date) => string): string[] {
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const b of newestFirst) {
    const period = of(b.createdAt);
    if (seen.has(period)) continue;
    seen.add(period);
    kept.push(b.id);
    if (seen.size >= n) break;
  }
  return kept;
}

/**
 * Which backups a policy keeps (ids); everything else goes. No policy keeps everything. Pure:
 * the same list and policy always keep the same backups, so a retention pass is idempotent.
 */
export function backupsToKeep(backups: RotatedBackup[], policy: KeepPolicy): Set<string> {
  const newestFirst = [...backups].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
  const rotation = policy.rotation ?? {};
  const hasRotation = BUCKETS.some((x) => rotation[x.field]);
  if (!policy.last && !hasRotation) return new Set(newestFirst.map((b) => b.id));
  const keep = new Set(newestFirst.slice(0, policy.last ?? 0).map((b) => b.id));
  for (const { field, of } of BUCKETS) {
    const n = rotation[field];
    if (n) for (const id of newestPerPeriod(newestFirst, n, of)) keep.add(id);
  }
  return keep;
}

/**
 * Reads a Sync's source (ADR 0013), the same way for the controller and for a diff: git by a
 * shallow fetch into a bare cache (./git-fetch.ts), a directory by reading it (./dir-source.ts).
 * Each caller names its own cache directory, so a diff never shares the controller's.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import { parseDurationMs } from "../core/duration.js";
import { readDirectoryRevision } from "./dir-source.js";
import { fetchRevision, type FetchedRevision, type GitRef } from "./git-fetch.js";

export interface SyncSource {
  git?: GitRef;
  directory?: { path: string };
}

/**
 * A Sync's bare git cache: the controller's `<data-dir>/sync-cache/<uid>`, a diff's
 * `<data-dir>/sync-cache/diff/<uid>`. Separate directories, so a diff never fetches into the
 * repository the controller is reading, and each has its own askpass script (git-fetch.ts writes
 * it next to the cache), so neither rewrites the file the other's git is running.
 */
export function syncCacheDir(dataDir: string, uid: string, purpose: "controller" | "diff"): string {
  return purpose === "controller" ? path.join(dataDir, "sync-cache", uid) : path.join(dataDir, "sync-cache", "diff", uid);
}

/** A deleted Sync's caches (the controller's and a diff's) and nothing else. */
export async function removeSyncCaches(dataDir: string, uid: string): Promise<void> {
  await Promise.all((["controller", "diff"] as const).map((p) => rm(syncCacheDir(dataDir, uid, p), { recursive: true, force: true })));
}

/** One fetch when spec.timeout is not set. */
export const DEFAULT_SYNC_TIMEOUT_MS = 60_000;

/** The revision and its manifest files; throws with git's (scrubbed) words or the filesystem's. */
export async function readSyncSource(source: SyncSource, opts: { cacheDir: string; timeout?: string; token?: string }): Promise<FetchedRevision> {
  if (source.git) return fetchRevision(source.git, opts.cacheDir, parseDurationMs(opts.timeout, DEFAULT_SYNC_TIMEOUT_MS), { token: opts.token });
  if (!source.directory?.path) throw new Error("spec.source names neither git nor a directory");
  return readDirectoryRevision(source.directory.path);
}

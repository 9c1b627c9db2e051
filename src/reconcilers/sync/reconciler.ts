/**
 * The Sync controller (issue 15, ADR 0013): fetch the source (git or a directory), read every
 * manifest of the revision with the checks `berth apply` makes, then ONE store batch that
 * applies the revision and prunes what left it — all of it or none. A broken revision applies
 * nothing and keeps the last good one running; the condition names the file and line.
 */
import { FINALIZER } from "../../core/kinds.js";
import { parseDurationMs } from "../../core/duration.js";
import type { ResourceObject } from "../../core/types.js";
import type { ObjectKey, ReconcileContext } from "../../controller/controller.js";
import type { DirectoryWatches } from "../../runtime/dir-source.js";
import { readSyncSource, removeSyncCaches, syncCacheDir, type SyncSource } from "../../runtime/sync-source.js";
import { unsealSyncSecrets, type SecretBox } from "../../store/secrets.js";
import type { InventoryEntry } from "../../store/sync-prune.js";
import { inventoryEntryOf, planSyncRevision, pruneOp, SyncRevisionError, syncSpecOf, writeSyncRevision, type SyncFiles, type SyncSpec } from "../../store/sync-revision.js";
import { fail } from "../shared/failures.js";
import { CONTROLLER, ObjectReconciler, type ObjectReconcilerDeps } from "../shared/object-reconciler.js";
import type { Outcome, Verdict } from "../shared/status.js";
import { syncStatusFor, type SyncObserved } from "./status.js";

export type { SyncSpec };

export interface SyncDeps extends ObjectReconcilerDeps {
  dataDir: string;
  box: SecretBox;
  watches: DirectoryWatches;
  enqueue: (key: ObjectKey) => void;
}

const DEFAULT_INTERVAL_MS = 60_000;
/** Retry of a failed fetch: sooner than the poll, so a flaky remote heals quickly. */
const FETCH_RETRY_MS = 10_000;

export function describeSource(spec: SyncSpec): string {
  const g = spec.source?.git;
  if (g) return `${g.url}@${g.commit ?? (g.tag ? `tag:${g.tag}` : (g.branch ?? "main"))}${g.path ? `:${g.path}` : ""}`;
  return `dir:${spec.source?.directory?.path ?? ""}`;
}

const specOf = syncSpecOf;

export class SyncReconciler extends ObjectReconciler<SyncObserved> {
  readonly kind = "Sync" as const;
  readonly finalizer = FINALIZER.sync;

  constructor(private readonly d: SyncDeps) {
    super(d);
  }

  protected suspended(sync: ResourceObject): boolean {
    return specOf(sync).suspend === true;
  }

  /** The token and webhook secret never reach a condition or an event, whatever git or the engine says. */
  protected override secrets(sync: ResourceObject): string[] {
    try {
      return Object.values(unsealSyncSecrets(this.d.box, sync));
    } catch {
      return [];
    }
  }

  statusFor(sync: ResourceObject, obs: Partial<SyncObserved>, outcome: Outcome): Verdict {
    return syncStatusFor(sync, { source: describeSource(specOf(sync)), ...obs }, outcome);
  }

  protected async converge(sync: ResourceObject, obs: Partial<SyncObserved>): Promise<void> {
    const spec = specOf(sync);
    obs.source = describeSource(spec);
    if (spec.source.git) obs.intervalMs = parseDurationMs(spec.interval, DEFAULT_INTERVAL_MS);
    await this.watchDirectory(sync, spec);
    const fetched = await this.fetch(sync, spec);
    obs.revision = fetched.revision;
    const rev = await this.revision(() => planSyncRevision(this.d.store, sync, fetched));
    const results = await this.revision(() => writeSyncRevision(this.d.store, rev, CONTROLLER));
    const applied = results.slice(0, rev.docs.length);
    obs.inventory = applied.map((r) => inventoryEntryOf(r.object));
    obs.changed = applied.filter((r) => r.changed).length;
    obs.pruned = rev.pruned;
    obs.kept = rev.kept;
  }

  /** A revision the store layer refuses, as the Ready reason: ManifestInvalid and PruneBlocked need a person (terminal), ApplyFailed backs off. */
  private async revision<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (e) {
      if (e instanceof SyncRevisionError) fail(e.reason, e.message, { terminal: e.reason !== "ApplyFailed" });
      throw e;
    }
  }

  private async watchDirectory(sync: ResourceObject, spec: SyncSpec): Promise<void> {
    const dir = spec.source.directory?.path;
    if (!dir) return this.d.watches.unwatch(sync.metadata.uid!);
    await this.d.watches.watch(sync.metadata.uid!, dir, () => this.d.enqueue({ kind: "Sync", namespace: undefined, name: sync.metadata.name }));
  }

  private async fetch(sync: ResourceObject, spec: SyncSpec): Promise<SyncFiles> {
    try {
      const token = spec.source.git ? unsealSyncSecrets(this.d.box, sync).token : undefined;
      return await readSyncSource(spec.source as SyncSource, { cacheDir: syncCacheDir(this.d.dataDir, sync.metadata.uid!, "controller"), timeout: spec.timeout, token });
    } catch (e) {
      return fail("FetchFailed", (e as Error).message, { retryAfterMs: FETCH_RETRY_MS });
    }
  }

  /** Deleting a Sync leaves what it applied, unless deletionPolicy Delete (and prune) says otherwise. */
  protected async finalize(sync: ResourceObject, ctx: ReconcileContext): Promise<boolean> {
    await this.d.watches.unwatch(sync.metadata.uid!);
    await removeSyncCaches(this.d.dataDir, sync.metadata.uid!);
    const spec = specOf(sync);
    if (spec.deletionPolicy !== "Delete" || spec.prune === false) return true;
    const inventory = (sync.status as { inventory?: InventoryEntry[] } | undefined)?.inventory ?? [];
    const ops = [...inventory].reverse().map((e) => pruneOp(e, sync.metadata.name));
    await this.d.store.batch(ops, CONTROLLER);
    ctx.logger.info("deleted what the Sync applied (deletionPolicy Delete)", { objects: ops.length });
    return true;
  }
}

/**
 * GET /berth/v1/syncs/NAME/diff (`berth diff --sync NAME`, docs/sync.md): what the next revision
 * of a Sync would change, changing nothing. The source is read as the controller reads it (git
 * into a cache of the diff's own, runtime/sync-source.ts), the revision is planned by the code the
 * controller uses (store/sync-revision.ts), and its one batch runs as a dry run: the store
 * admits, checks ownership and rolls back. A revision the controller would refuse is no HTTP
 * error: the answer says why (`error: {reason, message}`) with the controller's reasons.
 */
import { notFound } from "../core/errors.js";
import type { RequestContext, ResourceObject } from "../core/types.js";
import { readSyncSource, syncCacheDir, type SyncSource } from "../runtime/sync-source.js";
import type { ResourceStore } from "../store/resources.js";
import { unsealSyncSecrets, type SecretBox } from "../store/secrets.js";
import { planSyncRevision, SyncRevisionError, syncSpecOf, writeSyncRevision, type SyncRevision } from "../store/sync-revision.js";
import type { Reply } from "./request.js";

export const SYNC_DIFF_PATH = /^\/berth\/v1\/syncs\/([^/]+)\/diff$/;

export interface SyncDiffDeps {
  store: Pick<ResourceStore, "get" | "batch">;
  /** The data directory: the diff's git caches live under `<dataDir>/sync-cache/diff/`. */
  dataDir: string;
  box: SecretBox;
}

export interface SyncDiffItem {
  action: "created" | "configured" | "unchanged";
  object: ResourceObject;
}

export interface SyncDiff {
  kind: "SyncDiff";
  apiVersion: "berth.dev/v1";
  sync: string;
  revision?: string;
  items: SyncDiffItem[];
  prune: { kind: string; namespace?: string; name: string }[];
  blocked?: string;
  error?: { reason: "FetchFailed" | "ManifestInvalid" | "ApplyFailed"; message: string };
}

export class SyncDiffs {
  /** One diff per Sync at a time: two fetches into one cache would trip over each other's git. */
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(private readonly d: SyncDiffDeps) {}

  async handle(name: string, ctx: RequestContext): Promise<Reply> {
    const sync = await this.d.store.get("Sync", undefined, name);
    if (!sync) throw notFound("syncs", name);
    const uid = sync.metadata.uid!;
    const before = this.running.get(uid) ?? Promise.resolve();
    const mine = before.catch(() => undefined).then(() => this.diff(sync, ctx));
    this.running.set(uid, mine);
    try {
      return { status: 200, body: await mine };
    } finally {
      if (this.running.get(uid) === mine) this.running.delete(uid);
    }
  }

  private async diff(sync: ResourceObject, ctx: RequestContext): Promise<SyncDiff> {
    const answer: SyncDiff = { kind: "SyncDiff", apiVersion: "berth.dev/v1", sync: sync.metadata.name, items: [], prune: [] };
    const spec = syncSpecOf(sync);
    let secrets: string[] = [];
    let fetched;
    try {
      const unsealed = spec.source?.git ? unsealSyncSecrets(this.d.box, sync) : {};
      secrets = Object.values(unsealed);
      fetched = await readSyncSource((spec.source ?? {}) as SyncSource, { cacheDir: syncCacheDir(this.d.dataDir, sync.metadata.uid!, "diff"), timeout: spec.timeout, token: unsealed.token });
    } catch (e) {
      return { ...answer, error: { reason: "FetchFailed", message: scrub((e as Error).message, secrets) } };
    }
    answer.revision = fetched.revision;
    let rev: SyncRevision;
    try {
      rev = await planSyncRevision(this.d.store, sync, fetched, { force: true });
      const results = await writeSyncRevision(this.d.store, rev, { ...ctx, dryRun: true });
      answer.items = results.slice(0, rev.docs.length).map((r, i) => ({ action: !r.changed ? "unchanged" : rev.ops[i].action === "create" ? "created" : "configured", object: r.object }));
      answer.prune = results.slice(rev.docs.length).flatMap((r, i) => (r.changed ? [rev.pruned[i]] : [])).map((e) => ({ kind: e.kind, ...(e.namespace ? { namespace: e.namespace } : {}), name: e.name }));
    } catch (e) {
      if (!(e instanceof SyncRevisionError)) throw e;
      // PruneBlocked cannot come out of a forced plan; the guard's refusal is answer.blocked.
      return { ...answer, items: [], prune: [], error: { reason: e.reason as "ManifestInvalid" | "ApplyFailed", message: scrub(e.message, secrets) } };
    }
    if (rev.blocked) answer.blocked = rev.blocked;
    return answer;
  }
}

/** git's words may echo what it was given: the token never reaches the answer. */
function scrub(text: string, secrets: string[]): string {
  return secrets.reduce((t, s) => (s && s.length >= 4 ? t.split(s).join("<redacted>") : t), text);
}

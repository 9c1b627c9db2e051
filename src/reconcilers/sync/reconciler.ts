/**
 * The Sync controller (issue 15, ADR 0013): fetch the source (git or a directory), read every
 * manifest of the revision with the checks `berth apply` makes, then ONE store batch that
 * applies the revision and prunes what left it — all of it or none. A broken revision applies
 * nothing and keeps the last good one running; the condition names the file and line.
 */
import path from "node:path";
import { ApiError } from "../../core/errors.js";
import { FINALIZER, PRUNE_ANNOTATION, PRUNE_CONFIRM, SYNC_OWNER } from "../../core/kinds.js";
import { parseDurationMs } from "../../core/duration.js";
import type { ResourceObject } from "../../core/types.js";
import type { ObjectKey, ReconcileContext } from "../../controller/controller.js";
import type { DirectoryWatches } from "../../runtime/dir-source.js";
import { readDirectoryRevision } from "../../runtime/dir-source.js";
import { fetchRevision, type GitRef } from "../../runtime/git-fetch.js";
import { ManifestError, parseManifestTexts, sortForApply, type ManifestDoc } from "../../schema/manifests.js";
import { applySetOps } from "../../store/apply-set.js";
import { BatchError, type BatchOp } from "../../store/resources.js";
import { unsealSyncSecrets, type SecretBox } from "../../store/secrets.js";
import { fail } from "../shared/failures.js";
import { CONTROLLER, ObjectReconciler, type ObjectReconcilerDeps } from "../shared/object-reconciler.js";
import type { Outcome, Verdict } from "../shared/status.js";
import { entryKey, planPrune, type InventoryEntry } from "./plan.js";
import { syncStatusFor, type SyncObserved } from "./status.js";

export interface SyncSpec {
  source: { git?: GitRef & { auth?: { token?: string } }; directory?: { path: string } };
  interval?: string;
  timeout?: string;
  prune?: boolean;
  pruneLimit?: string;
  suspend?: boolean;
  targetProjects?: string[];
  deletionPolicy?: "Retain" | "Delete";
}

export interface SyncDeps extends ObjectReconcilerDeps {
  dataDir: string;
  box: SecretBox;
  watches: DirectoryWatches;
  enqueue: (key: ObjectKey) => void;
}

const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 60_000;
/** Retry of a failed fetch: sooner than the poll, so a flaky remote heals quickly. */
const FETCH_RETRY_MS = 10_000;

export function describeSource(spec: SyncSpec): string {
  const g = spec.source?.git;
  if (g) return `${g.url}@${g.commit ?? (g.tag ? `tag:${g.tag}` : (g.branch ?? "main"))}${g.path ? `:${g.path}` : ""}`;
  return `dir:${spec.source?.directory?.path ?? ""}`;
}

const specOf = (sync: ResourceObject): SyncSpec => (sync.spec ?? {}) as unknown as SyncSpec;
const entryOf = (o: ResourceObject): InventoryEntry => ({ kind: o.kind, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), name: o.metadata.name, ...(o.metadata.uid ? { uid: o.metadata.uid } : {}) });

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
    const docs = this.read(fetched.files, spec, sync.metadata.name);
    const desired = docs.map((d) => entryOf(d.object as unknown as ResourceObject));
    const plan = await this.prunePlan(sync, spec, fetched.revision, desired);
    const ops = this.applyOps(docs, sync.metadata.name);
    const results = await this.write(docs, [...ops, ...plan.ops]);
    obs.inventory = results.slice(0, ops.length).map((r) => entryOf(r.object));
    obs.changed = results.slice(0, ops.length).filter((r) => r.changed).length;
    obs.pruned = plan.pruned;
    obs.kept = plan.kept;
  }

  private async watchDirectory(sync: ResourceObject, spec: SyncSpec): Promise<void> {
    const dir = spec.source.directory?.path;
    if (!dir) return this.d.watches.unwatch(sync.metadata.uid!);
    await this.d.watches.watch(sync.metadata.uid!, dir, () => this.d.enqueue({ kind: "Sync", namespace: undefined, name: sync.metadata.name }));
  }

  private async fetch(sync: ResourceObject, spec: SyncSpec): Promise<{ revision: string; files: { file: string; text: string }[] }> {
    try {
      if (spec.source.git) {
        const cache = path.join(this.d.dataDir, "sync-cache", sync.metadata.uid!);
        return await fetchRevision(spec.source.git, cache, parseDurationMs(spec.timeout, DEFAULT_TIMEOUT_MS), { token: unsealSyncSecrets(this.d.box, sync).token });
      }
      return await readDirectoryRevision(spec.source.directory!.path);
    } catch (e) {
      return fail("FetchFailed", (e as Error).message, { retryAfterMs: FETCH_RETRY_MS });
    }
  }

  /** The revision's documents, checked as `berth apply` checks them, plus what only a Sync forbids. */
  private read(files: { file: string; text: string }[], spec: SyncSpec, name: string): ManifestDoc[] {
    let docs: ManifestDoc[];
    try {
      docs = parseManifestTexts(files);
    } catch (e) {
      if (e instanceof ManifestError) fail("ManifestInvalid", e.message, { terminal: true });
      throw e;
    }
    const problems = docs.flatMap((d) => this.policyProblems(d, spec, name));
    if (problems.length) fail("ManifestInvalid", problems.join("\n"), { terminal: true });
    return sortForApply(docs);
  }

  private policyProblems(d: ManifestDoc, spec: SyncSpec, name: string): string[] {
    const o = d.object as { metadata?: { name?: string; namespace?: string } };
    const at = `${d.file}:${d.line}`;
    if (d.kind.kind === "Sync") return [`${at}: a Sync does not apply Syncs (Sync ${name} would own its own kind)`];
    if (d.kind.namespaced && !o.metadata?.namespace) return [`${d.file}:${d.lineOf("metadata")}: metadata.namespace: required in a Sync's manifests (there is no current namespace)`];
    const project = d.kind.kind === "Project" ? o.metadata?.name : o.metadata?.namespace;
    if (spec.targetProjects && project && !spec.targetProjects.includes(project)) return [`${at}: ${d.kind.kind} ${o.metadata?.name} is in Project ${project}, which spec.targetProjects does not list`];
    return [];
  }

  private async prunePlan(sync: ResourceObject, spec: SyncSpec, revision: string, desired: InventoryEntry[]): Promise<{ ops: BatchOp[]; pruned: InventoryEntry[]; kept: string[] }> {
    const inventory = ((sync.status as { inventory?: InventoryEntry[] } | undefined)?.inventory ?? []).filter((e) => e && e.kind && e.name);
    const wanted = new Set(desired.map(entryKey));
    const live = new Map<string, ResourceObject>();
    for (const e of inventory) {
      if (wanted.has(entryKey(e))) continue;
      const o = await this.d.store.get(e.kind, e.namespace, e.name);
      if (o && stillOurs(o, e, sync.metadata.name)) live.set(entryKey(e), o);
    }
    const plan = planPrune({ revision, inventory, desired, live, prune: spec.prune !== false, pruneLimit: spec.pruneLimit, confirmed: sync.metadata.annotations?.[PRUNE_CONFIRM] });
    if (plan.blocked) fail("PruneBlocked", plan.blocked, { terminal: true });
    const ops = plan.delete.map((e) => pruneOp(e, sync.metadata.name));
    return { ops, pruned: plan.delete, kept: plan.keep.map((k) => `${k.entry.kind} ${k.entry.namespace ?? ""}/${k.entry.name} (${k.cause})`) };
  }

  private applyOps(docs: ManifestDoc[], owner: string): BatchOp[] {
    try {
      return applySetOps(docs.map((d) => d.object as unknown as ResourceObject), { owner, warnings: [] });
    } catch (e) {
      return fail("ManifestInvalid", explain(e, docs), { terminal: true });
    }
  }

  private async write(docs: ManifestDoc[], ops: BatchOp[]): Promise<{ object: ResourceObject; changed: boolean }[]> {
    try {
      return await this.d.store.batch(ops, CONTROLLER);
    } catch (e) {
      if (!(e instanceof BatchError)) throw e;
      const what = e.index < docs.length ? explain(e.failure, docs, e.index) : `pruning ${ops[e.index].kind} ${ops[e.index].namespace ?? ""}/${ops[e.index].name}: ${(e.failure as Error).message}`;
      return fail("ApplyFailed", what);
    }
  }

  /** Deleting a Sync leaves what it applied, unless deletionPolicy Delete (and prune) says otherwise. */
  protected async finalize(sync: ResourceObject, ctx: ReconcileContext): Promise<boolean> {
    await this.d.watches.unwatch(sync.metadata.uid!);
    const spec = specOf(sync);
    if (spec.deletionPolicy !== "Delete" || spec.prune === false) return true;
    const inventory = (sync.status as { inventory?: InventoryEntry[] } | undefined)?.inventory ?? [];
    const ops = [...inventory].reverse().map((e) => pruneOp(e, sync.metadata.name));
    await this.d.store.batch(ops, CONTROLLER);
    ctx.logger.info("deleted what the Sync applied (deletionPolicy Delete)", { objects: ops.length });
    return true;
  }
}

/** Only the object this Sync applied: same uid, still labelled with its name, not on its way out. */
function stillOurs(o: ResourceObject, e: InventoryEntry, owner: string): boolean {
  return (!e.uid || o.metadata.uid === e.uid) && o.metadata.labels?.[SYNC_OWNER] === owner && !o.metadata.deletionTimestamp;
}

/** Re-checked under the write lock: only the object that was listed, still this Sync's, not protected. */
function pruneOp(e: InventoryEntry, owner: string): BatchOp {
  return {
    kind: e.kind,
    namespace: e.namespace,
    name: e.name,
    action: "prune",
    mutate: (cur) => (cur && (!e.uid || cur.metadata.uid === e.uid) && cur.metadata.labels?.[SYNC_OWNER] === owner && cur.metadata.annotations?.[PRUNE_ANNOTATION] !== "disabled" ? "delete" : "skip"),
  };
}

/** An API error about batch item N, as file:line: field: message of the manifest it came from. */
function explain(e: unknown, docs: ManifestDoc[], index?: number): string {
  if (!(e instanceof ApiError)) return (e as Error).message;
  const causes = e.details?.causes ?? [];
  const lines = causes.map((c) => {
    const m = /^items\[(\d+)\]\.?(.*)$/.exec(c.field ?? "");
    const doc = docs[m ? Number(m[1]) : (index ?? -1)];
    const field = m ? m[2] : (c.field ?? "");
    return doc ? `${doc.file}:${doc.lineOf(field)}: ${field ? `${field}: ` : ""}${(c.message ?? e.message).replace(/^items\[\d+\]: /, "")}` : (c.message ?? e.message);
  });
  const doc = index !== undefined ? docs[index] : undefined;
  if (!lines.length && doc) return `${doc.file}:${doc.line}: ${e.message.replace(/^items\[\d+\]: /, "")}`;
  return lines.join("\n") || e.message;
}

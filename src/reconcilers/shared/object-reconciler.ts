import { isDeepStrictEqual } from "node:util";
import { statusForNewGeneration } from "../../core/conditions.js";
import type { KindName } from "../../core/kinds.js";
import type { RequestContext, ResourceObject } from "../../core/types.js";
import type { ObjectKey, ReconcileContext, ReconcileResult, Reconciler } from "../../controller/controller.js";
import type { EventStore } from "../../store/events.js";
import type { ResourceStore } from "../../store/resources.js";
import { classify, scrubFailure, type Failure } from "./failures.js";
import { conditionsFor, failureSummary, transitionEvents, type Outcome, type Verdict } from "./status.js";

/** Who the controllers write as (ADR 0005: their writes commit without waiting for the WAL flush). */
export const CONTROLLER: RequestContext = { user: "system:berth-controller", userAgent: "berth-controller" };

export interface ObjectReconcilerDeps {
  store: ResourceStore;
  events: EventStore;
}

/** A failure the status already reports, rethrown so the queue backs off (it is logged once there). */
class ReportedFailure extends Error {}

/**
 * One reconciler shape for every kind (Flux's): load → finalize or add the finalizer → honour
 * suspend → ordered steps → one status write at the end, computed by the kind's pure statusFor
 * from the object that was read, what the steps observed, and how they ended. Every error that
 * stops the steps becomes part of that status (Ready=False with its reason, Stalled when
 * terminal) and a Warning event; none ends only in a log.
 */
export abstract class ObjectReconciler<Observed> implements Reconciler {
  abstract readonly kind: KindName;
  abstract readonly finalizer: string;

  constructor(protected readonly base: ObjectReconcilerDeps) {}

  /** Removes what the object owns in the runtime; true when done (the finalizer then goes). */
  protected abstract finalize(obj: ResourceObject, ctx: ReconcileContext): Promise<boolean>;
  protected abstract suspended(obj: ResourceObject): boolean;
  /** The ordered steps: observe → plan → execute, filling `observed` as it goes. */
  protected abstract converge(obj: ResourceObject, observed: Partial<Observed>, ctx: ReconcileContext): Promise<void>;
  /** Pure: the status, events and requeue for what was read, observed and how it ended. */
  abstract statusFor(obj: ResourceObject, observed: Partial<Observed>, outcome: Outcome): Verdict;
  /** Plaintext secrets of the object, scrubbed from every message. */
  protected secrets(_obj: ResourceObject, _observed: Partial<Observed>): string[] {
    return [];
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult> {
    const read = await this.base.store.getStored(this.kind, key.namespace, key.name);
    if (!read) return {};
    return this.reconcileObject(read, ctx);
  }

  /** The reconcile of an object already read (a dispatcher that read it to choose a reconciler). */
  async reconcileObject(read: ResourceObject, ctx: ReconcileContext): Promise<ReconcileResult> {
    if (read.metadata.deletionTimestamp) return this.runFinalize(read, ctx);
    const obj = await this.ensureFinalizer(read);
    const observed: Partial<Observed> = {};
    const outcome: Outcome = {};
    if (this.suspended(obj)) outcome.suspended = true;
    else {
      try {
        await this.converge(obj, observed, ctx);
      } catch (e) {
        outcome.failure = scrubFailure(classify(e), this.secrets(obj, observed));
      }
    }
    // A deposed leader writes nothing: the new leader's reconcile reads and reports afresh.
    if (ctx.signal?.aborted) return {};
    const verdict = this.statusFor(obj, observed, outcome);
    await this.commit(obj, verdict);
    return this.result(verdict, outcome.failure, ctx);
  }

  private result(verdict: Verdict, failure: Failure | undefined, ctx: ReconcileContext): ReconcileResult {
    const next = Math.min(verdict.requeueAfter ?? Infinity, verdict.pollAfter ?? Infinity);
    if (!failure) return next !== Infinity ? { requeueAfter: next } : {};
    if (failure.terminal) {
      ctx.logger.info("reconcile stalled", { reason: failure.reason, error: failure.message });
      // No retry, but a kind's own period still runs (a Sync polls for the commit that fixes it).
      return verdict.pollAfter !== undefined ? { requeueAfter: verdict.pollAfter } : {};
    }
    if (failure.retryAfterMs === undefined) throw new ReportedFailure(`${failure.reason}: ${failure.message}`);
    return { requeueAfter: Math.min(failure.retryAfterMs, next) };
  }

  /** The one status write and the events of this reconcile. */
  private async commit(obj: ResourceObject, verdict: Verdict): Promise<void> {
    await writeStatus(this.base.store, obj, verdict.status);
    for (const e of verdict.events) await this.base.events.record(obj, e);
  }

  private async ensureFinalizer(obj: ResourceObject): Promise<ResourceObject> {
    if ((obj.metadata.finalizers ?? []).includes(this.finalizer)) return obj;
    const r = await this.base.store.update({ kind: this.kind, namespace: obj.metadata.namespace, name: obj.metadata.name }, CONTROLLER, "add-finalizer", (cur) => ({
      ...cur!,
      metadata: { ...cur!.metadata, finalizers: [...(cur!.metadata.finalizers ?? []), this.finalizer] },
    }));
    return { ...obj, metadata: { ...obj.metadata, finalizers: r.object.metadata.finalizers, resourceVersion: r.object.metadata.resourceVersion } };
  }

  /** Finalize, then remove the finalizer (also what a dispatcher runs when an object stops being of this reconciler's sort). */
  protected async runFinalize(obj: ResourceObject, ctx: ReconcileContext): Promise<ReconcileResult> {
    if (!(obj.metadata.finalizers ?? []).includes(this.finalizer)) return {};
    let done: boolean;
    try {
      done = await this.finalize(obj, ctx);
    } catch (e) {
      const failure = scrubFailure(classify(e), this.secrets(obj, {}));
      const conditions = conditionsFor(obj, failureSummary({ ...failure, reason: `Finalize${failure.reason}` }));
      await this.commit(obj, { status: { ...obj.status, conditions }, events: transitionEvents(obj, conditions, { ...failure, reason: `Finalize${failure.reason}` }) });
      if (failure.retryAfterMs !== undefined) return { requeueAfter: failure.retryAfterMs };
      throw new ReportedFailure(`${failure.reason}: ${failure.message}`);
    }
    if (!done) return { requeueAfter: 1000 };
    await this.base.store.update({ kind: this.kind, namespace: obj.metadata.namespace, name: obj.metadata.name }, CONTROLLER, "remove-finalizer", (cur) => ({
      ...cur!,
      metadata: { ...cur!.metadata, finalizers: (cur!.metadata.finalizers ?? []).filter((f) => f !== this.finalizer) },
    }));
    return {};
  }
}

/**
 * Writes a status computed from `read`; nothing when it equals what was read (no write
 * transaction, no new resourceVersion). If the spec changed meanwhile, the status still tells of
 * the generation that was read, with Ready no longer True: that generation is not the current one.
 */
export async function writeStatus(store: ResourceStore, read: ResourceObject, status: Record<string, unknown>): Promise<void> {
  if (isDeepStrictEqual(read.status ?? {}, status)) return;
  const generation = read.metadata.generation ?? 1;
  await store.upsert({ kind: read.kind, namespace: read.metadata.namespace, name: read.metadata.name }, CONTROLLER, "update-status", (cur) => {
    // Deleted meanwhile, or a new object of the same name: nothing of this status applies.
    if (!cur || cur.metadata.uid !== read.metadata.uid) return "skip";
    const g = cur.metadata.generation ?? 1;
    return { ...cur, status: g === generation ? status : statusForNewGeneration(status, g) };
  });
}

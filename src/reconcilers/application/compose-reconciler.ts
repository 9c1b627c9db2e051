/**
 * The compose Application reconciler (issue 16, ADR 0017): read and translate the compose file
 * → observe the children (one Application per service) → pure plan of creates, updates and
 * deletes → apply them through the store as the controller → one status write summarising the
 * children. The children are ordinary Applications, converged by the Application reconciler:
 * config hash, drift repair and rolling updates per service come from there.
 */
import { COMPOSE, FINALIZER } from "../../core/kinds.js";
import type { ApplicationSpec } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import type { ObjectKey, ReconcileContext, ReconcileResult } from "../../controller/controller.js";
import type { RuntimeDriver } from "../../runtime/driver.js";
import { LABEL } from "../../runtime/labels.js";
import { ComposeError, loadCompose, translateCompose, type ComposeChild, type ComposeSource } from "../../schema/compose.js";
import { intervalOf, type GitSource } from "./git-source.js";
import { fail } from "../shared/failures.js";
import { CONTROLLER, ObjectReconciler, type ObjectReconcilerDeps } from "../shared/object-reconciler.js";
import type { Outcome, Verdict } from "../shared/status.js";
import { describeChildStep, ownedBy, planChildren, type ChildStep } from "./compose-children.js";
import { composeStatusFor, type ComposeObserved } from "./compose-status.js";

export interface ComposeDeps extends ObjectReconcilerDeps {
  driver: RuntimeDriver;
  /** Compose files from git (source.compose.git). */
  git?: GitSource;
}

export function isCompose(app: ResourceObject): boolean {
  return !!(app.spec as ApplicationSpec | undefined)?.source?.compose;
}

const keyText = (k: ObjectKey): string => `${k.namespace ?? ""}/${k.name}`;

export class ComposeReconciler extends ObjectReconciler<ComposeObserved> {
  readonly kind = "Application" as const;
  readonly finalizer = FINALIZER.compose;
  /** Child → parent, as the last reconcile of each parent saw them: routes a child's changes to its parent. */
  private readonly parents = new Map<string, ObjectKey>();

  constructor(private readonly d: ComposeDeps) {
    super(d);
  }

  /** The parent to wake when Application `key` changes (a child of a compose Application), if any. */
  parentOf(key: ObjectKey): ObjectKey[] {
    const p = this.parents.get(keyText(key));
    return p ? [p] : [];
  }

  /** Suspend is carried to the children (their replicas are left alone), so the parent still reconciles. */
  protected suspended(): boolean {
    return false;
  }

  statusFor(app: ResourceObject, observed: Partial<ComposeObserved>, outcome: Outcome): Verdict {
    return composeStatusFor(app, observed, outcome);
  }

  private async desired(app: ResourceObject, obs: Partial<ComposeObserved>): Promise<ComposeChild[]> {
    const spec = (app.spec ?? {}) as ApplicationSpec;
    const source = spec.source!.compose as ComposeSource;
    try {
      if (source.git) {
        if (!this.d.git) fail("SourceNotSupported", "compose files from git are not read by this server", { terminal: true });
        const at = await this.d.git.composeAt(app, source.git);
        obs.git = { commit: at.commit, intervalMs: intervalOf(source.git) };
        return translateCompose(at.text, { app: app.metadata.name, parent: spec, dir: at.dir, read: at.read, git: at.origin });
      }
      return loadCompose(source, { app: app.metadata.name, parent: spec });
    } catch (e) {
      // A file on the host edited after admission, or an env_file gone: refused until it is fixed.
      if (e instanceof ComposeError) fail("ComposeInvalid", e.problems.join("; "), { retryAfterMs: 30_000 });
      throw e;
    }
  }

  private async children(app: ResourceObject, desired: readonly ComposeChild[]): Promise<ResourceObject[]> {
    const names = new Set(desired.map((c) => c.name));
    const { items } = await this.d.store.list("Application", { namespace: app.metadata.namespace, }, true);
    return items.filter((o) => names.has(o.metadata.name) || o.metadata.labels?.[COMPOSE.parentLabel] === app.metadata.name);
  }

  protected async converge(app: ResourceObject, obs: Partial<ComposeObserved>, ctx: ReconcileContext): Promise<void> {
    await this.removeOwnReplicas(app, ctx);
    const desired = await this.desired(app, obs);
    const existing = await this.children(app, desired);
    const plan = planChildren(app, desired, existing);
    obs.plan = plan;
    this.remember(app, desired);
    if (plan.steps.length) ctx.logger.info("applying compose services", { steps: plan.steps.map(describeChildStep) });
    for (const step of plan.steps) await this.apply(app, step);
    const after = plan.steps.length ? await this.children(app, desired) : existing;
    const byName = new Map(after.filter((o) => ownedBy(o, app)).map((o) => [o.metadata.name, o]));
    obs.services = desired.map((c) => ({ service: c.service, name: c.name, child: byName.get(c.name) }));
    if (plan.conflicts.length) fail("ApplicationExists", `Application ${plan.conflicts.join(", ")} already exists and is not a service of this compose Application; rename the service or delete that Application`, { retryAfterMs: 30_000 });
  }

  private remember(app: ResourceObject, desired: readonly ComposeChild[]): void {
    const parent: ObjectKey = { kind: "Application", namespace: app.metadata.namespace, name: app.metadata.name };
    for (const [k, p] of this.parents) if (p.namespace === parent.namespace && p.name === parent.name) this.parents.delete(k);
    for (const c of desired) this.parents.set(keyText({ ...parent, name: c.name }), parent);
  }

  private async apply(app: ResourceObject, step: ChildStep): Promise<void> {
    const ref = { kind: "Application", namespace: app.metadata.namespace, name: step.name };
    if (step.op === "create") {
      await this.d.store.create(step.object, CONTROLLER);
    } else if (step.op === "update") {
      await this.d.store.update(ref, CONTROLLER, "compose-update", (cur) => {
        // Only the parent's own child, and only what the compose file decides: spec and labels.
        if (!ownedBy(cur!, app)) throw new Error(`Application ${step.name} is no longer a service of ${app.metadata.name}`);
        return { ...cur!, metadata: { ...cur!.metadata, labels: { ...(cur!.metadata.labels ?? {}), ...step.object.metadata.labels } }, spec: step.object.spec };
      });
    } else {
      await this.d.store.delete(ref, CONTROLLER).catch(() => undefined);
    }
  }

  /**
   * Replicas the Application itself ran under an earlier, non-compose source: a compose
   * Application runs none of its own (its services' Applications do), so they go.
   */
  private async removeOwnReplicas(app: ResourceObject, ctx: ReconcileContext): Promise<void> {
    const own = await this.d.driver.listContainers({ [LABEL.ownerUid]: app.metadata.uid! });
    for (const c of own) await this.d.driver.removeContainer(c.id);
    if (own.length) ctx.logger.info("removed the replicas of the Application's previous source", { containers: own.length });
  }

  /** Deletion (or a source that is no longer compose): every service's Application goes first. */
  protected async finalize(app: ResourceObject, ctx: ReconcileContext): Promise<boolean> {
    const { items } = await this.d.store.list("Application", { namespace: app.metadata.namespace }, true);
    const mine = items.filter((o) => ownedBy(o, app));
    for (const o of mine) if (!o.metadata.deletionTimestamp) await this.d.store.delete({ kind: "Application", namespace: app.metadata.namespace, name: o.metadata.name }, CONTROLLER).catch(() => undefined);
    if (mine.length) ctx.logger.info("waiting for the compose services' Applications to be deleted", { remaining: mine.length });
    return mine.length === 0;
  }

  /** An Application whose source stopped being compose: its services' Applications are deleted, then the finalizer goes. */
  release(app: ResourceObject, ctx: ReconcileContext): Promise<ReconcileResult> {
    return this.runFinalize(app, ctx);
  }
}

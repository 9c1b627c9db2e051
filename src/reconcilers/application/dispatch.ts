import { FINALIZER } from "../../core/kinds.js";
import type { ObjectKey, ReconcileContext, ReconcileResult, Reconciler } from "../../controller/controller.js";
import type { ResourceStore } from "../../store/resources.js";
import type { ApplicationReconciler } from "./reconciler.js";
import { isCompose, type ComposeReconciler } from "./compose-reconciler.js";

/**
 * One controller for the kind, two reconcilers: a compose Application (source.compose) owns one
 * child Application per service (ADR 0017); every other Application runs its own replicas.
 * The object is read once, here, and handed to the one it belongs to.
 */
export class ApplicationDispatch implements Reconciler {
  constructor(
    private readonly store: ResourceStore,
    private readonly app: ApplicationReconciler,
    private readonly compose: ComposeReconciler,
  ) {}

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult> {
    const read = await this.store.getStored("Application", key.namespace, key.name);
    if (!read) return {};
    const composeFinalizer = (read.metadata.finalizers ?? []).includes(FINALIZER.compose);
    // Deleting: the services' Applications first (the compose finalizer), then the object's own replicas.
    if (read.metadata.deletionTimestamp) return composeFinalizer ? this.compose.reconcileObject(read, ctx) : this.app.reconcileObject(read, ctx);
    if (isCompose(read)) return this.compose.reconcileObject(read, ctx);
    // No longer compose: the services' Applications go before the object runs replicas of its own.
    if (composeFinalizer) {
      await this.compose.release(read, ctx);
      return { requeueAfter: 1000 };
    }
    return this.app.reconcileObject(read, ctx);
  }
}

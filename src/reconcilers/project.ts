import type { ObjectKey, ReconcileContext, ReconcileResult, Reconciler } from "../controller/controller.js";
import type { DockerDriver } from "../runtime/docker.js";
import { LABEL, networkName, ownerLabels } from "../runtime/labels.js";
import type { ResourceStore } from "../store/resources.js";
import type { RequestContext } from "../store/types.js";
import { setCondition, type Condition } from "./conditions.js";

const CONTROLLER: RequestContext = { user: "system:berth-controller", userAgent: "berth-controller" };
export const NETWORK_FINALIZER = "berth.dev/network";

/** A Docker network `berth-<project>` per Project; removed when the Project goes and nothing uses it. */
export class ProjectReconciler implements Reconciler {
  constructor(
    private readonly store: ResourceStore,
    private readonly driver: DockerDriver,
  ) {}

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult> {
    const project = await this.store.getStored("Project", undefined, key.name);
    if (!project) return {};
    const name = networkName(project.metadata.name);
    if (project.metadata.deletionTimestamp) {
      // Like a Kubernetes namespace: deleting the Project deletes what it contains first.
      let remaining = 0;
      for (const kind of ["Domain", "Application", "Database"]) {
        const { items } = await this.store.list(kind, { namespace: project.metadata.name });
        remaining += items.length;
        for (const o of items) if (!o.metadata.deletionTimestamp) await this.store.delete(kind, o.metadata.namespace, o.metadata.name, CONTROLLER).catch(() => undefined);
      }
      if (remaining) {
        ctx.logger.info("waiting for the project's objects to be deleted", { remaining });
        return { requeueAfter: 1000 };
      }
      const users = await this.driver.listContainers({ [LABEL.project]: project.metadata.name });
      if (users.length) {
        ctx.logger.info("network still in use; waiting", { containers: users.length });
        return { requeueAfter: 2000 };
      }
      if (!(await this.driver.removeNetwork(name))) ctx.logger.info("network is shared with another Berth installation or was made by hand; left in place", { network: name });
      await this.store.update("Project", undefined, key.name, CONTROLLER, "remove-finalizer", (cur) => ({ ...cur!, metadata: { ...cur!.metadata, finalizers: (cur!.metadata.finalizers ?? []).filter((f) => f !== NETWORK_FINALIZER) } }));
      return {};
    }
    await this.driver.ensureNetwork(name, { ...ownerLabels("Project", project.metadata.name, project.metadata.name, project.metadata.uid!) });
    await this.store.update("Project", undefined, key.name, CONTROLLER, "update-status", (cur) => {
      const finalizers = cur!.metadata.finalizers ?? [];
      const conditions = setCondition(cur!.status?.conditions as Condition[] | undefined, { type: "Ready", status: "True", reason: "NetworkReady", message: `network ${name} exists` });
      return {
        ...cur!,
        metadata: { ...cur!.metadata, finalizers: finalizers.includes(NETWORK_FINALIZER) ? finalizers : [...finalizers, NETWORK_FINALIZER] },
        status: { ...cur!.status, observedGeneration: cur!.metadata.generation, phase: "Active", network: name, conditions },
      };
    });
    return {};
  }
}

import type { Manager } from "../../controller/manager.js";
import type { ResourceStore } from "../../store/resources.js";
import { ApplicationReconciler, type ApplicationDeps } from "./reconciler.js";
import { applicationSettled } from "./settled.js";

/**
 * Registers the Application controller (SetupWithManager) and its watches: an Application
 * waiting for a Database or another Application is reconciled when that one changes.
 */
export function setupApplication(mgr: Manager, deps: ApplicationDeps & { concurrency?: number }): void {
  mgr.addController({ kind: "Application", name: "application", reconciler: new ApplicationReconciler(deps), concurrency: deps.concurrency ?? 8, settled: applicationSettled });
  for (const kind of ["Database", "Application"]) mgr.watch(kind, dependentsOf(deps.store));
}

function dependentsOf(store: ResourceStore): (key: { kind: string; namespace: string | undefined; name: string }) => Promise<{ kind: string; namespace: string | undefined; name: string }[]> {
  return async (key) => {
    if (!key.namespace) return [];
    const names = await store.applicationsDependingOn(key.namespace, key.kind, key.name);
    return names.map((name) => ({ kind: "Application", namespace: key.namespace, name }));
  };
}

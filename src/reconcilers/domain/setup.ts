import type { ObjectKey } from "../../controller/controller.js";
import type { Manager } from "../../controller/manager.js";
import { ROUTER_KIND } from "../../router/managed.js";
import { DomainReconciler, type DomainDeps } from "./reconciler.js";

/**
 * Registers the Domain controller (SetupWithManager) and its watches: an Application (its
 * replicas, endpoints or existence) wakes the Domains that target it; the managed Caddy
 * container (kind Router, e.g. restarted by Docker) wakes every Domain so the table is loaded again.
 */
export function setupDomain(mgr: Manager, deps: DomainDeps): void {
  mgr.addController({ kind: "Domain", name: "domain", reconciler: new DomainReconciler(deps), concurrency: 4 });
  mgr.watch("Application", async (key): Promise<ObjectKey[]> => {
    if (!key.namespace) return [];
    return (await deps.store.domainsTargeting(key.namespace, key.name)).map((name) => ({ kind: "Domain", namespace: key.namespace, name }));
  });
  mgr.watch(ROUTER_KIND, async (): Promise<ObjectKey[]> => (await deps.store.list("Domain", {}, true)).items.map((d) => ({ kind: "Domain", namespace: d.metadata.namespace, name: d.metadata.name })));
}

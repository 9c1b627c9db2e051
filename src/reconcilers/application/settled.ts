import { getCondition, type Condition } from "../../core/conditions.js";
import { FINALIZER } from "../../core/kinds.js";
import type { ResourceObject } from "../../core/types.js";
import type { ObservedContainer } from "../../runtime/driver.js";
import { LABEL } from "../../runtime/labels.js";

/**
 * Whether an Application's last reconcile still describes what runs, judged from one shared
 * container list: the status is for the current generation and Ready, and exactly the
 * declared replicas run the config hash that status recorded, healthy. A light resync pass
 * skips settled Applications, so a pass costs one Docker list however many there are; any
 * doubt answers false and the object is reconciled as usual. Inputs outside the object (a
 * Database's credentials) are caught by the full resync, which reconciles everything.
 */
export function applicationSettled(app: ResourceObject, containers: readonly ObservedContainer[]): boolean {
  const meta = app.metadata;
  if (meta.deletionTimestamp || !(meta.finalizers ?? []).includes(FINALIZER.runtime)) return false;
  const status = (app.status ?? {}) as { observedGeneration?: number; configHash?: string; readyReplicas?: number; conditions?: Condition[] };
  if (status.observedGeneration !== (meta.generation ?? 1)) return false;
  const spec = (app.spec ?? {}) as { suspend?: boolean; replicas?: number };
  if (spec.suspend) return getCondition(status.conditions, "Ready")?.reason === "Suspended";
  if (getCondition(status.conditions, "Ready")?.status !== "True") return false;
  const replicas = spec.replicas ?? 1;
  if (status.readyReplicas !== replicas || containers.length !== replicas) return false;
  if (replicas > 0 && !status.configHash) return false;
  const seen = new Set<string>();
  for (const c of containers) {
    const replica = c.labels[LABEL.replica] ?? "";
    if (seen.has(replica) || !(Number(replica) < replicas)) return false;
    seen.add(replica);
    if (c.labels[LABEL.configHash] !== status.configHash) return false;
    if (c.state !== "running" || c.health === "unhealthy" || c.health === "starting") return false;
  }
  return true;
}

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
interface SettledStatus {
  observedGeneration?: number;
  configHash?: string;
  readyReplicas?: number;
  conditions?: Condition[];
}

/** The status was written for the current generation, with the finalizer in place and not being deleted. */
function statusCurrent(app: ResourceObject, status: SettledStatus): boolean {
  const meta = app.metadata;
  if (meta.deletionTimestamp || !(meta.finalizers ?? []).includes(FINALIZER.runtime)) return false;
  return status.observedGeneration === (meta.generation ?? 1);
}

/** Exactly replicas 0…n-1, one container each, all on `hash`, running and not unhealthy or starting. */
function runsExactly(containers: readonly ObservedContainer[], replicas: number, hash: string | undefined): boolean {
  if (containers.length !== replicas) return false;
  const indexes = new Set(containers.map((c) => c.labels[LABEL.replica] ?? ""));
  if (indexes.size !== replicas) return false;
  return containers.every((c) => Number(c.labels[LABEL.replica] ?? "") < replicas && c.labels[LABEL.configHash] === hash && c.state === "running" && c.health !== "unhealthy" && c.health !== "starting");
}

export function applicationSettled(app: ResourceObject, containers: readonly ObservedContainer[]): boolean {
  const status = (app.status ?? {}) as SettledStatus;
  if (!statusCurrent(app, status)) return false;
  const spec = (app.spec ?? {}) as { suspend?: boolean; replicas?: number };
  if (spec.suspend) return getCondition(status.conditions, "Ready")?.reason === "Suspended";
  if (getCondition(status.conditions, "Ready")?.status !== "True") return false;
  const replicas = spec.replicas ?? 1;
  if (status.readyReplicas !== replicas || (replicas > 0 && !status.configHash)) return false;
  return runsExactly(containers, replicas, status.configHash);
}

/**
 * A compose Application's children (ADR 0017), pure: the object each service's Application
 * should be, and the plan that turns the children that exist into those — create, update,
 * delete, each with its cause — plus the names that belong to someone else.
 */
import { isDeepStrictEqual } from "node:util";
import { API_VERSION, COMPOSE } from "../../core/kinds.js";
import type { ResourceObject } from "../../core/types.js";
import type { ComposeChild } from "../../schema/compose.js";
import { applyDefaults } from "../../schema/crds.js";

/** The compose service name of a child Application, as an extra host name; undefined for every other Application. */
export function composeAliases(app: ResourceObject): string[] | undefined {
  const labels = app.metadata.labels ?? {};
  const service = labels[COMPOSE.serviceLabel];
  return service && labels[COMPOSE.parentLabel] && app.metadata.annotations?.[COMPOSE.ownerAnnotation] ? [service] : undefined;
}

/** Whether `obj` is a child of `parent` (by uid: a parent deleted and made again owns nothing of the old one's). */
export function ownedBy(obj: ResourceObject, parent: ResourceObject): boolean {
  return obj.metadata.annotations?.[COMPOSE.ownerAnnotation] === parent.metadata.uid && obj.metadata.labels?.[COMPOSE.parentLabel] === parent.metadata.name;
}

/** The child Application of one service, as an apply would store it (defaults applied). */
export function childObject(parent: ResourceObject, child: ComposeChild): ResourceObject {
  const obj: ResourceObject = {
    apiVersion: API_VERSION,
    kind: "Application",
    metadata: {
      name: child.name,
      namespace: parent.metadata.namespace,
      labels: { [COMPOSE.parentLabel]: parent.metadata.name, [COMPOSE.serviceLabel]: child.service },
      annotations: { [COMPOSE.ownerAnnotation]: parent.metadata.uid! },
    },
    spec: child.spec as Record<string, unknown>,
  };
  return applyDefaults("Application", obj);
}

export type ChildStep =
  | { op: "create"; name: string; service: string; object: ResourceObject; cause: string }
  | { op: "update"; name: string; service: string; object: ResourceObject; cause: string }
  | { op: "delete"; name: string; cause: string };

export interface ChildPlan {
  steps: ChildStep[];
  /** Desired names taken by an Application this parent does not own. */
  conflicts: string[];
  /** Children on their way out (deletionTimestamp set): re-created once gone. */
  terminating: string[];
}

/** What differs between a child as it is and as it should be, for the step's cause. */
function drift(current: ResourceObject, desired: ResourceObject): string | undefined {
  const changed = Object.keys({ ...(current.spec ?? {}), ...(desired.spec ?? {}) })
    .filter((k) => !isDeepStrictEqual(current.spec?.[k], desired.spec?.[k]))
    .sort();
  if (changed.length) return `spec.${changed.join(", spec.")} differ from the compose file`;
  const labels = current.metadata.labels ?? {};
  if (Object.entries(desired.metadata.labels ?? {}).some(([k, v]) => labels[k] !== v)) return "compose labels missing";
  return undefined;
}

/**
 * The steps from the children that exist (every Application labelled with the parent's name,
 * plus whatever holds a desired name) to one child per service of the file. Pure.
 */
export function planChildren(parent: ResourceObject, desired: readonly ComposeChild[], existing: readonly ResourceObject[]): ChildPlan {
  const byName = new Map(existing.map((o) => [o.metadata.name, o]));
  const plan: ChildPlan = { steps: [], conflicts: [], terminating: [] };
  const wanted = new Set<string>();
  for (const child of desired) {
    wanted.add(child.name);
    const object = childObject(parent, child);
    const current = byName.get(child.name);
    if (!current) {
      plan.steps.push({ op: "create", name: child.name, service: child.service, object, cause: `service ${child.service} has no Application` });
      continue;
    }
    if (!ownedBy(current, parent)) {
      plan.conflicts.push(child.name);
      continue;
    }
    if (current.metadata.deletionTimestamp) {
      plan.terminating.push(child.name);
      continue;
    }
    const why = drift(current, object);
    if (why) plan.steps.push({ op: "update", name: child.name, service: child.service, object, cause: why });
  }
  for (const o of existing) {
    if (wanted.has(o.metadata.name) || !ownedBy(o, parent) || o.metadata.deletionTimestamp) continue;
    plan.steps.push({ op: "delete", name: o.metadata.name, cause: `service ${o.metadata.labels?.[COMPOSE.serviceLabel] ?? "?"} is no longer in the compose file` });
  }
  return plan;
}

export function describeChildStep(s: ChildStep): string {
  return `${s.op.padEnd(6)} Application/${s.name}: ${s.cause}`;
}

/**
 * The pure plan of a swarm Application (ADR 0025): from the desired service spec and what the
 * swarm holds, the steps that converge them, each with its cause. Swarm rolls the tasks itself;
 * the plan only decides which service calls to make. The executor (service-executor.ts) makes no
 * decisions.
 */
import { LABEL } from "./labels.js";
import { SERVICE_HASH } from "./service-spec.js";
import type { ObservedService, ObservedTask, ServiceSpec } from "./swarm.js";

export type ServiceStep =
  | { op: "create-network"; name: string; cause: string }
  | { op: "create-service"; name: string; cause: string }
  | { op: "update-service"; id: string; version: number; name: string; cause: string }
  | { op: "remove-service"; id: string; name: string; cause: string };

export interface ServicePlan {
  steps: ServiceStep[];
  /** Swarm rolled back the update to the desired config: it is not sent again until the spec changes. */
  rejected?: { hash: string; message: string };
}

export interface ServicePlanInput {
  desired: ServiceSpec;
  /** The tasks' config hash of the desired spec. */
  hash: string;
  network: { name: string; exists: boolean };
  /** Every service of this Application (its owner uid). */
  services: ObservedService[];
  /** The tasks of the service named desired.Name, history included. */
  tasks: ObservedTask[];
}

export function describeServiceStep(s: ServiceStep): string {
  return `${s.op} ${s.name}: ${s.cause}`;
}

const short = (h: string | undefined): string => (h ?? "none").slice(0, 8);

/**
 * The config Swarm refused: while its own rollback runs or after it completed, the newest task
 * that is not on the service's (rolled back) config ran the rejected one.
 */
export function rejectedConfig(service: ObservedService, tasks: readonly ObservedTask[]): { hash: string; message: string } | undefined {
  if (!service.update?.state.startsWith("rollback")) return undefined;
  const current = service.spec.TaskTemplate.ContainerSpec.Labels?.[LABEL.configHash];
  const failed = tasks.filter((t) => t.hash && t.hash !== current).sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  if (!failed) return undefined;
  const why = failed.error ? `; task ${failed.slot} ${failed.state}: ${failed.error}` : "";
  return { hash: failed.hash, message: `Swarm rolled back the update to config ${short(failed.hash)} (${service.update.state}: ${service.update.message}${why})` };
}

/** What was changed on the service outside Berth, among the parts Berth sets. */
function editedOutside(observed: ServiceSpec, desired: ServiceSpec): string[] {
  const o = observed.TaskTemplate.ContainerSpec;
  const d = desired.TaskTemplate.ContainerSpec;
  const out: string[] = [];
  // An engine may pin a tag to its digest: image@sha256:… still names the desired image.
  if (o.Image.split("@")[0] !== d.Image.split("@")[0]) out.push("image");
  if (JSON.stringify([...(o.Env ?? [])].sort()) !== JSON.stringify([...d.Env].sort())) out.push("env");
  if (JSON.stringify(o.Args ?? []) !== JSON.stringify(d.Args ?? [])) out.push("args");
  return out;
}

/** Why the kept service needs an update, or nothing when it matches. */
function updateCauses(kept: ObservedService, desired: ServiceSpec): string[] {
  const causes: string[] = [];
  const before = kept.labels[SERVICE_HASH];
  const after = desired.Labels[SERVICE_HASH];
  if (before !== after) causes.push(`service config ${short(before)} → ${short(after)}`);
  else {
    const edited = editedOutside(kept.spec, desired);
    if (edited.length) causes.push(`edited outside Berth: ${edited.join(", ")}`);
  }
  const have = kept.spec.Mode?.Replicated?.Replicas ?? 0;
  const want = desired.Mode.Replicated.Replicas;
  if (have !== want) causes.push(`${have} → ${want} replicas`);
  return causes;
}

export function planService(input: ServicePlanInput): ServicePlan {
  const { desired } = input;
  const steps: ServiceStep[] = [];
  if (!input.network.exists) steps.push({ op: "create-network", name: input.network.name, cause: "the service's overlay network does not exist" });
  const kept = input.services.find((s) => s.name === desired.Name);
  for (const s of input.services.filter((x) => x !== kept)) steps.push({ op: "remove-service", id: s.id, name: s.name, cause: `another service of this Application (the service is ${desired.Name})` });
  if (!kept) {
    steps.push({ op: "create-service", name: desired.Name, cause: "the Application has no service" });
    return { steps };
  }
  const rejected = rejectedConfig(kept, input.tasks);
  if (rejected && rejected.hash === input.hash) return { steps, rejected };
  const causes = updateCauses(kept, desired);
  if (causes.length) steps.push({ op: "update-service", id: kept.id, version: kept.version, name: kept.name, cause: causes.join("; ") });
  return { steps };
}

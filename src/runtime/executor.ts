import type { ContainerSpec, RuntimeDriver } from "./driver.js";
import { RuntimeError } from "./driver.js";
import type { Plan, Step } from "./plan.js";
import type { RegistryAuth } from "./registry-auth.js";
import type { TrafficSwitch } from "./traffic.js";

export interface ExecutionContext {
  driver: RuntimeDriver;
  traffic: TrafficSwitch;
  /** The create options of a new container for `replica`. */
  createOptions: (replica: number) => ContainerSpec;
  /** Labels of the networks and volumes the plan creates. */
  ownerLabels: Record<string, string>;
  onStep?: (step: Step) => void;
  /** The login a pull of `image` sends (its registry's, from the Project: ADR 0022). */
  pullAuth?: (image: string) => RegistryAuth | undefined;
  /** Aborted when the process stopped leading: no further batch starts (ADR 0026's fence). */
  signal?: AbortSignal;
}

/** A step that failed: which one, and the engine's reason. */
export class StepError extends Error {
  constructor(
    readonly step: Step,
    override readonly cause: RuntimeError,
  ) {
    super(cause.message);
  }
}

/** Consecutive steps of the same kind touch different objects, so they run in parallel. */
function batches(steps: Step[]): Step[][] {
  const out: Step[][] = [];
  for (const s of steps) {
    const last = out[out.length - 1];
    if (last && last[0].op === s.op) last.push(s);
    else out.push([s]);
  }
  return out;
}

async function run(step: Step, x: ExecutionContext): Promise<void> {
  switch (step.op) {
    case "pull-image":
      return x.driver.pullImage(step.image, x.pullAuth?.(step.image));
    case "create-network":
      return x.driver.ensureNetwork(step.name, x.ownerLabels);
    case "create-volume":
      return x.driver.createVolume(step.name, x.ownerLabels);
    case "unroute":
      return x.traffic.withdraw([step.id]);
    case "stop":
      return x.driver.stopContainer(step.id, step.graceSeconds);
    case "remove":
      return removeContainer(step.id, x);
    case "rename":
      return x.driver.renameContainer(step.id, step.to);
    case "create":
      return x.driver.startContainer(await x.driver.createContainer(x.createOptions(step.replica)));
    case "start":
      return x.driver.startContainer(step.id);
    case "restart":
      return x.driver.restartContainer(step.id, step.graceSeconds);
  }
}

async function removeContainer(id: string, x: ExecutionContext): Promise<void> {
  const wasWithdrawn = x.traffic.isWithdrawn(id);
  await x.driver.removeContainer(id);
  if (wasWithdrawn) await x.traffic.removed([id]);
}

async function runBatch(batch: Step[], x: ExecutionContext): Promise<void> {
  for (const s of batch) x.onStep?.(s);
  // One router load for every container a batch withdraws.
  if (batch[0].op === "unroute") return guarded(batch[0], () => x.traffic.withdraw(batch.map((s) => (s as Extract<Step, { op: "unroute" }>).id)));
  await Promise.all(batch.map((s) => guarded(s, () => run(s, x))));
}

async function guarded(step: Step, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    throw new StepError(step, e instanceof RuntimeError ? e : new RuntimeError("EngineError", (e as Error).message));
  }
}

/**
 * Carries out a plan in order, each phase's steps in parallel; it decides nothing. The first
 * failure stops it (as a StepError); the next reconcile re-plans from what exists.
 */
export async function executePlan(plan: Plan, x: ExecutionContext): Promise<void> {
  for (const batch of batches(plan.steps)) {
    if (x.signal?.aborted) throw new StepError(batch[0], new RuntimeError("EngineError", "stopped: this process is no longer the leader"));
    await runBatch(batch, x);
  }
}

import { RuntimeError } from "./driver.js";
import type { ServicePlan, ServiceStep } from "./service-plan.js";
import type { ServiceSpec, SwarmDriver } from "./swarm.js";

export interface ServiceExecution {
  swarm: SwarmDriver;
  spec: ServiceSpec;
  /** Labels of the network a plan creates. */
  networkLabels: Record<string, string>;
  onStep?: (step: ServiceStep) => void;
  /** Aborted when the process stopped leading (ADR 0026's fence). */
  signal?: AbortSignal;
}

async function run(step: ServiceStep, x: ServiceExecution): Promise<void> {
  switch (step.op) {
    case "create-network":
      return x.swarm.ensureOverlay(step.name, x.networkLabels);
    case "create-service":
      return void (await x.swarm.createService(x.spec));
    case "update-service":
      return x.swarm.updateService(step.id, step.version, x.spec);
    case "remove-service":
      return x.swarm.removeService(step.id);
  }
}

/**
 * Carries out a service plan in order; it decides nothing. The first failure stops it, as a
 * RuntimeError whose message names the step (the reason stays the engine's).
 */
export async function executeServicePlan(plan: ServicePlan, x: ServiceExecution): Promise<void> {
  for (const step of plan.steps) {
    if (x.signal?.aborted) throw new RuntimeError("EngineError", `${step.op} ${step.name}: stopped: this process is no longer the leader`);
    x.onStep?.(step);
    try {
      await run(step, x);
    } catch (e) {
      const err = e instanceof RuntimeError ? e : new RuntimeError("EngineError", (e as Error).message);
      throw new RuntimeError(err.reason, `${step.op} ${step.name}: ${err.message}`, err.statusCode);
    }
  }
}

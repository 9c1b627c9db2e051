import type Docker from "dockerode";
import type { DockerDriver } from "./docker.js";
import type { Plan, Step } from "./plan.js";

export interface ExecutionHooks {
  createOptions: (replica: number) => Docker.ContainerCreateOptions;
  onStep?: (step: Step) => void;
}

/** Consecutive steps of the same kind touch different replicas, so they run in parallel. */
function batches(steps: Step[]): Step[][] {
  const out: Step[][] = [];
  for (const s of steps) {
    const last = out[out.length - 1];
    if (last && last[0].op === s.op) last.push(s);
    else out.push([s]);
  }
  return out;
}

async function run(driver: DockerDriver, step: Step, hooks: ExecutionHooks): Promise<void> {
  hooks.onStep?.(step);
  switch (step.op) {
    case "create": {
      const id = await driver.createContainer(hooks.createOptions(step.replica));
      await driver.startContainer(id);
      return;
    }
    case "start":
      return driver.startContainer(step.id);
    case "restart":
      return driver.restartContainer(step.id);
    case "rename":
      return driver.renameContainer(step.id, step.to);
    case "remove":
      return driver.removeContainer(step.id);
  }
}

/** Carries out a plan in order; it decides nothing. The first failure stops it (next reconcile re-plans). */
export async function executePlan(driver: DockerDriver, plan: Plan, hooks: ExecutionHooks): Promise<void> {
  for (const batch of batches(plan.steps)) {
    await Promise.all(batch.map((s) => run(driver, s, hooks)));
  }
}

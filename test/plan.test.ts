import { expect } from "chai";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ObservedContainer } from "../src/runtime/docker.js";
import { formatPlan, planApplication, type AppPlanInput } from "../src/runtime/plan.js";

const GOLDEN = path.join(path.dirname(fileURLToPath(import.meta.url)), "golden", "plans.txt");

let created = 1000;
function c(replica: number | undefined, hash: string, state = "running", health: ObservedContainer["health"] = "healthy", name?: string): ObservedContainer {
  const labels: Record<string, string> = { "berth.dev/config-hash": hash };
  if (replica !== undefined) labels["berth.dev/replica"] = String(replica);
  return { id: `id-${name ?? `${replica}-${hash}`}`, name: name ?? `shop-web-${replica}`, labels, state, health, ports: [], created: created++ };
}

const base: AppPlanInput = { project: "shop", name: "web", replicas: 3, hash: "new00000", strategy: { type: "RollingUpdate", maxSurge: 1, maxUnavailable: 0 } };

/** Each case: a situation, what Docker shows, and the plan it must produce (golden text). */
const CASES: { title: string; input: AppPlanInput; observed: ObservedContainer[] }[] = [
  { title: "fresh application, 3 replicas", input: base, observed: [] },
  { title: "steady state: nothing to do", input: base, observed: [c(0, "new00000"), c(1, "new00000"), c(2, "new00000")] },
  { title: "one replica removed by hand (docker rm -f)", input: base, observed: [c(0, "new00000"), c(2, "new00000")] },
  { title: "one replica stopped by hand (docker stop)", input: base, observed: [c(0, "new00000"), c(1, "new00000", "exited", "none"), c(2, "new00000")] },
  { title: "unhealthy replica", input: base, observed: [c(0, "new00000"), c(1, "new00000", "running", "unhealthy"), c(2, "new00000")] },
  { title: "every replica unhealthy (an overloaded host): one restart at a time", input: base, observed: [c(0, "new00000", "running", "unhealthy"), c(1, "new00000", "running", "unhealthy"), c(2, "new00000", "running", "unhealthy")] },
  { title: "scale down 3 → 1 removes the highest replicas first", input: { ...base, replicas: 1 }, observed: [c(0, "new00000"), c(1, "new00000"), c(2, "new00000")] },
  { title: "rolling update, maxSurge 1, maxUnavailable 0: one replica at a time, old keeps serving", input: base, observed: [c(0, "old00000"), c(1, "old00000"), c(2, "old00000")] },
  { title: "rolling update in flight: new replica 0 still starting", input: base, observed: [c(0, "old00000", "running", "healthy", "shop-web-0-old-old00000"), c(0, "new00000", "running", "starting"), c(1, "old00000"), c(2, "old00000")] },
  { title: "rolling update in flight: new replica 0 ready", input: base, observed: [c(0, "old00000", "running", "healthy", "shop-web-0-old-old00000"), c(0, "new00000"), c(1, "old00000"), c(2, "old00000")] },
  { title: "rolling update with maxUnavailable 1", input: { ...base, strategy: { type: "RollingUpdate", maxSurge: 0, maxUnavailable: 1 } }, observed: [c(0, "old00000"), c(1, "old00000"), c(2, "old00000")] },
  { title: "Recreate strategy replaces every replica at once", input: { ...base, strategy: { type: "Recreate", maxSurge: 0, maxUnavailable: 0 } }, observed: [c(0, "old00000"), c(1, "old00000"), c(2, "old00000")] },
  { title: "old replica crashed: replaced directly", input: base, observed: [c(0, "old00000", "exited", "none"), c(1, "new00000"), c(2, "new00000")] },
  { title: "crash mid-rollout left a created, never-started container", input: base, observed: [c(0, "new00000", "created", "none"), c(1, "new00000"), c(2, "new00000")] },
  { title: "duplicate containers for one replica", input: base, observed: [c(0, "new00000"), c(0, "new00000", "running", "healthy", "shop-web-0-dup"), c(1, "new00000"), c(2, "new00000")] },
  { title: "container without a replica label", input: base, observed: [c(0, "new00000"), c(1, "new00000"), c(2, "new00000"), c(undefined, "new00000", "running", "none", "stray")] },
  { title: "scale to zero", input: { ...base, replicas: 0 }, observed: [c(0, "new00000"), c(1, "new00000")] },
];

function render(): string {
  return CASES.map((k) => `## ${k.title}\n${formatPlan(planApplication(k.input, k.observed)) || "(no steps)"}\n`).join("\n");
}

describe("application planner (golden plans)", () => {
  it("produces the plans in test/golden/plans.txt", () => {
    created = 1000;
    const actual = render();
    if (process.env.UPDATE_GOLDEN || !existsSync(GOLDEN)) writeFileSync(GOLDEN, actual);
    expect(actual).to.equal(readFileSync(GOLDEN, "utf8"));
  });

  it("never removes an old replica before its replacement is ready when maxUnavailable is 0", () => {
    const plan = planApplication(base, [c(0, "old00000", "running", "healthy", "shop-web-0-old-old00000"), c(0, "new00000", "running", "starting"), c(1, "old00000"), c(2, "old00000")]);
    expect(plan.steps.filter((s) => s.op === "remove")).to.have.length(0);
    expect(plan.waiting.join()).to.contain("not ready yet");
  });

  it("is pure: the same input gives the same plan", () => {
    const obs = [c(0, "old00000"), c(1, "old00000")];
    expect(formatPlan(planApplication(base, obs))).to.equal(formatPlan(planApplication(base, obs)));
  });
});

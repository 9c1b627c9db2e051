import { expect } from "chai";
import { expectGolden } from "../helpers/golden.js";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ObservedContainer } from "../../src/runtime/driver.js";
import { formatPlan, planApplication, planDatabase, planInfrastructure, withInfrastructure, type AppPlanInput, type DatabasePlanInput, type InfraObserved, type Plan } from "../../src/runtime/plan.js";

const GOLDEN = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "golden", "plans.txt");

let created = 1000;
function c(replica: number | undefined, hash: string, state = "running", health: ObservedContainer["health"] = "healthy", name?: string): ObservedContainer {
  const labels: Record<string, string> = { "berth.dev/config-hash": hash };
  if (replica !== undefined) labels["berth.dev/replica"] = String(replica);
  return { id: `id-${name ?? `${replica}-${hash}`}`, name: name ?? `shop-web-${replica}`, labels, state, health, ports: [], created: created++ };
}

const base: AppPlanInput = { project: "shop", name: "web", replicas: 3, hash: "new00000", strategy: { type: "RollingUpdate", maxSurge: 1, maxUnavailable: 0 }, graceSeconds: 10 };
const db: DatabasePlanInput = { hash: "aaaaaaaa11", suspend: false, graceSeconds: 30 };
const infra: InfraObserved = { image: { name: "busybox:1", present: true }, network: { name: "berth-shop", exists: true }, volumes: [{ name: "berth-shop-data", owner: { state: "ours" } }] };

/** Each case: a situation, what Docker shows, and the plan it must produce (golden text). */
const CASES: { title: string; plan: () => Plan }[] = [
  { title: "fresh application, 3 replicas", plan: () => planApplication(base, []) },
  { title: "steady state: nothing to do", plan: () => planApplication(base, [c(0, "new00000"), c(1, "new00000"), c(2, "new00000")]) },
  { title: "one replica removed by hand (docker rm -f)", plan: () => planApplication(base, [c(0, "new00000"), c(2, "new00000")]) },
  { title: "one replica stopped by hand (docker stop)", plan: () => planApplication(base, [c(0, "new00000"), c(1, "new00000", "exited", "none"), c(2, "new00000")]) },
  { title: "unhealthy replica", plan: () => planApplication(base, [c(0, "new00000"), c(1, "new00000", "running", "unhealthy"), c(2, "new00000")]) },
  { title: "every replica unhealthy (an overloaded host): one restart at a time", plan: () => planApplication(base, [c(0, "new00000", "running", "unhealthy"), c(1, "new00000", "running", "unhealthy"), c(2, "new00000", "running", "unhealthy")]) },
  { title: "scale down 3 → 1: the highest replicas leave the route, stop, and go", plan: () => planApplication({ ...base, replicas: 1 }, [c(0, "new00000"), c(1, "new00000"), c(2, "new00000")]) },
  {
    // Its health may turn before the stop, and the Domain's sync would route it in that gap.
    title: "scale down 3 → 1 while replica 1 still starts: it leaves the route before the stop too",
    plan: () => planApplication({ ...base, replicas: 1 }, [c(0, "new00000"), c(1, "new00000", "running", "starting"), c(2, "new00000")]),
  },
  { title: "rolling update, maxSurge 1, maxUnavailable 0: one replica at a time, old keeps serving", plan: () => planApplication(base, [c(0, "old00000"), c(1, "old00000"), c(2, "old00000")]) },
  { title: "rolling update in flight: new replica 0 still starting", plan: () => planApplication(base, [c(0, "old00000", "running", "healthy", "shop-web-0-old-old00000"), c(0, "new00000", "running", "starting"), c(1, "old00000"), c(2, "old00000")]) },
  { title: "rolling update in flight: new replica 0 unhealthy is not restarted; the old one keeps serving", plan: () => planApplication(base, [c(0, "old00000", "running", "healthy", "shop-web-0-old-old00000"), c(0, "new00000", "running", "unhealthy"), c(1, "old00000"), c(2, "old00000")]) },
  { title: "rolling update in flight: new replica 0 ready; the old one leaves the route before it stops", plan: () => planApplication(base, [c(0, "old00000", "running", "healthy", "shop-web-0-old-old00000"), c(0, "new00000"), c(1, "old00000"), c(2, "old00000")]) },
  { title: "rolling update with maxUnavailable 1", plan: () => planApplication({ ...base, strategy: { type: "RollingUpdate", maxSurge: 0, maxUnavailable: 1 } }, [c(0, "old00000"), c(1, "old00000"), c(2, "old00000")]) },
  { title: "Recreate strategy replaces every replica at once", plan: () => planApplication({ ...base, strategy: { type: "Recreate", maxSurge: 0, maxUnavailable: 0 } }, [c(0, "old00000"), c(1, "old00000"), c(2, "old00000")]) },
  { title: "old replica crashed: replaced directly, nothing to unroute or stop", plan: () => planApplication(base, [c(0, "old00000", "exited", "none"), c(1, "new00000"), c(2, "new00000")]) },
  { title: "crash mid-rollout left a created, never-started container", plan: () => planApplication(base, [c(0, "new00000", "created", "none"), c(1, "new00000"), c(2, "new00000")]) },
  { title: "duplicate containers for one replica", plan: () => planApplication(base, [c(0, "new00000"), c(0, "new00000", "running", "healthy", "shop-web-0-dup"), c(1, "new00000"), c(2, "new00000")]) },
  { title: "container without a replica label", plan: () => planApplication(base, [c(0, "new00000"), c(1, "new00000"), c(2, "new00000"), c(undefined, "new00000", "running", "none", "stray")]) },
  { title: "scale to zero", plan: () => planApplication({ ...base, replicas: 0 }, [c(0, "new00000"), c(1, "new00000")]) },
  {
    title: "revert over a broken rollout: the surviving old container takes its canonical name back",
    plan: () => planApplication({ ...base, replicas: 1, hash: "old00000" }, [c(0, "old00000", "running", "healthy", "shop-web-0-old-old00000"), c(0, "new00000", "running", "unhealthy", "shop-web-0")]),
  },
  {
    title: "quick successive edits: each renamed container gets a name of its own",
    plan: () => planApplication({ ...base, replicas: 1, hash: "ccc00000" }, [c(0, "aaa00000", "running", "healthy", "shop-web-0-old-aaa00000"), c(0, "bbb00000", "running", "starting", "shop-web-0"), c(0, "bbb00000", "exited", "none", "shop-web-0-old-bbb00000")]),
  },
  { title: "a create needs its image, network and volume first", plan: () => withInfrastructure(planApplication({ ...base, replicas: 1 }, []), planInfrastructure({ image: { name: "busybox:1", present: false }, network: { name: "berth-shop", exists: false }, volumes: [{ name: "berth-shop-data", owner: { state: "absent" } }] }, "a new replica")) },
  { title: "everything a create needs is there", plan: () => withInfrastructure(planApplication({ ...base, replicas: 1 }, []), planInfrastructure(infra, "a new replica")) },
  { title: "a volume of another installation blocks the whole plan", plan: () => withInfrastructure(planApplication(base, [c(0, "old00000")]), planInfrastructure({ ...infra, volumes: [{ name: "berth-shop-data", owner: { state: "other", instance: "6d1f" } }] }, "a new replica")) },
  { title: "database: fresh", plan: () => planDatabase(db, []) },
  { title: "database: steady state", plan: () => planDatabase(db, [c(0, "aaaaaaaa11", "running", "none", "p-db-0")]) },
  { title: "database: stopped by hand", plan: () => planDatabase(db, [c(0, "aaaaaaaa11", "exited", "none", "p-db-0")]) },
  { title: "database: config changed (recreate: the old server stops cleanly first)", plan: () => planDatabase({ ...db, hash: "bbbbbbbb22" }, [c(0, "aaaaaaaa11", "running", "none", "p-db-0")]) },
  { title: "database: duplicate container", plan: () => planDatabase(db, [c(0, "aaaaaaaa11", "running", "none", "p-db-0"), c(0, "aaaaaaaa11", "exited", "none", "p-db-0-x")]) },
  { title: "database: suspended", plan: () => planDatabase({ ...db, suspend: true }, [c(0, "aaaaaaaa11", "running", "none", "p-db-0")]) },
  { title: "database: suspended and already stopped", plan: () => planDatabase({ ...db, suspend: true }, [c(0, "aaaaaaaa11", "exited", "none", "p-db-0")]) },
];

function render(): string {
  created = 1000;
  return CASES.map((k) => `## ${k.title}\n${formatPlan(k.plan()) || "(no steps)"}\n`).join("\n");
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

describe("planners (golden plans)", () => {
  it("produce the plans in test/golden/plans.txt", () => {
    const actual = render();
    expectGolden(GOLDEN, actual);
  });

  it("never removes an old replica before its replacement is ready when maxUnavailable is 0", () => {
    const plan = planApplication(base, [c(0, "old00000", "running", "healthy", "shop-web-0-old-old00000"), c(0, "new00000", "running", "starting"), c(1, "old00000"), c(2, "old00000")]);
    expect(plan.steps.filter((s) => s.op === "remove" || s.op === "stop" || s.op === "unroute")).to.have.length(0);
    expect(plan.waiting.join()).to.contain("not ready yet");
  });

  it("takes a serving container out of the route before it stops it, and stops it before removing it", () => {
    const plan = planApplication({ ...base, replicas: 1 }, [c(0, "new00000"), c(1, "new00000")]);
    expect(plan.steps.map((s) => `${s.op} ${"name" in s ? s.name : ""}`)).to.deep.equal(["unroute shop-web-1", "stop shop-web-1", "remove shop-web-1"]);
  });

  it("is pure: it changes nothing it is given, and the order Docker lists containers in does not matter", () => {
    created = 1;
    const observed = [c(0, "old00000", "running", "healthy", "shop-web-0-old-old00000"), c(0, "new00000"), c(1, "old00000"), c(2, "old00000", "exited", "none")];
    const frozen = deepFreeze(structuredClone(observed));
    const plan = formatPlan(planApplication(deepFreeze({ ...base }), frozen));
    expect(formatPlan(planApplication(base, [...observed].reverse()))).to.equal(plan);
    expect(frozen).to.deep.equal(observed);
  });
});

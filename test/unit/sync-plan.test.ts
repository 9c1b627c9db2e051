import { expect } from "chai";
import { expectGolden } from "../helpers/golden.js";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Condition } from "../../src/core/conditions.js";
import type { ResourceObject } from "../../src/core/types.js";
import { ownershipConflict } from "../../src/store/apply-set.js";
import { describePrune, entryKey, planPrune, type InventoryEntry, type PruneInput } from "../../src/store/sync-prune.js";
import { syncStatusFor } from "../../src/reconcilers/sync/status.js";

const GOLDEN = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "golden", "sync-prune.txt");
const REV = "c0ffee";

const entry = (name: string): InventoryEntry => ({ kind: "Application", namespace: "shop", name });
const live = (name: string, labels: Record<string, string> = { "berth.dev/sync": "infra" }, annotations: Record<string, string> = {}): ResourceObject => ({
  apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace: "shop", labels, annotations }, spec: {},
});

function input(inventory: string[], desired: string[], extra: Partial<PruneInput> = {}, annotated: string[] = []): PruneInput {
  const map = new Map(inventory.map((n) => [entryKey(entry(n)), live(n, undefined, annotated.includes(n) ? { "berth.dev/prune": "disabled" } : {})]));
  return { revision: REV, inventory: inventory.map(entry), desired: desired.map(entry), live: map, prune: true, ...extra };
}

const CASES: [string, PruneInput][] = [
  ["one file removed of four", input(["a", "b", "c", "d"], ["a", "b", "c"])],
  ["everything removed (wrong path)", input(["a", "b"], [])],
  ["everything removed, confirmed for this revision", input(["a", "b"], [], { confirmed: REV })],
  ["everything removed, confirmed for another revision", input(["a", "b"], [], { confirmed: "old" })],
  ["three of four removed, over the 50% limit", input(["a", "b", "c", "d"], ["a"])],
  ["three of four removed, pruneLimit 80%", input(["a", "b", "c", "d"], ["a"], { pruneLimit: "80%" })],
  ["removed but annotated prune: disabled", input(["a", "b", "c"], ["a", "b"], {}, ["c"])],
  ["prune: false", input(["a", "b"], ["a"], { prune: false })],
];

describe("Sync plan (golden prune plans)", () => {
  it("produces the plans in test/golden/sync-prune.txt", () => {
    const text = CASES.map(([name, i]) => `## ${name}\n${describePrune(planPrune(i))}`).join("\n");
    expectGolden(GOLDEN, text);
  });

  it("never adopts an object owned by another Sync or made by hand", () => {
    expect(ownershipConflict("infra", undefined)).to.equal(undefined);
    expect(ownershipConflict("infra", live("a"))).to.equal(undefined);
    expect(ownershipConflict("infra", live("a", { "berth.dev/sync": "other" }))).to.equal("Application shop/a is owned by Sync other");
    expect(ownershipConflict("infra", live("a", {}))).to.match(/created by hand/);
  });
});

describe("Sync statusFor", () => {
  const AT = "2026-12-02T09:00:00Z";
  const sync = (status: Record<string, unknown> = {}): ResourceObject => ({ apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name: "infra", generation: 3 }, spec: {}, status });
  const inv = [entry("a")];
  const failure = (reason: string, message: string, terminal: boolean) => ({ failure: { reason, message, terminal } });

  it("an applied revision becomes lastAppliedRevision and the inventory, Ready=True stamped with the generation; polls again after the interval", () => {
    const v = syncStatusFor(sync(), { source: "file:///r@main:prod", revision: "r2", inventory: inv, changed: 1, pruned: [], kept: [], intervalMs: 60_000 }, {}, AT);
    expect(v.status).to.deep.include({ observedGeneration: 3, revision: "r2", lastAttemptedRevision: "r2", lastAppliedRevision: "r2", inventory: inv });
    const ready = (v.status.conditions as Condition[]).find((c) => c.type === "Ready");
    expect(ready).to.deep.include({ status: "True", reason: "Applied", observedGeneration: 3 });
    expect(v.pollAfter).to.equal(60_000);
  });

  it("a broken revision keeps the last good revision and inventory, names the failure, is Stalled and warns", () => {
    const before = sync({ lastAppliedRevision: "r1", inventory: inv });
    const v = syncStatusFor(before, { source: "x", revision: "r2", intervalMs: 60_000 }, failure("ManifestInvalid", "prod/a.yaml:4: spec.replicas: must be integer", true), AT);
    expect(v.status).to.deep.include({ revision: "r2", lastAttemptedRevision: "r2", lastAppliedRevision: "r1", inventory: inv });
    const conds = v.status.conditions as Condition[];
    expect(conds.find((c) => c.type === "Ready")).to.deep.include({ status: "False", reason: "ManifestInvalid", message: "prod/a.yaml:4: spec.replicas: must be integer" });
    expect(conds.find((c) => c.type === "Stalled")?.status).to.equal("True");
    expect(v.events).to.deep.equal([{ type: "Warning", reason: "ManifestInvalid", message: "prod/a.yaml:4: spec.replicas: must be integer" }]);
    expect(v.pollAfter, "still polls for the commit that fixes it").to.equal(60_000);
  });

  it("copies berth.dev/reconcile-requested-at into lastHandledReconcileAt (Flux's), also when failed or suspended; absent without a request", () => {
    const requested = (status: Record<string, unknown> = {}): ResourceObject => ({ ...sync(status), metadata: { name: "infra", generation: 3, annotations: { "berth.dev/reconcile-requested-at": "2026-12-02T09:01:02.345Z" } } });
    const ok = syncStatusFor(requested(), { source: "x", revision: "r2", inventory: inv, changed: 0, pruned: [], kept: [] }, {}, AT);
    expect(ok.status.lastHandledReconcileAt).to.equal("2026-12-02T09:01:02.345Z");
    const bad = syncStatusFor(requested(), { source: "x", revision: "r2" }, failure("ManifestInvalid", "a.yaml:1: x", true), AT);
    expect(bad.status.lastHandledReconcileAt).to.equal("2026-12-02T09:01:02.345Z");
    expect(syncStatusFor(requested(), { source: "x" }, { suspended: true }, AT).status.lastHandledReconcileAt).to.equal("2026-12-02T09:01:02.345Z");
    expect(syncStatusFor(sync(), { source: "x", revision: "r2", inventory: inv, changed: 0, pruned: [], kept: [] }, {}, AT).status).not.to.have.property("lastHandledReconcileAt");
  });

  it("a failed fetch is retried (Reconciling), not Stalled", () => {
    const v = syncStatusFor(sync(), { source: "x" }, failure("FetchFailed", "git fetch: could not read from remote", false), AT);
    const conds = v.status.conditions as Condition[];
    expect(conds.find((c) => c.type === "Stalled")).to.equal(undefined);
    expect(conds.find((c) => c.type === "Reconciling")).to.deep.include({ status: "True" });
  });
});

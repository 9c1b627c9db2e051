import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ResourceObject } from "../../src/core/types.js";
import { describePrune, entryKey, ownershipConflict, planPrune, type InventoryEntry, type PruneInput } from "../../src/reconcilers/sync/plan.js";

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
    if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN, text);
    expect(text).to.equal(readFileSync(GOLDEN, "utf8"));
  });

  it("never adopts an object owned by another Sync or made by hand", () => {
    expect(ownershipConflict("infra", undefined)).to.equal(undefined);
    expect(ownershipConflict("infra", live("a"))).to.equal(undefined);
    expect(ownershipConflict("infra", live("a", { "berth.dev/sync": "other" }))).to.equal("Application shop/a is owned by Sync other");
    expect(ownershipConflict("infra", live("a", {}))).to.match(/created by hand/);
  });
});

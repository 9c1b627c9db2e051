import { expect } from "chai";
import { KeyedLock } from "../../src/runtime/keyed-lock.js";

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("KeyedLock", () => {
  it("runs one key's work one at a time in order, other keys alongside, and a failure does not stop the next", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    let inA = 0;
    let maxInA = 0;
    const a = (name: string, fail = false) => lock.run("a", async () => {
      maxInA = Math.max(maxInA, ++inA);
      log.push(`${name} start`);
      await tick(20);
      log.push(`${name} end`);
      inA--;
      if (fail) throw new Error(name);
    });
    const b = lock.run("b", async () => void log.push("b ran"));
    const results = await Promise.allSettled([a("a1", true), a("a2"), b]);
    expect(maxInA).to.equal(1);
    expect(log.indexOf("b ran")).to.be.lessThan(log.indexOf("a1 end"));
    expect(log.filter((l) => l.startsWith("a"))).to.deep.equal(["a1 start", "a1 end", "a2 start", "a2 end"]);
    expect(results.map((r) => r.status)).to.deep.equal(["rejected", "fulfilled", "fulfilled"]);
  });
});

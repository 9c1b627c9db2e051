import { expect } from "chai";
import winston from "winston";
import { Controller, TerminalError, type ObjectKey } from "../../src/controller/controller.js";
import { ResyncSource, type SourceEvent } from "../../src/controller/sources.js";
import { WorkQueue } from "../../src/controller/workqueue.js";
import type { ResourceStore } from "../../src/store/resources.js";
import { Metrics } from "../../src/telemetry/metrics.js";

const quiet = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the key and the ms it took for the queue to hand one out. */
async function timedGet(q: WorkQueue): Promise<{ key: string | undefined; ms: number }> {
  const t0 = Date.now();
  const key = await q.get();
  return { key, ms: Date.now() - t0 };
}

describe("work queue", () => {
  it("merges duplicate keys", async () => {
    const q = new WorkQueue("t");
    q.add("a");
    q.add("a");
    q.add("b");
    expect(q.length).to.equal(2);
    expect(await q.get()).to.equal("a");
    expect(await q.get()).to.equal("b");
    q.shutDown();
  });

  it("never hands out a key that is being processed; re-adds it after done", async () => {
    const q = new WorkQueue("t");
    q.add("a");
    const k = await q.get();
    q.add("a");
    expect(q.length).to.equal(0);
    q.done(k!);
    expect(q.length).to.equal(1);
    q.shutDown();
  });

  it("backs off exponentially per key (base · 2^n, capped) and resets on forget", async () => {
    const q = new WorkQueue("t", { baseDelayMs: 10, maxDelayMs: 80 });
    const delays = [1, 2, 3, 4, 5].map(() => q.addRateLimited("a"));
    expect(delays).to.deep.equal([10, 20, 40, 80, 80]);
    expect(q.retries("a")).to.equal(5);
    q.forget("a");
    expect(q.retries("a")).to.equal(0);
    expect(q.addRateLimited("a")).to.equal(10);
    // The delay is real: the key comes out no earlier than it said.
    const { key, ms } = await timedGet(q);
    expect(key).to.equal("a");
    expect(ms).to.be.at.least(8);
    q.shutDown();
  });

  it("the earliest of several delayed adds wins (a 30 s requeue does not swallow a 50 ms one)", async () => {
    const q = new WorkQueue("t");
    q.addAfter("a", 30_000);
    q.addAfter("a", 50);
    const t = q.pendingAt("a")!;
    expect(t - Date.now()).to.be.below(100);
    const { key, ms } = await timedGet(q);
    expect(key).to.equal("a");
    expect(ms).to.be.within(30, 1000);
    // A later delay does not replace an earlier pending one.
    q.done("a");
    q.addAfter("b", 50);
    q.addAfter("b", 30_000);
    expect(q.pendingAt("b")! - Date.now()).to.be.below(100);
    expect((await timedGet(q)).key).to.equal("b");
    q.shutDown();
  });

  it("an immediate add makes a pending delayed add of the same key moot", async () => {
    const q = new WorkQueue("t");
    q.addAfter("a", 30_000);
    q.add("a");
    expect(q.pendingAt("a")).to.equal(undefined);
    expect(await q.get()).to.equal("a");
    q.shutDown();
  });

  it("the global token bucket delays retries once the burst is spent", () => {
    const q = new WorkQueue("t", { baseDelayMs: 1, qps: 10, burst: 2 });
    expect(q.addRateLimited("a")).to.equal(1);
    expect(q.addRateLimited("b")).to.equal(1);
    // The third retry within the same instant waits for a token: 1/qps = 100 ms.
    expect(q.addRateLimited("c")).to.be.within(90, 110);
    q.shutDown();
  });
});

describe("controller", () => {
  it("reconciles one key at a time, retries errors with backoff, not terminal ones", async () => {
    const calls: string[] = [];
    let running = 0;
    let maxRunningSame = 0;
    let failures = 2;
    const reconciler = {
      async reconcile(key: ObjectKey) {
        if (key.name === "same") maxRunningSame = Math.max(maxRunningSame, ++running);
        calls.push(key.name);
        await sleep(20);
        if (key.name === "same") running--;
        if (key.name === "flaky" && failures-- > 0) throw new Error("transient");
        if (key.name === "broken") throw new TerminalError("never works");
        return {};
      },
    };
    const metrics = new Metrics();
    const ctl = new Controller({ name: "test", reconciler, logger: quiet, metrics, concurrency: 4, queue: { baseDelayMs: 50 } });
    const abort = new AbortController();
    await ctl.start(abort.signal);
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) ctl.enqueue({ kind: "Application", namespace: "p", name: "same" });
    ctl.enqueue({ kind: "Application", namespace: "p", name: "flaky" });
    ctl.enqueue({ kind: "Application", namespace: "p", name: "broken" });
    while (calls.filter((c) => c === "flaky").length < 3 && Date.now() - t0 < 5000) await sleep(10);
    const flakyDone = Date.now() - t0;
    await ctl.stop();
    expect(maxRunningSame).to.equal(1);
    expect(calls.filter((c) => c === "same").length).to.be.within(1, 2);
    expect(calls.filter((c) => c === "flaky")).to.have.length(3);
    // Two failures backed off 50 ms then 100 ms before the third, successful attempt.
    expect(flakyDone).to.be.at.least(150);
    expect(calls.filter((c) => c === "broken")).to.have.length(1);
    const text = (await metrics.render()).body;
    expect(text).to.match(/controller_runtime_reconcile_total\{controller="test",result="error"\} 3/);
    expect(text).to.match(/controller_runtime_terminal_reconcile_errors_total\{controller="test"\} 1/);
    expect(text).to.contain("workqueue_retries_total");
  });

  it("a requeueAfter reconciles the key again after that delay", async () => {
    const at: number[] = [];
    const t0 = Date.now();
    const ctl = new Controller({ name: "requeue", reconciler: { reconcile: async () => (at.push(Date.now() - t0), at.length < 2 ? { requeueAfter: 120 } : {}) }, logger: quiet, metrics: new Metrics() });
    await ctl.start(new AbortController().signal);
    ctl.enqueue({ kind: "Project", namespace: undefined, name: "x" });
    while (at.length < 2 && Date.now() - t0 < 3000) await sleep(10);
    await ctl.stop();
    expect(at).to.have.length(2);
    expect(at[1] - at[0]).to.be.at.least(110);
  });
});

describe("resync source", () => {
  it("a stopped source stays stopped: no pass runs after stop()", async () => {
    let lists = 0;
    const store = { list: async () => (lists++, { items: [], resourceVersion: "1" }) } as unknown as ResourceStore;
    const seen: SourceEvent[] = [];
    const s = new ResyncSource(store, (e) => seen.push(e), { kinds: ["Project"], periodMs: 30, fullPeriodMs: 0, observe: async () => [] });
    await s.start(new AbortController().signal);
    await sleep(100);
    await s.stop();
    const after = lists;
    expect(after).to.be.at.least(2);
    await sleep(150);
    expect(lists).to.equal(after);
    expect(await s.pass()).to.deep.equal({ queued: 0, full: false });
    // Started again after stop: still nothing.
    await s.start(new AbortController().signal);
    await sleep(100);
    expect(lists).to.equal(after);
  });
});

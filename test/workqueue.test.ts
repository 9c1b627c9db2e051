import { expect } from "chai";
import winston from "winston";
import { Controller, TerminalError, type ObjectKey } from "../src/controller/controller.js";
import { WorkQueue } from "../src/controller/workqueue.js";
import { Metrics } from "../src/telemetry/metrics.js";

const quiet = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

  it("backs off exponentially per key and resets on forget", () => {
    const q = new WorkQueue("t", { baseDelayMs: 10 });
    q.addRateLimited("a");
    q.addRateLimited("a");
    q.addRateLimited("a");
    expect(q.retries("a")).to.equal(3);
    q.forget("a");
    expect(q.retries("a")).to.equal(0);
    q.shutDown();
  });
});

describe("controller", () => {
  it("reconciles one key at a time, retries errors with backoff, not terminal ones", async () => {
    const calls: string[] = [];
    let running = 0;
    let maxRunning = 0;
    let failures = 2;
    const reconciler = {
      async reconcile(key: ObjectKey) {
        running++;
        maxRunning = Math.max(maxRunning, running);
        calls.push(key.name);
        await sleep(20);
        running--;
        if (key.name === "flaky" && failures-- > 0) throw new Error("transient");
        if (key.name === "broken") throw new TerminalError("never works");
        return {};
      },
    };
    const metrics = new Metrics();
    const ctl = new Controller("test", reconciler, quiet, metrics, 4);
    const abort = new AbortController();
    await ctl.start(abort.signal);
    for (let i = 0; i < 5; i++) ctl.enqueue({ kind: "Application", namespace: "p", name: "same" });
    ctl.enqueue({ kind: "Application", namespace: "p", name: "flaky" });
    ctl.enqueue({ kind: "Application", namespace: "p", name: "broken" });
    await sleep(1500);
    await ctl.stop();
    expect(calls.filter((c) => c === "same").length).to.be.within(1, 2);
    expect(calls.filter((c) => c === "flaky")).to.have.length(3);
    expect(calls.filter((c) => c === "broken")).to.have.length(1);
    const text = (await metrics.render()).body;
    expect(text).to.match(/controller_runtime_reconcile_total\{controller="test",result="error"\} 3/);
    expect(text).to.contain("workqueue_retries_total");
  });
});

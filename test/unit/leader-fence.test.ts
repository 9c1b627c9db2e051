import { expect } from "chai";
import winston from "winston";
import { Controller, type ReconcileContext } from "../../src/controller/controller.js";
import { LeaderElector, renewDeadlineMs, type LeaderLock } from "../../src/controller/leader.js";
import { executePlan, StepError } from "../../src/runtime/executor.js";
import { FakeDriver } from "../../src/runtime/fake.js";
import { NO_TRAFFIC } from "../../src/runtime/traffic.js";
import { Metrics } from "../../src/telemetry/metrics.js";

const quiet = winston.createLogger({ silent: true });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("the fence of a deposed leader (ADR 0026)", () => {
  it("a leader whose clock passed the renew deadline steps down at its next tick, even when the renewal would succeed", async () => {
    const order: string[] = [];
    const lock: LeaderLock = {
      tryAcquire: async () => true,
      holds: async () => (order.push("renewal asked"), true),
      close: async () => void order.push("session closed"),
    };
    let clock = 0;
    const timing = { leaseMs: 300, pollMs: 20 };
    const e = new LeaderElector(lock, { onStartedLeading: async () => undefined, onStoppedLeading: async () => void order.push("controllers stopped") }, quiet, { timing, clock: () => clock });
    await e.start(new AbortController().signal);
    // What a process frozen for longer than the lease sees when it wakes: time jumped.
    clock = renewDeadlineMs(timing) + 1;
    await sleep(timing.pollMs * 3);
    await e.stop();
    expect(order.slice(0, 2), "stepped down before asking Postgres anything, controllers before the session").to.deep.equal(["controllers stopped", "session closed"]);
  });

  it("a controller hands its start signal to every reconcile; stopping it aborts that signal", async () => {
    let seen: ReconcileContext | undefined;
    const ctl = new Controller({ name: "fence", reconciler: { reconcile: async (_k, ctx) => ((seen = ctx), {}) }, logger: quiet, metrics: new Metrics() });
    const abort = new AbortController();
    await ctl.start(abort.signal);
    ctl.enqueue({ kind: "Application", namespace: "p", name: "a" });
    for (let i = 0; i < 100 && !seen; i++) await sleep(5);
    expect(seen?.signal).to.equal(abort.signal);
    abort.abort();
    await ctl.stop();
    expect(seen?.signal?.aborted).to.equal(true);
  });

  it("the executor starts no further batch once the signal is aborted", async () => {
    const driver = new FakeDriver();
    const abort = new AbortController();
    const plan = {
      steps: [
        { op: "stop" as const, replica: 0, id: "old", name: "web-0", graceSeconds: 1, cause: "replaced" },
        { op: "remove" as const, replica: 0, id: "old", name: "web-0", cause: "replaced" },
      ],
      waiting: [],
    };
    const x = { driver, traffic: NO_TRAFFIC, createOptions: () => ({}) as never, ownerLabels: {}, signal: abort.signal, onStep: () => abort.abort() };
    const err = await executePlan(plan, x).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(StepError);
    expect((err as StepError).message).to.match(/no longer the leader/);
    expect(driver.calls.filter((c) => c.startsWith("remove")), "the batch after the abort never ran").to.deep.equal([]);
  });
});

import { expect } from "chai";
import { DEFAULT_IDLE_GC, exposeGc, IdleGc, type IdleGcProbes } from "../../src/telemetry/idle-gc.js";

const MB = 1024 * 1024;

/** Probes the test sets by hand: event-loop utilization, heap total/used, a clock; gc frees all slack. */
function fake(): IdleGcProbes & { elu: number; total: number; used: number; t: number; collections: number } {
  const f = {
    elu: 0, total: 100 * MB, used: 50 * MB, t: 0, collections: 0,
    gc: (): void => {
      f.collections++;
      f.total = f.used + 4 * MB;
    },
    utilization: (): number => f.elu,
    heap: (): { total: number; used: number } => ({ total: f.total, used: f.used }),
    now: (): number => f.t,
  };
  return f;
}

describe("idle full collection (src/telemetry/idle-gc.ts)", () => {
  it("collects once after a quiet window with slack, then not again until slack and the interval allow", () => {
    const f = fake();
    const g = new IdleGc(f);
    expect(g.tick()).to.equal(true);
    expect(f.collections).to.equal(1);
    expect(g.lastFreedBytes).to.equal(46 * MB);
    expect(g.tick(), "no slack left").to.equal(false);
    f.total = f.used + 30 * MB;
    f.t = DEFAULT_IDLE_GC.minIntervalMs - 1;
    expect(g.tick(), "too soon after the last one").to.equal(false);
    f.t = DEFAULT_IDLE_GC.minIntervalMs;
    expect(g.tick()).to.equal(true);
    expect(f.collections).to.equal(2);
  });

  it("never collects while the event loop is busy, or for slack below the threshold", () => {
    const f = fake();
    const g = new IdleGc(f);
    f.elu = DEFAULT_IDLE_GC.quietBelow;
    expect(g.tick(), "busy").to.equal(false);
    f.elu = 0;
    f.total = f.used + DEFAULT_IDLE_GC.minSlackBytes - 1;
    expect(g.tick(), "small slack").to.equal(false);
    expect(f.collections).to.equal(0);
  });

  it("a stopped one stays stopped", () => {
    const f = fake();
    const g = new IdleGc(f);
    g.stop();
    g.start();
    expect(g.tick()).to.equal(false);
    expect(f.collections).to.equal(0);
  });

  it("reaches V8's full collection in this Node without --expose-gc, and it frees garbage", () => {
    const gc = exposeGc();
    expect(gc).to.be.a("function");
    const holder: { junk?: unknown[] } = { junk: Array.from({ length: 200_000 }, (_, i) => ({ i, s: `x${i}` })) };
    const before = process.memoryUsage().heapUsed;
    delete holder.junk;
    gc!();
    expect(process.memoryUsage().heapUsed).to.be.lessThan(before - 5 * MB);
  });
});

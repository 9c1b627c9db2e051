import { expect } from "chai";
import { BuildFailure, BuildQueue, buildConcurrency } from "../../src/controller/build-queue.js";

/** A job whose build ends when the test says so. */
function gated(image: string): { run: () => Promise<{ image: string }>; finish: () => void; fail: (m: string) => void; started: () => boolean } {
  let resolve!: (v: { image: string }) => void;
  let reject!: (e: Error) => void;
  let started = false;
  const done = new Promise<{ image: string }>((res, rej) => ((resolve = res), (reject = rej)));
  return { run: () => ((started = true), done), finish: () => resolve({ image }), fail: (m) => reject(new BuildFailure(m, ["step 1", m])), started: () => started };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("build queue", () => {
  it("runs at most `limit` builds at once; the others wait with their position, and start as one ends", async () => {
    const woken: string[] = [];
    const q = new BuildQueue(1, (k) => woken.push(k));
    await q.start(new AbortController().signal);
    const a = gated("img-a");
    const b = gated("img-b");
    expect(q.request({ key: "A", commit: "a1", run: a.run }).state).to.equal("building");
    expect(q.request({ key: "B", commit: "b1", run: b.run })).to.deep.equal({ state: "queued", commit: "b1", position: 2, of: 2 });
    expect(b.started()).to.equal(false);
    a.finish();
    await tick();
    expect(woken).to.deep.equal(["A"]);
    expect(q.lookup({ key: "A", commit: "a1" })).to.deep.equal({ state: "succeeded", commit: "a1", image: "img-a" });
    expect(b.started()).to.equal(true);
    expect(q.lookup({ key: "B", commit: "b1" })?.state).to.equal("building");
    await q.stop();
  });

  it("a newer commit replaces the older one waiting for the same Application: the older is never built", async () => {
    const q = new BuildQueue(1, () => undefined);
    await q.start(new AbortController().signal);
    const busy = gated("x");
    q.request({ key: "X", commit: "x1", run: busy.run });
    const older = gated("old");
    const newer = gated("new");
    q.request({ key: "A", commit: "a1", run: older.run });
    q.request({ key: "A", commit: "a2", run: newer.run });
    expect(q.lookup({ key: "A", commit: "a1" })).to.equal(undefined);
    expect(q.depth()).to.deep.equal({ running: 1, waiting: 1 });
    busy.finish();
    await tick();
    expect(older.started()).to.equal(false);
    expect(newer.started()).to.equal(true);
    await q.stop();
  });

  it("a failure is kept with its tail until another commit or a retry token asks again", async () => {
    const q = new BuildQueue(2, () => undefined);
    await q.start(new AbortController().signal);
    const a = gated("a");
    q.request({ key: "A", commit: "c1", run: a.run });
    a.fail("RUN exit 3 returned a non-zero code: 3");
    await tick();
    const failed = q.request({ key: "A", commit: "c1", run: gated("never").run });
    expect(failed).to.deep.equal({ state: "failed", commit: "c1", message: "RUN exit 3 returned a non-zero code: 3", tail: ["step 1", "RUN exit 3 returned a non-zero code: 3"] });
    expect(q.request({ key: "A", commit: "c1", retry: "2026-12-03T10:00:00Z", run: gated("again").run }).state).to.equal("building");
    await q.stop();
  });

  it("a stopped queue builds nothing again; BERTH_BUILD_CONCURRENCY is read as a positive integer (default 2)", async () => {
    const q = new BuildQueue(1, () => undefined);
    const ac = new AbortController();
    await q.start(ac.signal);
    ac.abort();
    await tick();
    const j = gated("late");
    expect(q.request({ key: "L", commit: "l1", run: j.run }).state).to.equal("queued");
    expect(j.started()).to.equal(false);
    expect([buildConcurrency(undefined), buildConcurrency("4"), buildConcurrency("0"), buildConcurrency("x")]).to.deep.equal([2, 4, 2, 2]);
  });
});

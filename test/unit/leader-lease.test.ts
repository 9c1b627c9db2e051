import { expect } from "chai";
import winston from "winston";
import { LeaderElector, leaderTimingFromEnv, renewDeadlineMs, type LeaderLock, type LeaderTiming } from "../../src/controller/leader.js";

/** One lock shared by fake candidates, like one advisory lock shared by Postgres sessions. */
class SharedLock {
  holder: FakeSession | undefined;
}

class FakeSession implements LeaderLock {
  acquireCalls = 0;
  closed = 0;
  /** What the next renewals do: answer from the shared lock, hang, or fail. */
  renew: "normal" | "hang" | "fail" = "normal";

  constructor(private readonly shared: SharedLock) {}

  async tryAcquire(): Promise<boolean> {
    this.acquireCalls++;
    if (!this.shared.holder) this.shared.holder = this;
    return this.shared.holder === this;
  }

  holds(): Promise<boolean> {
    if (this.renew === "hang") return new Promise(() => undefined);
    if (this.renew === "fail") return Promise.reject(new Error("Connection terminated unexpectedly"));
    return Promise.resolve(this.shared.holder === this);
  }

  async close(): Promise<void> {
    this.closed++;
    if (this.shared.holder === this) this.shared.holder = undefined;
  }
}

const quiet = winston.createLogger({ silent: true });
const timing: LeaderTiming = { leaseMs: 300, pollMs: 20 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function candidate(lock: LeaderLock): { elector: LeaderElector; events: string[] } {
  const events: string[] = [];
  const elector = new LeaderElector(lock, {
    onStartedLeading: async () => void events.push("started"),
    onStoppedLeading: async () => void events.push("stopped"),
    onStatus: (leading) => events.push(leading ? "gauge=1" : "gauge=0"),
  }, quiet, { timing });
  return { elector, events };
}

async function until(what: string, ok: () => boolean, ms = 2000): Promise<number> {
  const start = performance.now();
  while (!ok()) {
    if (performance.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
  return performance.now() - start;
}

describe("leader election: lease, renew deadline and step-down (controller/leader.ts)", () => {
  const running: LeaderElector[] = [];
  afterEach(async () => {
    for (const e of running.splice(0)) await e.stop();
  });

  it("the first candidate leads; a second one waits, and takes over within a poll when the lock frees", async () => {
    const shared = new SharedLock();
    const a = candidate(new FakeSession(shared));
    const b = candidate(new FakeSession(shared));
    running.push(a.elector, b.elector);
    await a.elector.start(new AbortController().signal);
    await b.elector.start(new AbortController().signal);
    expect([a.elector.isLeader, b.elector.isLeader]).to.deep.equal([true, false]);
    expect(a.events).to.deep.equal(["gauge=0", "gauge=1", "started"]);
    await a.elector.stop();
    const took = await until("b leads", () => b.elector.isLeader);
    expect(took).to.be.lessThan(timing.pollMs * 5);
    expect(a.events.at(-1)).to.equal("stopped");
  });

  it("a renewal that hangs steps the leader down by the renew deadline, before the lease runs out", async () => {
    const session = new FakeSession(new SharedLock());
    const a = candidate(session);
    running.push(a.elector);
    await a.elector.start(new AbortController().signal);
    session.renew = "hang";
    const hungAt = performance.now();
    await until("a stops leading", () => a.events.includes("stopped"));
    const after = performance.now() - hungAt;
    expect(after, "stepped down after the deadline, not before").to.be.at.least(renewDeadlineMs(timing) - timing.pollMs - 5);
    expect(after, "stepped down before the lease ends").to.be.lessThan(timing.leaseMs);
    expect(a.elector.isLeader).to.equal(false);
    expect(session.closed, "the session is ended so the lock frees at once").to.be.greaterThan(0);
  });

  it("isLeader turns false at the deadline even while the renewal is still outstanding", async () => {
    const session = new FakeSession(new SharedLock());
    let clock = 0;
    const elector = new LeaderElector(session, { onStartedLeading: async () => undefined, onStoppedLeading: async () => undefined }, quiet, { timing, clock: () => clock });
    running.push(elector);
    await elector.start(new AbortController().signal);
    expect(elector.isLeader).to.equal(true);
    clock = renewDeadlineMs(timing) - 1;
    expect(elector.isLeader).to.equal(true);
    clock = renewDeadlineMs(timing);
    expect(elector.isLeader).to.equal(false);
  });

  it("a failed renewal steps down and closes the session; the candidate then campaigns again", async () => {
    const shared = new SharedLock();
    const session = new FakeSession(shared);
    const a = candidate(session);
    running.push(a.elector);
    await a.elector.start(new AbortController().signal);
    session.renew = "fail";
    await until("a stops leading", () => a.events.includes("stopped"));
    expect(shared.holder).to.equal(undefined);
    session.renew = "normal";
    await until("a leads again", () => a.elector.isLeader);
    expect(a.events.filter((e) => e === "started")).to.have.length(2);
  });

  it("a renewal that finds the lock held by someone else steps down", async () => {
    const shared = new SharedLock();
    const a = candidate(new FakeSession(shared));
    running.push(a.elector);
    await a.elector.start(new AbortController().signal);
    shared.holder = new FakeSession(shared);
    await until("a stops leading", () => a.events.includes("stopped"));
    expect(a.elector.isLeader).to.equal(false);
  });

  it("a stopped elector stays stopped: it never campaigns again", async () => {
    const shared = new SharedLock();
    shared.holder = new FakeSession(shared);
    const session = new FakeSession(shared);
    const a = candidate(session);
    await a.elector.start(new AbortController().signal);
    await sleep(timing.pollMs * 3);
    await a.elector.stop();
    const calls = session.acquireCalls;
    shared.holder = undefined;
    await sleep(timing.pollMs * 5);
    expect(session.acquireCalls).to.equal(calls);
    expect(a.elector.isLeader).to.equal(false);
  });

  it("reads BERTH_LEADER_LEASE_SECONDS and BERTH_LEADER_POLL_MS, and refuses a lease shorter than 3 polls", () => {
    expect(leaderTimingFromEnv({})).to.deep.equal({ leaseMs: 10_000, pollMs: 1_000 });
    expect(leaderTimingFromEnv({ BERTH_LEADER_LEASE_SECONDS: "6", BERTH_LEADER_POLL_MS: "500" })).to.deep.equal({ leaseMs: 6_000, pollMs: 500 });
    expect(() => leaderTimingFromEnv({ BERTH_LEADER_LEASE_SECONDS: "2", BERTH_LEADER_POLL_MS: "1000" })).to.throw(/at least 3 polls/);
    expect(() => leaderTimingFromEnv({ BERTH_LEADER_POLL_MS: "abc" })).to.throw(/BERTH_LEADER_POLL_MS/);
    expect(renewDeadlineMs({ leaseMs: 10_000, pollMs: 1_000 })).to.equal(6_666);
  });
});

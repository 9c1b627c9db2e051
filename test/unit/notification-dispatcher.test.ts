import { expect } from "chai";
import type { NotificationChannel, NotificationPayload } from "../../src/core/notifications.js";
import { DeliveryError, type Sender } from "../../src/reconcilers/notification/channels.js";
import { backoffDelay, NotificationDispatcher, TokenBucket, type BackoffPolicy } from "../../src/reconcilers/notification/dispatcher.js";
import type { Outbox, OutboxDelivery } from "../../src/store/notifications.js";
import { quiet } from "../helpers/unit-store.js";

/** The outbox as the dispatcher sees it, in memory, on the test's clock. */
class MemoryOutbox implements Outbox {
  rows: { d: OutboxDelivery; state: "pending" | "delivered" | "failed"; next: number; claimedUntil: number; errors: string[] }[] = [];
  deliveredMarks = 0;

  constructor(private readonly now: () => number) {}

  add(notificationUid: string, id: string): void {
    const payload: NotificationPayload = { event: "RolloutFailed", type: "Warning", reason: "ProgressDeadlineExceeded", message: "m", object: { kind: "Application", namespace: "p", name: "web", uid: "u" }, at: "2026-01-01T00:00:00Z" };
    this.rows.push({ d: { id, notificationUid, namespace: "p", name: notificationUid, spec: {}, payload, attempts: 0 }, state: "pending", next: 0, claimedUntil: 0, errors: [] });
  }

  async claim(limit: number, leaseMs: number): Promise<OutboxDelivery[]> {
    const due = this.rows.filter((r) => r.state === "pending" && r.next <= this.now() && r.claimedUntil <= this.now()).slice(0, limit);
    for (const r of due) r.claimedUntil = this.now() + leaseMs;
    return due.map((r) => ({ ...r.d }));
  }

  private row(id: string): MemoryOutbox["rows"][number] {
    return this.rows.find((r) => r.d.id === id)!;
  }

  async delivered(id: string): Promise<boolean> {
    const r = this.row(id);
    if (r.state !== "pending") return false;
    this.deliveredMarks++;
    r.state = "delivered";
    return true;
  }

  async failed(id: string, error: string, retryAt: Date | undefined): Promise<void> {
    const r = this.row(id);
    r.d.attempts++;
    r.errors.push(error);
    r.claimedUntil = 0;
    if (retryAt) r.next = retryAt.getTime();
    else r.state = "failed";
  }

  async defer(id: string, until: Date): Promise<void> {
    const r = this.row(id);
    r.claimedUntil = 0;
    r.next = until.getTime();
  }
}

const POLICY: BackoffPolicy = { baseMs: 1000, maxMs: 8000, maxAttempts: 6 };

describe("notification dispatcher (injected clock, in-memory outbox)", () => {
  let clock: number;
  let outbox: MemoryOutbox;
  let sent: string[];
  let answers: (string | undefined)[];
  let woken: string[];

  const send: Sender = async (_c: NotificationChannel, _p, id) => {
    const answer = answers.shift();
    if (answer) throw new DeliveryError(answer);
    sent.push(id);
  };
  const dispatcher = (rate = { burst: 100, perMinute: 6000 }): NotificationDispatcher =>
    new NotificationDispatcher({ outbox, channelOf: () => ({ webhook: { url: "http://x" } }), send, logger: quiet, enqueue: (k) => woken.push(k.name), backoff: POLICY, rate, now: () => clock });

  beforeEach(() => {
    clock = 1_000_000;
    outbox = new MemoryOutbox(() => clock);
    sent = [];
    answers = [];
    woken = [];
  });

  it("backs off exponentially up to the cap", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(POLICY, n))).to.deep.equal([1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it("retries a refused delivery after 1 s, 2 s, 4 s, then delivers it once and wakes the Notification", async () => {
    outbox.add("n1", "1");
    answers = ["HTTP 503", "HTTP 503", "HTTP 502"];
    const d = dispatcher();
    const attemptsAt: number[] = [];
    for (let t = 0; t <= 10_000; t += 250) {
      clock = 1_000_000 + t;
      if (await d.runOnce()) attemptsAt.push(t);
    }
    expect(attemptsAt).to.deep.equal([0, 1000, 3000, 7000]);
    expect(sent).to.deep.equal(["1"]);
    expect(outbox.deliveredMarks).to.equal(1);
    expect(outbox.rows[0]).to.include({ state: "delivered" });
    expect(outbox.rows[0].errors).to.deep.equal(["HTTP 503", "HTTP 503", "HTTP 502"]);
    expect(woken).to.deep.equal(["n1", "n1", "n1", "n1"]);
  });

  it("gives up after maxAttempts failed attempts and keeps the channel's last answer", async () => {
    outbox.add("n1", "1");
    answers = Array(10).fill("HTTP 404: no such hook");
    const d = dispatcher();
    for (let t = 0; t <= 60_000; t += 500) {
      clock = 1_000_000 + t;
      await d.runOnce();
    }
    expect(outbox.rows[0].state).to.equal("failed");
    expect(outbox.rows[0].d.attempts).to.equal(POLICY.maxAttempts);
    expect(sent).to.deep.equal([]);
  });

  it("rate-limits per Notification with a token bucket: a burst, then one per refill, without counting attempts", async () => {
    for (let i = 1; i <= 5; i++) outbox.add("noisy", String(i));
    outbox.add("quiet", "q");
    const d = dispatcher({ burst: 2, perMinute: 60 }); // a token a second
    await d.runOnce();
    expect(sent.sort()).to.deep.equal(["1", "2", "q"]);
    expect(outbox.rows.filter((r) => r.d.notificationUid === "noisy" && r.state === "pending").map((r) => r.next - clock)).to.deep.equal([1000, 1000, 1000]);
    clock += 1000;
    await d.runOnce();
    expect(sent).to.have.length(4);
    clock += 2000;
    await d.runOnce();
    await d.runOnce();
    clock += 1000;
    await d.runOnce();
    expect(sent.sort()).to.deep.equal(["1", "2", "3", "4", "5", "q"]);
    expect(outbox.rows.every((r) => r.d.attempts === 0)).to.equal(true);
  });

  it("a token bucket refills continuously and never beyond its burst", () => {
    const b = new TokenBucket({ burst: 3, perMinute: 60 }, 0);
    expect([b.take(0), b.take(0), b.take(0)]).to.deep.equal([0, 0, 0]);
    expect(b.take(0)).to.equal(1000);
    expect(b.take(500)).to.equal(500);
    expect(b.take(1000)).to.equal(0);
    expect(b.take(3_600_000)).to.equal(0);
    expect([b.take(3_600_000), b.take(3_600_000), b.take(3_600_000)]).to.deep.equal([0, 0, 1000]);
  });

  it("a row claimed by one dispatcher is not delivered by another while the lease holds", async () => {
    outbox.add("n1", "1");
    let release: () => void = () => undefined;
    const slow: Sender = () => new Promise<void>((r) => (release = r)).then(() => void sent.push("slow"));
    const a = new NotificationDispatcher({ outbox, channelOf: () => ({}), send: slow, logger: quiet, enqueue: () => undefined, now: () => clock });
    const first = a.runOnce();
    await new Promise((r) => setImmediate(r));
    const b = dispatcher();
    expect(await b.runOnce()).to.equal(0);
    release();
    await first;
    expect(sent).to.deep.equal(["slow"]);
    expect(outbox.deliveredMarks).to.equal(1);
  });

  it("start/stop: a started dispatcher polls, a stopped one stays stopped", async () => {
    outbox.add("n1", "1");
    const d = new NotificationDispatcher({ outbox, channelOf: () => ({}), send, logger: quiet, enqueue: () => undefined, pollMs: 10 });
    const abort = new AbortController();
    await d.start(abort.signal);
    for (let i = 0; i < 50 && !sent.length; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sent).to.deep.equal(["1"]);
    abort.abort();
    await d.stop();
    outbox.add("n1", "2");
    await new Promise((r) => setTimeout(r, 50));
    expect(sent).to.deep.equal(["1"]);
  });
});

import type { Metrics } from "../telemetry/metrics.js";

/**
 * A work queue of keys in controller-runtime's shape: a key added while queued is merged, a key
 * added while being processed is queued again once `done`, so one key is never handed to two
 * workers at once. Failures back off per key (exponential, reset by `forget`); a token bucket
 * limits the overall rate of retries.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  /** Pending delayed adds: the timer and when it fires. */
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; at: number }>();
  private waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private tokens: number;
  private lastRefill = Date.now();

  constructor(
    readonly name: string,
    private readonly opts: { baseDelayMs?: number; maxDelayMs?: number; qps?: number; burst?: number; metrics?: Metrics } = {},
  ) {
    this.tokens = opts.burst ?? 100;
  }

  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    const pending = this.timers.get(key);
    if (pending) {
      // Added now, so the delayed add is moot.
      clearTimeout(pending.timer);
      this.timers.delete(key);
    }
    this.opts.metrics?.queueAdds.inc({ name: this.name });
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter(key);
    else this.queue.push(key);
    this.updateDepth();
  }

  /**
   * Adds the key after `ms`. Of several pending delays for one key the earliest wins, as in
   * controller-runtime: a 1 s requeue is not swallowed by a pending 30 s one.
   */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { timer, at });
  }

  /** When a delayed add of `key` is due (ms since the epoch), if one is pending. */
  pendingAt(key: string): number | undefined {
    return this.timers.get(key)?.at;
  }

  /**
   * Requeue after a failure: per-key exponential backoff (base · 2^failures, capped), then the
   * global token bucket. Returns the delay chosen.
   */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.opts.metrics?.queueRetries.inc({ name: this.name });
    const perKey = Math.min((this.opts.baseDelayMs ?? 100) * 2 ** n, this.opts.maxDelayMs ?? 300_000);
    const delay = Math.max(perKey, this.bucketDelay());
    this.addAfter(key, delay);
    return delay;
  }

  private bucketDelay(): number {
    const qps = this.opts.qps ?? 10;
    const now = Date.now();
    this.tokens = Math.min(this.opts.burst ?? 100, this.tokens + ((now - this.lastRefill) / 1000) * qps);
    this.lastRefill = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / qps) * 1000);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  /** The next key to work on; undefined once the queue shuts down. */
  async get(): Promise<string | undefined> {
    if (this.shuttingDown) return undefined;
    const key = this.queue.shift();
    if (key !== undefined) {
      this.take(key);
      this.updateDepth();
      return key;
    }
    const next = await new Promise<string | undefined>((resolve) => this.waiters.push(resolve));
    if (next !== undefined) this.take(next);
    return next;
  }

  private take(key: string): void {
    this.dirty.delete(key);
    this.processing.add(key);
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    for (const w of this.waiters) w(undefined);
    this.waiters = [];
  }

  private updateDepth(): void {
    this.opts.metrics?.queueDepth.set({ name: this.name }, this.queue.length);
  }
}

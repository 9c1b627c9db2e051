import type { Logger } from "winston";
import type { NotificationChannel } from "../../core/notifications.js";
import type { ObjectKey } from "../../controller/controller.js";
import type { Component } from "../../controller/manager.js";
import type { Outbox, OutboxDelivery } from "../../store/notifications.js";
import { SecretValueError } from "../../store/secrets.js";
import { DeliveryError, type Sender } from "./channels.js";

/** Retries: the n-th failed attempt waits min(maxMs, baseMs · 2^(n-1)); after maxAttempts the row is given up on. */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  maxAttempts: number;
}

/** Per Notification: a bucket of `burst` tokens, refilled at `perMinute`; a delivery takes one. */
export interface RatePolicy {
  burst: number;
  perMinute: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 2_000, maxMs: 300_000, maxAttempts: 12 };
export const DEFAULT_RATE: RatePolicy = { burst: 10, perMinute: 30 };

export interface DispatcherDeps {
  outbox: Outbox;
  /** The channel of a claimed row with its secrets in plaintext; throws when they cannot be opened. */
  channelOf: (d: OutboxDelivery) => NotificationChannel;
  send: Sender;
  logger: Logger;
  /** Wakes the Notification's reconciler, which reports the outcome in its status. */
  enqueue: (key: ObjectKey) => void;
  pollMs?: number;
  /** How long a claim holds a row (longer than a delivery may take). */
  leaseMs?: number;
  batch?: number;
  backoff?: BackoffPolicy;
  rate?: RatePolicy;
  now?: () => number;
}

/** The wait after the n-th failed attempt (n ≥ 1). */
export function backoffDelay(policy: BackoffPolicy, failedAttempts: number): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failedAttempts - 1));
}

/** A token bucket; `take` answers 0 when a token was taken, else how long until one is there. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(private readonly policy: RatePolicy, now: number) {
    this.tokens = policy.burst;
    this.at = now;
  }

  take(now: number): number {
    const perMs = this.policy.perMinute / 60_000;
    this.tokens = Math.min(this.policy.burst, this.tokens + (now - this.at) * perMs);
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) / perMs);
  }
}

/** The settings from the environment (tests shorten the backoff); defaults otherwise. */
export function backoffFromEnv(env: NodeJS.ProcessEnv = process.env): BackoffPolicy {
  const base = Number(env.BERTH_NOTIFICATION_BACKOFF_MS);
  return Number.isFinite(base) && base > 0 ? { ...DEFAULT_BACKOFF, baseMs: base } : DEFAULT_BACKOFF;
}

/**
 * Delivers the outbox (ADR 0021): a long-lived component on the leader, apart from the work
 * queue, so a slow or dead channel never holds up a reconcile. Each tick claims due rows (a lease,
 * FOR UPDATE SKIP LOCKED), takes a token of the row's Notification (none left: the row waits
 * for the next one, no attempt counted), sends, and marks the row delivered — or records the
 * failed attempt with the channel's answer and when to retry. Then the Notification is woken.
 * Delivery is at least once: a crash between the channel's answer and the mark sends that one
 * row again after restart, with the same id (the webhook's Idempotency-Key).
 */
export class NotificationDispatcher implements Component {
  private readonly buckets = new Map<string, TokenBucket>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly d: DispatcherDeps) {}

  private get now(): number {
    return (this.d.now ?? Date.now)();
  }

  async start(signal: AbortSignal): Promise<void> {
    this.stopped = false;
    signal.addEventListener("abort", () => void this.stop(), { once: true });
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .then(() => undefined, (e: unknown) => void this.d.logger.warn("notification outbox not read; retrying", { error: (e as Error).message }))
        .finally(() => this.schedule(this.d.pollMs ?? 1000));
    }, ms);
  }

  /** One pass: claim what is due and deliver it. Returns how many rows were attempted. */
  async runOnce(): Promise<number> {
    const rows = await this.d.outbox.claim(this.d.batch ?? 16, this.d.leaseMs ?? 30_000);
    const attempted = await Promise.all(rows.map((r) => this.handle(r)));
    return attempted.filter(Boolean).length;
  }

  private bucketOf(uid: string): TokenBucket {
    let b = this.buckets.get(uid);
    if (!b) this.buckets.set(uid, (b = new TokenBucket(this.d.rate ?? DEFAULT_RATE, this.now)));
    return b;
  }

  /** One row: rate limit, send, record. True when a delivery was attempted. */
  private async handle(row: OutboxDelivery): Promise<boolean> {
    const wait = this.bucketOf(row.notificationUid).take(this.now);
    if (wait > 0) {
      await this.d.outbox.defer(row.id, new Date(this.now + wait));
      return false;
    }
    let sent = false;
    try {
      await this.d.send(this.d.channelOf(row), row.payload, row.id);
      sent = true;
    } catch (e) {
      await this.recordFailure(row, e);
    }
    // Not inside the try: a store error here is no failed attempt (the lease runs out and the row is sent again, same id).
    if (sent) await this.d.outbox.delivered(row.id);
    this.d.enqueue({ kind: "Notification", namespace: row.namespace, name: row.name });
    return true;
  }

  private async recordFailure(row: OutboxDelivery, e: unknown): Promise<void> {
    // Only DeliveryError messages are known to be scrubbed; anything else is named, not quoted.
    const message = e instanceof DeliveryError || e instanceof SecretValueError ? e.message : "cannot deliver: internal error";
    const policy = this.d.backoff ?? DEFAULT_BACKOFF;
    const failed = row.attempts + 1;
    const retryAt = failed >= policy.maxAttempts ? undefined : new Date(this.now + backoffDelay(policy, failed));
    this.d.logger.warn("notification not delivered", { notification: `${row.namespace}/${row.name}`, delivery: row.id, attempt: failed, error: message, retryAt: retryAt?.toISOString() ?? "never (given up)" });
    await this.d.outbox.failed(row.id, message, retryAt);
  }
}

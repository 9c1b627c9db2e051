import type { Logger } from "winston";
import { SessionLock } from "../store/session-lock.js";

/** Advisory-lock key for "runs the controllers"; distinct from the migration lock. */
export const LEADER_LOCK_KEY = "108187851450370";

export interface LeaderCallbacks {
  onStartedLeading: () => Promise<void>;
  onStoppedLeading: () => Promise<void>;
  /** Told every time leadership changes, for the `leader_election_master_status` gauge. */
  onStatus?: (leading: boolean) => void;
}

/** The part of SessionLock the elector uses; a fake in unit tests. */
export interface LeaderLock {
  tryAcquire(): Promise<boolean>;
  holds(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The timing of an election, after client-go's leaderelection: the lease is how long a holder
 * that went silent keeps the lock (the server ends its session after that long idle); the leader
 * renews every poll and steps down by itself when it could not renew for `renewDeadlineMs`
 * (⅔ of the lease), so it has stopped before anyone else can start; candidates retry every poll.
 */
export interface LeaderTiming {
  leaseMs: number;
  pollMs: number;
}

export const DEFAULT_LEADER_TIMING: LeaderTiming = { leaseMs: 10_000, pollMs: 1_000 };

/** Reads BERTH_LEADER_LEASE_SECONDS and BERTH_LEADER_POLL_MS; refuses timings that cannot work. */
export function leaderTimingFromEnv(env: NodeJS.ProcessEnv): LeaderTiming {
  const leaseMs = env.BERTH_LEADER_LEASE_SECONDS ? Number(env.BERTH_LEADER_LEASE_SECONDS) * 1000 : DEFAULT_LEADER_TIMING.leaseMs;
  const pollMs = env.BERTH_LEADER_POLL_MS ? Number(env.BERTH_LEADER_POLL_MS) : DEFAULT_LEADER_TIMING.pollMs;
  return validLeaderTiming({ leaseMs, pollMs });
}

export function validLeaderTiming(t: LeaderTiming): LeaderTiming {
  if (!Number.isFinite(t.pollMs) || t.pollMs < 10) throw new Error(`BERTH_LEADER_POLL_MS must be a number of milliseconds ≥ 10, got ${t.pollMs}`);
  if (!Number.isFinite(t.leaseMs) || t.leaseMs < 3 * t.pollMs) {
    throw new Error(`BERTH_LEADER_LEASE_SECONDS (${t.leaseMs / 1000}) must be at least 3 polls (3 × BERTH_LEADER_POLL_MS = ${(3 * t.pollMs) / 1000} s), so a leader can renew before its deadline`);
  }
  return t;
}

export function renewDeadlineMs(t: LeaderTiming): number {
  return Math.floor((t.leaseMs * 2) / 3);
}

/** What one round trip may take: a third of the renew deadline, so two tries fit before it. */
export function roundTripMs(t: LeaderTiming): number {
  return Math.max(100, Math.floor(renewDeadlineMs(t) / 3));
}

/**
 * Leader election on a Postgres session advisory lock: the holder's connection owns the lock,
 * so when that process dies its session ends and another candidate takes over within one poll;
 * a holder that hangs or loses the network loses the lock after the lease (SessionLock) and
 * has stepped down by itself before that (renew deadline). A stopped elector stays stopped: it
 * never polls or leads again.
 */
export class LeaderElector {
  private readonly lock: LeaderLock;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private renewedAt = 0;
  private stopped = false;
  private readonly timing: LeaderTiming;

  private readonly now: () => number;

  /** `url` is the Postgres to elect on, or a lock of the caller's; `clock` is for unit tests. */
  constructor(
    url: string | LeaderLock,
    private readonly callbacks: LeaderCallbacks,
    private readonly logger: Logger,
    options: { timing?: LeaderTiming; clock?: () => number } = {},
  ) {
    const timing = validLeaderTiming(options.timing ?? DEFAULT_LEADER_TIMING);
    this.timing = timing;
    this.now = options.clock ?? ((): number => performance.now());
    this.lock = typeof url === "string"
      ? new SessionLock(url, LEADER_LOCK_KEY, () => void this.lost("leader connection failed"), { leaseMs: timing.leaseMs, roundTripMs: roundTripMs(timing) })
      : url;
  }

  /** True only while the lock was proven held within the renew deadline. */
  get isLeader(): boolean {
    return this.leading && this.now() - this.renewedAt < renewDeadlineMs(this.timing);
  }

  async start(_signal: AbortSignal): Promise<void> {
    this.callbacks.onStatus?.(false);
    await this.tick();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.timing.pollMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    // First, before any I/O: a process that wakes after a freeze steps down in this turn of the
    // event loop, before the callbacks of the Docker calls it was waiting on run.
    if (this.leading && !this.isLeader) await this.lost(`could not renew the lease within ${renewDeadlineMs(this.timing)} ms`);
    try {
      if (this.leading) await this.renew();
      else await this.campaign();
    } catch (e) {
      await this.lost(`leader election round trip failed: ${(e as Error).message}`);
    }
    this.schedule();
  }

  private async campaign(): Promise<void> {
    if (!(await this.lock.tryAcquire()) || this.stopped) return;
    this.leading = true;
    this.renewedAt = this.now();
    this.logger.info("acquired leadership; starting controllers", { leaseSeconds: this.timing.leaseMs / 1000 });
    this.callbacks.onStatus?.(true);
    await this.callbacks.onStartedLeading();
  }

  /** A renewal that has not answered by the renew deadline counts as failed, however it ends. */
  private async renew(): Promise<void> {
    const asked = this.now();
    const left = Math.max(0, this.renewedAt + renewDeadlineMs(this.timing) - asked);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), left)));
    const held = await Promise.race([this.lock.holds(), late]).finally(() => clearTimeout(timer));
    if (held === "late") await this.lost(`the lease was not renewed within ${renewDeadlineMs(this.timing)} ms`);
    else if (held) this.renewedAt = asked;
    else await this.lost("the lock is no longer this session's");
  }

  /** Controllers stop before the session ends, so nobody else can lead while they still run. */
  private async lost(why: string): Promise<void> {
    if (this.leading) {
      this.leading = false;
      this.logger.error("lost leadership; stopping controllers", { reason: why });
      this.callbacks.onStatus?.(false);
      await this.callbacks.onStoppedLeading();
    }
    await this.lock.close();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.leading) {
      this.leading = false;
      this.callbacks.onStatus?.(false);
      await this.callbacks.onStoppedLeading();
    }
    await this.lock.close();
  }
}

import type { Logger } from "winston";
import { SessionLock } from "../store/session-lock.js";

/** Advisory-lock key for "runs the controllers"; distinct from the migration lock. */
export const LEADER_LOCK_KEY = "108187851450370";

export interface LeaderCallbacks {
  onStartedLeading: () => Promise<void>;
  onStoppedLeading: () => Promise<void>;
}

/**
 * Leader election on a Postgres session advisory lock: the holder's connection owns the lock,
 * so when that process dies its session ends and another candidate takes over within one poll.
 * A stopped elector stays stopped: it never polls or leads again.
 */
export class LeaderElector {
  private readonly lock: SessionLock;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private stopped = false;

  constructor(
    url: string,
    private readonly callbacks: LeaderCallbacks,
    private readonly logger: Logger,
    private readonly pollMs = 1000,
  ) {
    this.lock = new SessionLock(url, LEADER_LOCK_KEY, () => void this.lost("leader connection failed"));
  }

  get isLeader(): boolean {
    return this.leading;
  }

  async start(_signal: AbortSignal): Promise<void> {
    await this.tryAcquire();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tryAcquire(), this.pollMs);
    this.timer.unref();
  }

  private async tryAcquire(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.leading) await this.lock.check();
      else if (await this.lock.tryAcquire()) {
        this.leading = true;
        this.logger.info("acquired leadership; starting controllers");
        await this.callbacks.onStartedLeading();
      }
    } catch (e) {
      await this.lost(`leader election check failed: ${(e as Error).message}`);
    }
    this.schedule();
  }

  private async lost(why: string): Promise<void> {
    await this.lock.close();
    if (this.leading) {
      this.leading = false;
      this.logger.error("lost leadership; stopping controllers", { reason: why });
      await this.callbacks.onStoppedLeading();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.leading) {
      this.leading = false;
      await this.callbacks.onStoppedLeading();
    }
    await this.lock.close();
  }
}

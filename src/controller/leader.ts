import pg from "pg";
import type { Logger } from "winston";

/** Advisory-lock key for "runs the controllers"; distinct from the migration lock. */
export const LEADER_LOCK_KEY = "108187851450370";

/**
 * Leader election on a Postgres session advisory lock: the holder's connection owns the lock,
 * so when that process dies its session ends and another candidate takes over within one poll.
 */
export class LeaderElector {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly callbacks: { onStartedLeading: () => Promise<void>; onStoppedLeading: () => Promise<void> },
    private readonly logger: Logger,
    private readonly pollMs = 1000,
  ) {}

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
    try {
      if (!this.client) {
        const client = new pg.Client({ connectionString: this.url });
        client.on("error", () => void this.lost("leader connection failed"));
        await client.connect();
        this.client = client;
      }
      if (!this.leading) {
        const rows = await this.client.query(`SELECT pg_try_advisory_lock($1::bigint) AS ok`, [LEADER_LOCK_KEY]);
        if (rows.rows[0].ok) {
          this.leading = true;
          this.logger.info("acquired leadership; starting controllers");
          await this.callbacks.onStartedLeading();
        }
      } else {
        await this.client.query("SELECT 1");
      }
    } catch (e) {
      await this.lost(`leader election check failed: ${(e as Error).message}`);
    }
    this.schedule();
  }

  private async lost(why: string): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
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
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}

import pg from "pg";

/**
 * A Postgres session advisory lock on a connection of its own: held for as long as that
 * session lives, so when the holding process dies its session ends and the lock is free.
 * Leader election is built on it (controller/leader.ts).
 */
export class SessionLock {
  private client: pg.Client | undefined;

  constructor(
    private readonly url: string,
    private readonly key: string,
    private readonly onConnectionError: () => void,
  ) {}

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Connects if needed and tries to take the lock once; true when this session holds it. */
  async tryAcquire(): Promise<boolean> {
    const client = await this.connection();
    const rows = await client.query(`SELECT pg_try_advisory_lock($1::bigint) AS ok`, [this.key]);
    return rows.rows[0].ok === true;
  }

  /** A round trip on the lock's session: fails when the session (and so the lock) is gone. */
  async check(): Promise<void> {
    await (await this.connection()).query("SELECT 1");
  }

  /** Ends the session, which releases the lock. */
  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({ connectionString: this.url });
    client.on("error", () => this.onConnectionError());
    await client.connect();
    this.client = client;
    return client;
  }
}

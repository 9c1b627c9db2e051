import pg from "pg";

/** How long the lock outlives a holder that stops talking to Postgres, and how often it talks. */
export interface LeaseSettings {
  /** A session idle this long is ended by the server, which frees the lock (`idle_session_timeout`). */
  leaseMs: number;
  /** Every round trip on the lock's session (connect, query) is cut after this long. */
  roundTripMs: number;
}

/** Postgres' SQLSTATE for an unknown setting: `idle_session_timeout` is new in Postgres 14. */
const UNDEFINED_SETTING = "42704";

/**
 * A Postgres session advisory lock on a connection of its own: held for as long as that
 * session lives, so when the holding process dies its session ends and the lock is free.
 * A holder that hangs, is frozen or loses its network keeps its TCP session open, so the session
 * also carries a lease: the server ends it once it has been idle for `leaseMs`, and TCP
 * keepalives find a peer that vanished. Leader election is built on it (controller/leader.ts).
 */
export class SessionLock {
  private client: pg.Client | undefined;
  private withLease = true;

  constructor(
    private readonly url: string,
    private readonly key: string,
    private readonly onConnectionError: () => void,
    private readonly lease: LeaseSettings = { leaseMs: 10_000, roundTripMs: 3_000 },
  ) {}

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Whether the server enforces the lease (false on a Postgres older than 14). */
  get leaseEnforced(): boolean {
    return this.withLease;
  }

  /** Connects if needed and tries to take the lock once; true when this session holds it. */
  async tryAcquire(): Promise<boolean> {
    const client = await this.connection();
    const rows = await client.query(`SELECT pg_try_advisory_lock($1::bigint) AS ok`, [this.key]);
    return rows.rows[0].ok === true;
  }

  /**
   * A round trip that renews the lease and proves this session still holds the lock: fails when
   * the session is gone, and answers false when it lives but the lock is not its own.
   */
  async holds(): Promise<boolean> {
    const rows = await (await this.connection()).query(
      `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
         AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1::bigint) AS held`,
      [this.key],
    );
    return rows.rows[0].held === true;
  }

  /** Ends the session, which releases the lock. */
  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    try {
      this.client = await this.connect(this.withLease);
    } catch (e) {
      if ((e as { code?: string }).code !== UNDEFINED_SETTING || !this.withLease) throw e;
      this.withLease = false;
      this.client = await this.connect(false);
    }
    return this.client;
  }

  private async connect(withLease: boolean): Promise<pg.Client> {
    const { leaseMs, roundTripMs } = this.lease;
    const settings = [`statement_timeout=${roundTripMs}`, `idle_in_transaction_session_timeout=${leaseMs}`];
    if (withLease) settings.push(`idle_session_timeout=${leaseMs}`);
    const client = new pg.Client({
      connectionString: this.url,
      connectionTimeoutMillis: roundTripMs,
      query_timeout: roundTripMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: Math.max(1000, Math.floor(leaseMs / 3)),
      options: settings.map((s) => `-c ${s}`).join(" "),
    });
    client.on("error", () => this.onConnectionError());
    try {
      await client.connect();
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    return client;
  }
}

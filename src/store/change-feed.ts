import pg from "pg";
import type { ResourceStore } from "./resources.js";
import { CHANGES_CHANNEL } from "./resources.js";
import type { Change } from "../core/types.js";
import { StoreUnavailableError } from "./errors.js";

/** The channel of migration AccessNotify: roles, teams, members, Project ownership, token revocation. */
export const ACCESS_CHANNEL = "berth_access";

export type ChangeListener = (change: Change) => void;

interface Subscription {
  listener: ChangeListener;
  /** The newest version this subscriber already has (from its list or the replay). */
  after: number;
}

/**
 * Delivers every committed change, in resource-version order, to in-process subscribers
 * (watch streams and controllers). LISTEN/NOTIFY wakes it; a slow poll covers lost notifications
 * (a dropped connection, a NOTIFY sent while reconnecting).
 */
export class ChangeFeed {
  private cursor = 0;
  private readonly subs = new Set<Subscription>();
  private readonly disconnectListeners = new Set<() => void>();
  private readonly accessListeners = new Set<() => void>();
  private chain: Promise<void> = Promise.resolve();
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly store: ResourceStore,
    private readonly url: string,
    private readonly pollMs = 1000,
  ) {}

  get position(): number {
    return this.cursor;
  }

  /** False while the LISTEN connection to Postgres is down (it reconnects by itself). */
  get connected(): boolean {
    return this.client !== undefined;
  }

  /**
   * Fails fast with StoreUnavailableError while the LISTEN connection is down: a watch started
   * then would hear nothing live, so it must be refused (503) rather than left open and silent.
   */
  requireConnected(): void {
    if (!this.connected) throw new StoreUnavailableError();
  }

  /**
   * Called once each time the LISTEN connection is lost. Watch streams end on it, so their
   * clients re-list (or re-watch) once the store is back instead of waiting on a deaf stream;
   * subscribers that stay (controllers) need nothing: delivery resumes from the cursor.
   */
  onDisconnect(listener: () => void): () => void {
    this.disconnectListeners.add(listener);
    return () => this.disconnectListeners.delete(listener);
  }

  async start(signal?: AbortSignal): Promise<void> {
    this.cursor = await this.store.currentResourceVersion();
    await this.connect();
    this.timer = setInterval(() => this.pump(), this.pollMs);
    signal?.addEventListener("abort", () => void this.stop());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
    await this.chain.catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on("notification", (n) => (n.channel === ACCESS_CHANNEL ? this.accessChanged() : this.pump()));
    client.on("error", () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
      await client.query(`LISTEN ${ACCESS_CHANNEL}`);
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    // Access changes made while no one listened were not heard: caches start over.
    this.accessChanged();
    this.pump();
  }

  /**
   * Called whenever something an authorization decision depends on may have changed (the
   * `berth_access` NOTIFY of migration AccessNotify, and every (re)connect of the LISTEN
   * connection, since what changed meanwhile was not heard). Caches of token lookups and
   * Project scopes drop their entries on it; while `connected` is false they must not trust
   * themselves for long.
   */
  onAccessChange(listener: () => void): () => void {
    this.accessListeners.add(listener);
    return () => this.accessListeners.delete(listener);
  }

  private accessChanged(): void {
    for (const l of [...this.accessListeners]) l();
  }

  /** The LISTEN connection broke: tell the listeners once, then keep reconnecting. */
  private lost(client: pg.Client): void {
    void client.end().catch(() => undefined);
    // A second error from the same dead client (or one that never finished connecting) is not
    // a second disconnection.
    if (this.client !== client) return;
    this.client = undefined;
    for (const l of [...this.disconnectListeners]) l();
    this.accessChanged();
    this.reconnect();
  }

  /** Keeps trying while Postgres is away (every 500 ms); the poll timer covers changes meanwhile. */
  private reconnect(): void {
    if (this.stopped) return;
    setTimeout(() => {
      if (this.stopped || this.client) return;
      this.connect().catch(() => this.reconnect());
    }, 500).unref();
  }

  /** Queue a read of new changes; reads run one at a time so delivery order is the commit order. */
  pump(): void {
    this.chain = this.chain.then(() => this.drain()).catch(() => undefined);
  }

  /** Resolves once every change committed before the call has been delivered. */
  async sync(): Promise<void> {
    this.pump();
    await this.chain;
  }

  private async drain(): Promise<void> {
    if (this.stopped) return;
    for (;;) {
      const changes = await this.store.changesSince(this.cursor);
      for (const c of changes) this.deliver(c);
      if (changes.length < 1000) return;
    }
  }

  private deliver(c: Change): void {
    this.cursor = c.rv;
    // A subscriber may start ahead of the cursor (its list saw a commit whose NOTIFY is not
    // drained yet); it must not get that change a second time.
    for (const s of this.subs) if (c.rv > s.after) s.listener(c);
  }

  /** Replays the change log from `fromRv` up to the feed's cursor into `listener`. */
  private async replay(fromRv: number, listener: ChangeListener): Promise<void> {
    let rv = fromRv;
    while (rv < this.cursor) {
      const changes = (await this.store.changesSince(rv)).filter((c) => c.rv <= this.cursor);
      if (changes.length === 0) return;
      for (const c of changes) listener(c);
      rv = changes[changes.length - 1].rv;
    }
  }

  /**
   * Subscribe from resource version `fromRv`: older changes are replayed from the change log
   * first (410 Expired if compacted), then live ones follow with no gap and no repeat.
   */
  /** Subscribers now (watch streams and controller sources): a leak shows here first. */
  subscriberCount(): number {
    return this.subs.size;
  }

  async subscribe(fromRv: number, listener: ChangeListener): Promise<() => void> {
    const sub: Subscription = { listener, after: fromRv };
    let failure: unknown;
    const run = async (): Promise<void> => {
      try {
        await this.replay(fromRv, listener);
        this.subs.add(sub);
      } catch (e) {
        failure = e;
      }
    };
    this.chain = this.chain.then(run);
    await this.chain;
    if (failure) throw failure;
    return () => this.subs.delete(sub);
  }
}

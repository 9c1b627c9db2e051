import type { ProjectScope } from "../core/access.js";

/** How long a user's Project scope is reused, and how often it is re-read for a user's open watches. */
const SCOPE_TTL_MS = 1000;
/** The same while the store's access notifications are heard: any change empties the cache at once. */
const SCOPE_TTL_HEARD_MS = 60_000;

/** Where the store's access notifications are heard (store/change-feed.ts). */
export interface AccessChangeSource {
  onAccessChange(listener: () => void): () => void;
  readonly connected: boolean;
}

interface Entry {
  at: number;
  scope: ProjectScope;
  watchers: number;
  timer?: NodeJS.Timeout;
}

/**
 * The Projects each user may see, read at most once per second per user: every request of a
 * non-admin needs it. A denial is never decided on a cached scope (fresh() reads again), so a
 * Project a user just created or joined is theirs at once. While a user has watches open the
 * scope is re-read every second, so a removed membership stops their delivery within ~1 s.
 */
export class ScopeCache {
  private readonly entries = new Map<string, Entry>();

  private changes: AccessChangeSource | undefined;
  /** Bumped on every heard change: a read that began before one must not be trusted after it. */
  private generation = 0;

  constructor(private readonly load: (userId: string) => Promise<ProjectScope>) {}

  /**
   * Heard changes replace the TTL as what keeps scopes true: every entry is dropped at once, and
   * the scopes of users with open watches are re-read now, so their delivery follows within the
   * notification's latency rather than a second.
   */
  followAccessChanges(changes: AccessChangeSource): () => void {
    this.changes = changes;
    const off = changes.onAccessChange(() => this.changed());
    return (): void => {
      off();
      if (this.changes === changes) this.changes = undefined;
    };
  }

  private changed(): void {
    this.generation++;
    for (const [userId, e] of this.entries) {
      e.at = 0;
      if (e.watchers > 0) void this.fresh(userId).catch(() => undefined);
    }
  }

  async of(userId: string): Promise<ProjectScope> {
    const e = this.entries.get(userId);
    const ttl = this.changes?.connected ? SCOPE_TTL_HEARD_MS : SCOPE_TTL_MS;
    if (e && Date.now() - e.at < ttl) return e.scope;
    return this.fresh(userId);
  }

  async fresh(userId: string): Promise<ProjectScope> {
    const began = this.generation;
    const scope = await this.load(userId);
    // Read across a change: usable for this request, stale for the next.
    const at = began === this.generation ? Date.now() : 0;
    const e = this.entries.get(userId);
    if (e) Object.assign(e, { at, scope });
    else this.entries.set(userId, { at, scope, watchers: 0 });
    return scope;
  }

  /** A membership of this user changed here: its next request reads the scope again (other servers: within 1 s). */
  forget(userId: string): void {
    const e = this.entries.get(userId);
    if (e) e.at = 0;
  }

  /** What the user may read now, without I/O (for a watch's every event). */
  readable(userId: string): ReadonlySet<string> {
    return this.entries.get(userId)?.scope.read ?? new Set();
  }

  /** Keeps the user's scope fresh while a watch is open; the returned function ends that. */
  watching(userId: string): () => void {
    const e = this.entries.get(userId) ?? { at: 0, scope: { read: new Set(), write: new Set(), owned: new Set() }, watchers: 0 };
    this.entries.set(userId, e);
    e.watchers++;
    e.timer ??= setInterval(() => void this.fresh(userId).catch(() => undefined), SCOPE_TTL_MS).unref();
    let done = false;
    return (): void => {
      if (done) return;
      done = true;
      if (--e.watchers > 0) return;
      clearInterval(e.timer);
      e.timer = undefined;
    };
  }
}

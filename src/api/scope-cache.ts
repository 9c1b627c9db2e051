import type { ProjectScope } from "../core/access.js";

/** How long a user's Project scope is reused, and how often it is re-read for a user's open watches. */
const SCOPE_TTL_MS = 1000;

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

  constructor(private readonly load: (userId: string) => Promise<ProjectScope>) {}

  async of(userId: string): Promise<ProjectScope> {
    const e = this.entries.get(userId);
    if (e && Date.now() - e.at < SCOPE_TTL_MS) return e.scope;
    return this.fresh(userId);
  }

  async fresh(userId: string): Promise<ProjectScope> {
    const scope = await this.load(userId);
    const e = this.entries.get(userId);
    if (e) Object.assign(e, { at: Date.now(), scope });
    else this.entries.set(userId, { at: Date.now(), scope, watchers: 0 });
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

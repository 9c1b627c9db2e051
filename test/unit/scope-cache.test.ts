import { expect } from "chai";
import { ScopeCache, type AccessChangeSource } from "../../src/api/scope-cache.js";
import type { ProjectScope } from "../../src/core/access.js";

class Changes implements AccessChangeSource {
  connected = true;
  private readonly listeners = new Set<() => void>();
  onAccessChange(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  fire(): void {
    for (const l of this.listeners) l();
  }
}

const scopeOf = (...names: string[]): ProjectScope => ({ read: new Set(names), write: new Set(names), owned: new Set() });

describe("ScopeCache: kept while the store's access changes are heard, dropped on each", () => {
  let loads: number;
  let current: ProjectScope;
  let cache: ScopeCache;
  let changes: Changes;
  beforeEach(() => {
    loads = 0;
    current = scopeOf("a");
    cache = new ScopeCache(async () => (loads++, current));
    changes = new Changes();
    cache.followAccessChanges(changes);
  });

  it("reuses a scope while connected and nothing changed; a heard change makes the next request read again", async () => {
    await cache.of("u");
    await cache.of("u");
    expect(loads).to.equal(1);
    current = scopeOf("b");
    changes.fire();
    expect([...(await cache.of("u")).read]).to.deep.equal(["b"]);
    expect(loads).to.equal(2);
  });

  it("a read that began before a change is used once, not cached", async () => {
    let release!: () => void;
    const slow = new ScopeCache(() => new Promise<ProjectScope>((r) => (loads++, (release = () => r(scopeOf("old"))))));
    slow.followAccessChanges(changes);
    const first = slow.of("u");
    await new Promise((r) => setImmediate(r));
    changes.fire();
    release();
    expect([...(await first).read]).to.deep.equal(["old"]);
    void slow.of("u");
    expect(loads, "the stale read was not trusted").to.equal(2);
  });

  it("not hearing the store (LISTEN down) falls back to a 1 s lifetime", async () => {
    changes.connected = false;
    const realNow = Date.now;
    let now = realNow();
    Date.now = (): number => now;
    try {
      await cache.of("u");
      now += 500;
      await cache.of("u");
      expect(loads).to.equal(1);
      now += 600;
      await cache.of("u");
      expect(loads).to.equal(2);
    } finally {
      Date.now = realNow;
    }
  });

  it("after unfollowing, changes are no longer heard and the short lifetime applies", async () => {
    const c = new ScopeCache(async () => (loads++, current));
    const off = c.followAccessChanges(changes);
    await c.of("u");
    off();
    changes.fire();
    await c.of("u");
    expect(loads, "within 1 s, still cached").to.equal(1);
  });
});

/**
 * Lists kept current by the API's watch, as kubectl's informers do: list once, then watch from
 * the list's resourceVersion; a dropped connection is watched again from the last version seen
 * (a banner shows meanwhile), and only a 410 Gone lists again. No list is ever polled.
 */
import { sessionExpired, type Obj } from "./api.js";

type Listener = () => void;

const RETRY_MS = [500, 1000, 2000, 4000];

/** Watches that are cut off from the server right now: the banner shows while any is. */
const offline = new Set<LiveList>();
const connectionListeners = new Set<Listener>();

export function isOffline(): boolean {
  return offline.size > 0;
}

export function onConnection(l: Listener): () => void {
  connectionListeners.add(l);
  return () => connectionListeners.delete(l);
}

function setOffline(list: LiveList, down: boolean): void {
  const was = offline.size > 0;
  if (down) offline.add(list);
  else offline.delete(list);
  if (was !== offline.size > 0) for (const l of connectionListeners) l();
}

const key = (o: Obj): string => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;

export class LiveList {
  readonly items = new Map<string, Obj>();
  loaded = false;
  error: string | undefined;
  private rv = "";
  private readonly listeners = new Set<Listener>();
  private abort: AbortController | undefined;
  private stopped = false;
  private failures = 0;

  constructor(readonly path: string) {}

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    if (this.listeners.size === 1) void this.run();
    return () => {
      this.listeners.delete(l);
      if (!this.listeners.size) this.stop();
    };
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  private stop(): void {
    this.stopped = true;
    this.abort?.abort();
    setOffline(this, false);
    if (lists.get(this.path) === this) lists.delete(this.path);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // One signal per round, for the list as well: a list stopped half-way must not go on to open
      // a watch nobody can abort (a leaked stream holds one of the browser's six connections).
      const round = (this.abort = new AbortController());
      try {
        if (!this.rv) await this.list(round.signal);
        if (this.stopped) return;
        await this.watch(round.signal);
      } catch (e) {
        if (this.stopped) return;
        if ((e as { gone?: boolean }).gone) {
          this.rv = "";
          continue;
        }
        // The session ended (token expired or revoked): no retrying with it; the page logs in again.
        if ((e as { status?: number }).status === 401) {
          this.stop();
          sessionExpired();
          return;
        }
        if ((e as { status?: number }).status === 403 || (e as { status?: number }).status === 404) {
          this.error = (e as Error).message;
          this.loaded = true;
          this.changed();
          return;
        }
        setOffline(this, true);
        await new Promise((r) => setTimeout(r, RETRY_MS[Math.min(this.failures++, RETRY_MS.length - 1)]));
      }
    }
  }

  private async list(signal: AbortSignal): Promise<void> {
    const res = await fetch(this.path, { headers: { Accept: "application/json" }, credentials: "same-origin", signal });
    if (!res.ok) throw Object.assign(new Error(((await res.json().catch(() => ({}))) as { message?: string }).message ?? res.statusText), { status: res.status });
    const body = (await res.json()) as { metadata?: { resourceVersion?: string }; items: Obj[] };
    this.items.clear();
    for (const o of body.items) this.items.set(key(o), o);
    this.rv = body.metadata?.resourceVersion ?? "";
    this.loaded = true;
    this.error = undefined;
    this.changed();
  }

  private async watch(signal: AbortSignal): Promise<void> {
    const sep = this.path.includes("?") ? "&" : "?";
    const res = await fetch(`${this.path}${sep}watch=true&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(this.rv)}`, { headers: { Accept: "application/json" }, credentials: "same-origin", signal });
    if (res.status === 410) throw Object.assign(new Error("gone"), { gone: true });
    if (!res.ok || !res.body) throw Object.assign(new Error(res.statusText), { status: res.status });
    setOffline(this, false);
    this.failures = 0;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) this.event(JSON.parse(line) as { type: string; object: any });
      }
    }
  }

  private event(e: { type: string; object: any }): void {
    if (e.type === "ERROR") {
      if (e.object?.code === 410) throw Object.assign(new Error("gone"), { gone: true });
      throw new Error(e.object?.message ?? "watch error");
    }
    const rv = e.object?.metadata?.resourceVersion;
    if (rv) this.rv = rv;
    if (e.type === "BOOKMARK") return;
    if (e.type === "DELETED") this.items.delete(key(e.object));
    else this.items.set(key(e.object), e.object);
    this.changed();
  }
}

/** One LiveList per path, shared by every screen that shows it. */
const lists = new Map<string, LiveList>();

export function liveList(path: string): LiveList {
  let l = lists.get(path);
  if (!l) lists.set(path, (l = new LiveList(path)));
  return l;
}

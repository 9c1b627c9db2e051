import type { ServerResponse } from "node:http";
import type { ChangeFeed } from "../store/change-feed.js";
import type { ListOptions, ListResult, ResourceStore } from "../store/resources.js";
import type { Change, ResourceObject } from "../core/types.js";
import { ApiError, badRequest } from "../core/errors.js";
import { API_VERSION } from "../core/kinds.js";
import { parseFieldSelector, parseLabelSelector, type FieldPaths, type FieldSelector, type LabelPredicate } from "../core/selectors.js";
import { toTable, wantsTable } from "./table.js";
import { drained, yieldToOthers } from "./backpressure.js";
import type { ResourceRequest } from "./request.js";

/** How often a watch with allowWatchBookmarks=true is told about versions it saw no event for. */
const BOOKMARK_INTERVAL_MS = 1000;

/** The longest a watch stays open when asked for more (or for no limit): clients re-watch. */
const MAX_WATCH_SECONDS = 24 * 3600;

/** `timeoutSeconds`: a whole number ≥ 0 (0 or absent: no limit of the client's), capped at a day. */
function watchTimeoutSeconds(param: string | null): number {
  if (param === null || param === "") return MAX_WATCH_SECONDS;
  if (!/^\d+$/.test(param)) throw badRequest(`invalid timeoutSeconds "${param.slice(0, 100)}": a whole number of seconds`);
  const s = Number(param);
  return s === 0 ? MAX_WATCH_SECONDS : Math.min(s, MAX_WATCH_SECONDS);
}

/** What one watch request asks for, parsed and checked before any reply is written. */
export interface WatchQuery {
  kind: string;
  namespace?: string;
  name?: string;
  fields: FieldSelector;
  labels?: LabelPredicate;
  table: boolean;
  includeObject?: string;
  bookmarks: boolean;
  timeoutSeconds: number;
  /** Undefined: start with the current objects as synthetic ADDED events. */
  fromRv?: number;
  /** The Projects a caller who sees only some may see now (re-read about every second). */
  visible?: () => ReadonlySet<string>;
}

export function parseWatch(req: ResourceRequest, fields?: FieldPaths): WatchQuery {
  const fs = parseFieldSelector(req.query.get("fieldSelector") ?? undefined, fields);
  const rvParam = req.query.get("resourceVersion");
  if (rvParam && !/^\d{1,15}$/.test(rvParam)) throw badRequest(`invalid resourceVersion "${rvParam.slice(0, 100)}": a resource version is a whole number`);
  const fromRv = !rvParam || rvParam === "0" ? undefined : Number(rvParam);
  return {
    kind: req.kind.kind,
    namespace: req.namespace ?? fs.namespace,
    name: fs.name,
    fields: fs,
    labels: parseLabelSelector(req.query.get("labelSelector") ?? undefined),
    table: wantsTable(req.accept),
    includeObject: req.query.get("includeObject") ?? undefined,
    bookmarks: req.query.get("allowWatchBookmarks") === "true",
    timeoutSeconds: watchTimeoutSeconds(req.query.get("timeoutSeconds")),
    fromRv,
    ...(req.ctx.visible ? { visible: req.ctx.visible } : {}),
  };
}

/** A watch without resourceVersion reads its initial objects in pages of this many (one snapshot). */
const INITIAL_PAGE = 500;

/** Initial ADDED events written between two yields to the event loop. */
const YIELD_EVERY = 50;

/** One JSON text per changed object, however many watches send it (100 watchers: one stringify). */
const json = new WeakMap<ResourceObject, string>();

function serialized(o: ResourceObject): string {
  let text = json.get(o);
  if (text === undefined) json.set(o, (text = JSON.stringify(o)));
  return text;
}

/** One open stream: one JSON event per line, until the client leaves, the timeout, or the store goes. */
export class WatchStream {
  private closed = false;
  private readonly cleanups: (() => void)[] = [];
  // `delivered`: every change up to it has been seen (sent or filtered out); a bookmark may
  // claim it. `announced`: the newest version this client has been told about.
  private delivered: number;
  private announced: number;

  constructor(
    private readonly res: ServerResponse,
    private readonly q: WatchQuery,
    readonly fromRv: number,
  ) {
    this.delivered = this.announced = fromRv;
    res.on("close", () => this.cleanup());
    const bookmarks = setInterval(() => this.bookmark(), BOOKMARK_INTERVAL_MS);
    const timeout = setTimeout(() => this.end(), q.timeoutSeconds * 1000);
    this.onEnd(() => clearInterval(bookmarks));
    this.onEnd(() => clearTimeout(timeout));
  }

  /** Runs `fn` when the stream ends, or at once if it already has (the client left meanwhile). */
  onEnd(fn: () => void): void {
    if (this.closed) fn();
    else this.cleanups.push(fn);
  }

  send(type: string, object: unknown): void {
    if (!this.closed) this.res.write(JSON.stringify({ type, object }) + "\n");
  }

  added(o: ResourceObject): void {
    this.send("ADDED", this.render(o));
  }

  get ended(): boolean {
    return this.closed;
  }

  /**
   * The initial objects as ADDED events, yielding to other requests every few objects and
   * waiting while the client's socket buffer is full: a slow or departed client costs one page.
   */
  async addedAll(items: ResourceObject[]): Promise<void> {
    for (const [i, o] of items.entries()) {
      if (this.closed) return;
      const flushed = this.res.write(JSON.stringify({ type: "ADDED", object: this.render(o) }) + "\n");
      if (!flushed) await drained(this.res);
      else if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToOthers();
    }
  }

  deliver(c: Change): void {
    this.delivered = Math.max(this.delivered, c.rv);
    const type = this.eventType(c);
    if (!type) return;
    this.announced = this.delivered;
    // The stored object as it is (no Table, no other kind's view of it): one text for all watchers.
    const raw = !this.q.table && this.render === WatchStream.prototype.render;
    if (!raw) return this.send(type, this.render(c.object));
    if (!this.closed) this.res.write(`{"type":"${type}","object":${serialized(c.object)}}\n`);
  }

  /**
   * What this watch makes of a change, as the Kubernetes watch cache does with a selector: an
   * object entering the selection is ADDED, one leaving it DELETED (carrying its new state and
   * version), one outside it before and after is not sent.
   */
  /** Its kind, namespace and field labels, and a Project the caller still sees (membership removed: nothing more). */
  private concerns(c: Change): boolean {
    const q = this.q;
    if (c.kind !== q.kind || (q.namespace && c.namespace !== q.namespace) || !q.fields.matches(c.object)) return false;
    return !q.visible || q.visible().has(c.namespace ?? c.name);
  }

  private eventType(c: Change): string | undefined {
    const q = this.q;
    // Field labels (name, namespace, a Namespace's phase) filter each change as it is now.
    if (!this.concerns(c)) return undefined;
    const selected = (labels: Record<string, string> | undefined): boolean => !q.labels || q.labels(labels ?? {});
    const now = selected(c.object.metadata.labels);
    if (c.type !== "MODIFIED") return now ? c.type : undefined;
    const before = selected(c.prevLabels ?? c.object.metadata.labels);
    if (now) return before ? "MODIFIED" : "ADDED";
    return before ? "DELETED" : undefined;
  }

  /** Ends the response; the client (kubectl, an informer) re-watches or re-lists. */
  end(): void {
    this.cleanup();
    this.res.end();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fn of this.cleanups.splice(0)) fn();
  }

  protected render(o: ResourceObject): unknown {
    return this.q.table ? toTable(this.q.kind, [o], o.metadata.resourceVersion, this.q.includeObject) : o;
  }

  /** Bookmarks let a client that sees no matching change still resume from a recent version. */
  private bookmark(): void {
    if (!this.q.bookmarks || this.delivered <= this.announced) return;
    this.announced = this.delivered;
    this.send("BOOKMARK", this.bookmarkObject(String(this.delivered)));
  }

  protected bookmarkObject(resourceVersion: string): unknown {
    return { kind: this.q.kind, apiVersion: API_VERSION, metadata: { resourceVersion } };
  }
}

/** The same objects seen as another kind (Projects as core Namespaces): its field labels and its stream. */
export interface WatchView {
  fields: FieldPaths;
  open(res: ServerResponse, q: WatchQuery, fromRv: number): WatchStream;
}

/** Where a watch's objects come from, and (for another kind's view of them) how they are shown. */
export interface WatchSource {
  store: ResourceStore;
  feed: ChangeFeed;
  view?: WatchView;
}

/** What a watch's list asks the store for: its namespace, name and selectors. */
function selectionOf(q: WatchQuery): ListOptions {
  return { namespace: q.namespace, name: q.name, labelSelector: q.labels, fieldSelector: q.fields.terms.length ? (o: ResourceObject): boolean => q.fields.matches(o) : undefined, ...(q.visible ? { projects: q.visible() } : {}) };
}

/** The initial objects, page after page of one snapshot, until the client leaves. */
async function sendInitial(store: ResourceStore, stream: WatchStream, first: ListResult | undefined, q: WatchQuery): Promise<void> {
  for (let page = first; page && !stream.ended; ) {
    await stream.addedAll(page.items);
    page = page.continue && !stream.ended ? await store.list(q.kind, { ...selectionOf(q), limit: INITIAL_PAGE, continue: page.continue }) : undefined;
  }
}

/**
 * A watch stream. With no resourceVersion (or "0") the current objects come first as synthetic
 * ADDED events, then live changes from the list's version. Everything that can fail for want
 * of the store (a LISTEN connection that is down, the initial list) happens before the 200 is
 * written, so such a request gets the same 503 as any other; a stream already open ends when
 * the feed loses Postgres, since it would hear nothing more.
 */
export async function serveWatch(from: WatchSource, req: ResourceRequest, res: ServerResponse): Promise<void> {
  const { store, feed, view } = from;
  const q = parseWatch(req, view?.fields);
  feed.requireConnected();
  // Heard before the first await: a client that leaves during the list gets no stream at all
  // (its "close" would otherwise fire before the stream listens, and nothing would end it).
  let gone = false;
  res.once("close", () => (gone = true));
  const selection = selectionOf(q);
  const first = q.fromRv === undefined ? await store.list(q.kind, { ...selection, limit: INITIAL_PAGE }) : undefined;
  if (gone) return;
  res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache" });
  res.flushHeaders();
  const fromRv = first ? Number(first.resourceVersion) : q.fromRv!;
  const stream = view ? view.open(res, q, fromRv) : new WatchStream(res, q, fromRv);
  stream.onEnd(feed.onDisconnect(() => stream.end()));
  try {
    await sendInitial(store, stream, first, q);
    if (!stream.ended) stream.onEnd(await feed.subscribe(stream.fromRv, (c) => stream.deliver(c)));
  } catch (e) {
    if (e instanceof ApiError) stream.send("ERROR", e.toStatus());
    stream.end();
  }
}

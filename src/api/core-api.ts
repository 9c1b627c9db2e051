import type { ServerResponse } from "node:http";
import type { ChangeFeed } from "../store/change-feed.js";
import type { Stores } from "../store/index.js";
import { EVENT_FIELDS } from "../store/events.js";
import { ApiError, namespaceNotFound } from "../core/errors.js";
import { kindInfo } from "../core/kinds.js";
import type { FieldPaths } from "../core/selectors.js";
import type { RequestContext, ResourceObject } from "../core/types.js";
import { eventTable, namespaceTable, serviceTable, wantsTable } from "./table.js";
import type { Reply, ResourceRequest } from "./request.js";
import { parseWatch, serveWatch, WatchStream, type WatchQuery } from "./watch.js";

/** How often an event watch looks for new and repeated events (they are not in the change feed). */
const EVENT_POLL_MS = 1000;
/**
 * How far back each poll looks before the newest version it has seen: an event's time is its
 * statement's start, so one can commit a little after a later-stamped one.
 */
const EVENT_POLL_OVERLAP_MS = 5000;

/** A request under /api/v1: the resource (namespaces, events, services), and where. */
export interface CoreRequest {
  method: string;
  resource: string;
  namespace?: string;
  name?: string;
  query: URLSearchParams;
  accept?: string;
  ctx: RequestContext;
}

/** The field labels of a Namespace, read from the Project it shows. */
const NAMESPACE_FIELDS: FieldPaths = {
  "metadata.name": (p: ResourceObject) => p.metadata.name,
  "status.phase": (p: ResourceObject) => phaseOf(p),
};

export function isWatch(query: URLSearchParams): boolean {
  const w = query.get("watch");
  return w === "true" || w === "1";
}

/**
 * The parts of the core API kubectl asks for: namespaces (Projects seen as core v1 Namespaces,
 * read-only), events (written by the controllers) and services (always none, for
 * `kubectl cluster-info`).
 */
export class CoreApi {
  constructor(
    private readonly stores: Pick<Stores, "resources" | "events">,
    private readonly feed: ChangeFeed,
  ) {}

  async handle(r: CoreRequest, res: ServerResponse): Promise<Reply | undefined> {
    if (r.method !== "GET") throw new ApiError(405, "MethodNotAllowed", `${r.resource} are read-only here; namespaces are managed as berth.dev Projects`);
    if (r.resource === "namespaces" && !r.namespace) return this.namespaces(r, res);
    if (r.resource === "events") return this.events(r, res);
    if (r.resource === "services") return services(r);
    throw new ApiError(404, "NotFound", "the server could not find the requested resource");
  }

  private async namespaces(r: CoreRequest, res: ServerResponse): Promise<Reply | undefined> {
    const table = wantsTable(r.accept);
    const includeObject = r.query.get("includeObject") ?? undefined;
    if (r.name) {
      const project = await this.stores.resources.get("Project", undefined, r.name);
      if (!project) throw namespaceNotFound(r.name);
      return { status: 200, body: table ? namespaceTable([toNamespace(project)], project.metadata.resourceVersion, includeObject) : toNamespace(project) };
    }
    const rr = projectRequest(r);
    if (isWatch(r.query)) {
      await serveWatch({ store: this.stores.resources, feed: this.feed, view: { fields: NAMESPACE_FIELDS, open: (out, q, rv) => new NamespaceWatchStream(out, q, rv) } }, rr, res);
      return undefined;
    }
    const q = parseWatch(rr, NAMESPACE_FIELDS);
    const listed = await this.stores.resources.list("Project", { name: q.name, labelSelector: q.labels, ...(q.visible ? { projects: q.visible() } : {}) });
    const namespaces = listed.items.filter(q.fields.matches).map(toNamespace);
    if (table) return { status: 200, body: namespaceTable(namespaces, listed.resourceVersion, includeObject) };
    return { status: 200, body: { kind: "NamespaceList", apiVersion: "v1", metadata: { resourceVersion: listed.resourceVersion }, items: namespaces } };
  }

  private async events(r: CoreRequest, res: ServerResponse): Promise<Reply | undefined> {
    // The URL's namespace only: an Event of a cluster-scoped object has none in the store.
    const q = { ...parseWatch(projectRequest(r), EVENT_FIELDS), namespace: r.namespace };
    if (isWatch(r.query)) {
      await this.watchEvents(q, res);
      return undefined;
    }
    const list = await this.stores.events.list(r.namespace, q.fields);
    const items = list.items.filter((e) => (!q.labels || q.labels(e.metadata.labels ?? {})) && (!r.name || e.metadata.name === r.name) && eventVisible(e, q.visible));
    if (r.name) return { status: 200, body: oneEvent(items, r.name) };
    if (q.table) return { status: 200, body: eventTable(items, list.metadata.resourceVersion, q.includeObject) };
    return { status: 200, body: { ...list, items } };
  }

  /**
   * Events are not in the change log, so an event watch polls the events table by version
   * (last_timestamp, docs/kubectl.md) and sends what it has not sent: ADDED for an event new to
   * the client, MODIFIED for a repeat (a higher count).
   */
  private async watchEvents(q: WatchQuery, res: ServerResponse): Promise<void> {
    let gone = false;
    res.once("close", () => (gone = true));
    const initial = q.fromRv === undefined ? await this.stores.events.list(q.namespace, q.fields) : undefined;
    if (gone) return;
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache" });
    res.flushHeaders();
    const stream = new EventWatchStream(res, q, initial ? Number(initial.metadata.resourceVersion) : q.fromRv!);
    const sent = new Map<string, number>();
    for (const e of initial?.items.filter((x) => stream.selects(x)) ?? []) {
      sent.set(e.metadata.uid, e.count);
      stream.added(e as unknown as ResourceObject);
    }
    let cursor = stream.fromRv;
    let busy = false;
    const poll = async (): Promise<void> => {
      const found = await this.stores.events.since(q.namespace, q.fields, cursor - EVENT_POLL_OVERLAP_MS);
      for (const e of found) {
        cursor = Math.max(cursor, Number(e.metadata.resourceVersion));
        if (Number(e.metadata.resourceVersion) <= stream.fromRv || sent.get(e.metadata.uid) === e.count || !stream.selects(e)) continue;
        stream.send(sent.has(e.metadata.uid) || e.count > 1 ? "MODIFIED" : "ADDED", stream.view(e));
        sent.set(e.metadata.uid, e.count);
      }
    };
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      // A store that fails ends the stream: the client re-watches (or gets 503 until it is back).
      poll().then(() => (busy = false), () => stream.end());
    }, EVENT_POLL_MS);
    stream.onEnd(() => clearInterval(timer));
  }
}

/** A Namespace watch: Project changes, shown as Namespaces. */
class NamespaceWatchStream extends WatchStream {
  constructor(
    res: ServerResponse,
    private readonly query: WatchQuery,
    fromRv: number,
  ) {
    super(res, query, fromRv);
  }

  protected override render(o: ResourceObject): unknown {
    const ns = toNamespace(o);
    return this.query.table ? namespaceTable([ns], o.metadata.resourceVersion, this.query.includeObject) : ns;
  }

  protected override bookmarkObject(resourceVersion: string): unknown {
    return { kind: "Namespace", apiVersion: "v1", metadata: { resourceVersion } };
  }
}

/** An Event watch: its events are found by polling, not delivered by the change feed. */
class EventWatchStream extends WatchStream {
  constructor(
    res: ServerResponse,
    private readonly query: WatchQuery,
    fromRv: number,
  ) {
    super(res, query, fromRv);
  }

  /** The label selector (Berth's events carry no labels, so only selectors that match none pass). */
  selects(e: Record<string, any>): boolean {
    return (!this.query.labels || this.query.labels(e.metadata.labels ?? {})) && eventVisible(e, this.query.visible);
  }

  view(e: Record<string, any>): unknown {
    return this.render(e as unknown as ResourceObject);
  }

  protected override render(o: ResourceObject): unknown {
    return this.query.table ? eventTable([o], o.metadata.resourceVersion, this.query.includeObject) : o;
  }

  protected override bookmarkObject(resourceVersion: string): unknown {
    return { kind: "Event", apiVersion: "v1", metadata: { resourceVersion } };
  }
}

/** The query of a core request in the shape watch.ts parses, for the Projects behind namespaces. */
/**
 * An event a caller who sees only some Projects may read: one in such a Project, or about such a
 * Project itself. Events of cluster-wide objects (a Sync) are the admins' only.
 */
function eventVisible(e: Record<string, any>, visible: (() => ReadonlySet<string>) | undefined): boolean {
  if (!visible) return true;
  const ns: string | undefined = e.metadata?.namespace || (e.involvedObject?.kind === "Project" ? e.involvedObject?.name : undefined);
  return !!ns && visible().has(ns);
}

function projectRequest(r: CoreRequest): ResourceRequest {
  return { kind: kindInfo("Project"), query: r.query, accept: r.accept, ctx: r.ctx };
}

function oneEvent(items: Record<string, any>[], name: string): Record<string, any> {
  const e = items[0];
  if (!e) throw new ApiError(404, "NotFound", `events "${name}" not found`, { name, kind: "events" });
  return e;
}

/**
 * Services: Berth runs no cluster services, so every list is empty. Served because
 * `kubectl cluster-info` lists them (and fails without the resource type).
 */
function services(r: CoreRequest): Reply {
  if (isWatch(r.query)) throw new ApiError(405, "MethodNotAllowed", "services cannot be watched here: there are none");
  if (r.name) throw new ApiError(404, "NotFound", `services "${r.name}" not found`, { name: r.name, kind: "services" });
  if (wantsTable(r.accept)) return { status: 200, body: serviceTable() };
  return { status: 200, body: { kind: "ServiceList", apiVersion: "v1", metadata: { resourceVersion: "0" }, items: [] } };
}

function phaseOf(project: ResourceObject): string {
  return project.metadata.deletionTimestamp ? "Terminating" : "Active";
}

export function toNamespace(project: ResourceObject): Record<string, unknown> {
  const { name, uid, creationTimestamp, labels, resourceVersion, deletionTimestamp } = project.metadata;
  return {
    kind: "Namespace",
    apiVersion: "v1",
    metadata: { name, uid, creationTimestamp, labels, resourceVersion, ...(deletionTimestamp ? { deletionTimestamp } : {}) },
    spec: {},
    status: { phase: phaseOf(project) },
  };
}

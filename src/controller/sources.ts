import type { Logger } from "winston";
import type { EventFilter, ObservedContainer, RuntimeDriver, RuntimeEvent } from "../runtime/driver.js";
import { LABEL } from "../runtime/labels.js";
import type { ChangeFeed } from "../store/change-feed.js";
import type { ResourceStore } from "../store/resources.js";
import type { ResourceObject } from "../core/types.js";
import type { ObjectKey } from "./controller.js";

/** What a source hands the manager: a key, and whether the change touched status only. */
export interface SourceEvent {
  key: ObjectKey;
  /** A status-only write does not wake the object's own reconciler (it wrote it), only watchers. */
  statusOnly?: boolean;
}

export type Dispatch = (e: SourceEvent) => void;

/** Keys from the store's change feed: every committed write of a kind wakes its reconciler. */
export class ChangeFeedSource {
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly feed: ChangeFeed,
    private readonly dispatch: Dispatch,
  ) {}

  async start(_signal: AbortSignal): Promise<void> {
    if (this.stopped) return;
    this.unsubscribe = await this.feed.subscribe(this.feed.position, (c) => {
      if (!this.stopped) this.dispatch({ key: { kind: c.kind, namespace: c.namespace ?? undefined, name: c.name }, statusOnly: c.statusOnly });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
  }
}

/**
 * One engine event stream that reconnects by itself (every second while the engine is away)
 * until stopped; `onConnect` runs on every (re)connection.
 */
interface StreamOptions {
  filter: EventFilter;
  onEvent: (e: RuntimeEvent) => void;
  onConnect?: () => void;
}

class EventStream {
  private cancel: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly driver: RuntimeDriver,
    private readonly opts: StreamOptions,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.connect().catch((e) => this.retry(e as Error));
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const cancel = await this.driver.watchEvents(this.opts.filter, this.opts.onEvent, (e) => this.retry(e));
    if (this.stopped) return cancel();
    this.cancel = cancel;
    this.opts.onConnect?.();
  }

  private retry(e?: Error): void {
    this.cancel = undefined;
    if (this.stopped) return;
    if (e) this.logger.warn("runtime event stream unavailable; retrying", { error: e.message });
    this.timer = setTimeout(() => void this.connect().catch((err) => this.retry(err as Error)), 1000);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.cancel?.();
  }
}

/**
 * Keys from the engine's events about Berth's own containers: one that dies, stops, is removed
 * or changes health wakes its owner's reconciler at once, without waiting for a resync.
 */
export class RuntimeEventSource {
  private readonly stream: EventStream;

  constructor(driver: RuntimeDriver, dispatch: Dispatch, logger: Logger) {
    const onEvent = (e: RuntimeEvent): void => {
      // Every `docker exec` (healthchecks, database probes) emits exec_* events; they change
      // nothing a reconciler looks at, and following them would make probes wake themselves.
      if (e.action.startsWith("exec_")) return;
      const kind = e.labels[LABEL.kind];
      if (!kind || !e.labels[LABEL.name]) return;
      dispatch({ key: { kind, namespace: kind === "Project" ? undefined : e.labels[LABEL.project], name: e.labels[LABEL.name] } });
    };
    this.stream = new EventStream(driver, { filter: { ownOnly: true, types: ["container"] }, onEvent }, logger);
  }

  async start(_signal: AbortSignal): Promise<void> {
    await this.stream.start();
  }

  async stop(): Promise<void> {
    this.stream.stop();
  }
}

/** Which engine events can clear which Ready reasons (reconcilers/shared/failures.ts lists them). */
export interface ClearingEvent {
  filter: Omit<EventFilter, "ownOnly">;
  reasons: string[];
}

/**
 * Wakes objects blocked by something outside Berth the moment the engine reports that thing
 * gone: a container of someone else's that held a name or a port is removed, renamed or stops;
 * an image arrives; a volume is removed; the engine itself comes back. The objects are found
 * by the reason of their Ready condition, so nothing is remembered in memory.
 */
export interface BlockedObjectsOptions {
  store: ResourceStore;
  /** Kinds whose objects may be blocked. */
  kinds: readonly string[];
  events: ClearingEvent[];
  /** Reasons an engine that answers again clears. */
  reconnectReasons?: string[];
}

export class BlockedObjectsSource {
  private readonly streams: EventStream[];
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    driver: RuntimeDriver,
    private readonly opts: BlockedObjectsOptions,
    private readonly dispatch: Dispatch,
    private readonly logger: Logger,
  ) {
    const reconnect = opts.reconnectReasons ?? ["DockerUnavailable"];
    this.streams = opts.events.map(
      (ev, i) => new EventStream(driver, { filter: { ...ev.filter, ownOnly: false }, onEvent: () => this.wake(ev.reasons), onConnect: i === 0 ? () => this.wake(reconnect) : undefined }, logger),
    );
  }

  async start(_signal: AbortSignal): Promise<void> {
    for (const s of this.streams) await s.start();
  }

  /** Coalesces a burst of events into one store query. */
  private wake(reasons: string[]): void {
    if (this.stopped) return;
    for (const r of reasons) this.pending.add(r);
    this.timer ??= setTimeout(() => void this.flush(), 50);
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const reasons = [...this.pending];
    this.pending = new Set();
    try {
      for (const key of await this.opts.store.keysWithReadyReason(this.opts.kinds, reasons)) this.dispatch({ key });
    } catch (e) {
      this.logger.warn("could not look up blocked objects", { error: (e as Error).message });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.streams) s.stop();
  }
}

/** Skips an object in a light pass: true when one shared container list shows nothing to do. */
export type SettledCheck = (object: ResourceObject, containers: readonly ObservedContainer[]) => boolean;

export interface ResyncOptions {
  kinds: readonly string[];
  /** Period of a pass, jittered ±10 %. */
  periodMs: number;
  /** At least this long between full passes, which reconcile every object whatever it looks like. */
  fullPeriodMs: number;
  /** One list of every container of this installation, taken once per pass. */
  observe: () => Promise<ObservedContainer[]>;
  /** Per kind: objects a light pass may skip. Kinds without one are reconciled on every pass. */
  settled?: Partial<Record<string, SettledCheck>>;
  /** After the keys are queued, with the same list (the garbage collector's sweep). */
  onPass?: (containers: ObservedContainer[]) => Promise<void>;
}

/**
 * A periodic resync with jitter, so drift that sent no event is still found. A light pass
 * lists the runtime once and queues only the objects that list contradicts (or kinds that have
 * no cheap check), so its Docker cost does not grow with the number of Applications; a full
 * pass (the first one, then every fullPeriodMs) queues every object, like controller-runtime's
 * SyncPeriod. A stopped source never schedules another pass.
 */
export class ResyncSource {
  private timer: NodeJS.Timeout | undefined;
  private lastFull = 0;
  private stopped = false;

  constructor(
    private readonly store: ResourceStore,
    private readonly dispatch: Dispatch,
    private readonly opts: ResyncOptions,
  ) {}

  async start(_signal: AbortSignal): Promise<void> {
    if (this.stopped) return;
    await this.pass();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const jitter = this.opts.periodMs * (0.9 + Math.random() * 0.2);
    this.timer = setTimeout(() => void this.pass().finally(() => this.schedule()), jitter);
    this.timer.unref();
  }

  /** Queues the keys of one pass; returns how many were queued and whether it was full. */
  async pass(): Promise<{ queued: number; full: boolean }> {
    if (this.stopped) return { queued: 0, full: false };
    const wantFull = Date.now() - this.lastFull >= this.opts.fullPeriodMs;
    // Without a container list nothing can be judged settled: the pass becomes a full one.
    const containers = await this.opts.observe().catch(() => undefined);
    const full = wantFull || !containers;
    const byOwner = groupByOwner(containers ?? []);
    let queued = 0;
    for (const kind of this.opts.kinds) queued += await this.queueKind(kind, full ? undefined : this.opts.settled?.[kind], byOwner);
    if (wantFull && containers) this.lastFull = Date.now();
    if (containers) await this.opts.onPass?.(containers).catch(() => undefined);
    return { queued, full };
  }

  private async queueKind(kind: string, settled: SettledCheck | undefined, byOwner: Map<string, ObservedContainer[]>): Promise<number> {
    const { items } = await this.store.list(kind, {}, true).catch(() => ({ items: [] as ResourceObject[] }));
    const due = items.filter((o) => !settled?.(o, byOwner.get(o.metadata.uid ?? "") ?? []));
    for (const o of due) this.dispatch({ key: { kind, namespace: o.metadata.namespace, name: o.metadata.name } });
    return due.length;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

function groupByOwner(containers: readonly ObservedContainer[]): Map<string, ObservedContainer[]> {
  const map = new Map<string, ObservedContainer[]>();
  for (const c of containers) {
    const uid = c.labels[LABEL.ownerUid];
    if (!uid) continue;
    const list = map.get(uid) ?? [];
    list.push(c);
    map.set(uid, list);
  }
  return map;
}

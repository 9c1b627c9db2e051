import type { Logger } from "winston";
import { KINDS } from "../api/kinds.js";
import type { DockerDriver, ObservedContainer } from "../runtime/docker.js";
import { LABEL, MANAGED_BY } from "../runtime/labels.js";
import type { ChangeFeed } from "../store/change-feed.js";
import type { ResourceStore } from "../store/resources.js";
import type { ResourceObject } from "../store/types.js";
import type { ObjectKey } from "./controller.js";

export type Enqueue = (key: ObjectKey) => void;

/** Keys from the store's change feed: every committed write of a kind wakes its reconciler. */
export class ChangeFeedSource {
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly feed: ChangeFeed,
    private readonly enqueue: Enqueue,
  ) {}

  async start(_signal: AbortSignal): Promise<void> {
    this.unsubscribe = await this.feed.subscribe(this.feed.position, (c) => this.enqueue({ kind: c.kind, namespace: c.namespace ?? undefined, name: c.name }));
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
  }
}

/**
 * Keys from Docker's event stream: a container of Berth's that dies, stops, is removed or
 * changes health wakes its owner's reconciler at once, without waiting for a resync.
 */
export class DockerEventSource {
  private stream: NodeJS.ReadableStream | undefined;
  private stopped = false;

  constructor(
    private readonly driver: DockerDriver,
    private readonly enqueue: Enqueue,
    private readonly logger: Logger,
  ) {}

  async start(_signal: AbortSignal): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    // Only this installation's containers: another Berth on the same engine must not wake ours.
    const filters = { type: ["container"], label: [`${LABEL.managedBy}=${MANAGED_BY}`, `${LABEL.instance}=${this.driver.instance}`] };
    const stream = (await this.driver.docker.getEvents({ filters: JSON.stringify(filters) } as never)) as unknown as NodeJS.ReadableStream;
    this.stream = stream;
    let buf = "";
    stream.on("data", (chunk: Buffer) => {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.handle(line);
      }
    });
    stream.on("end", () => this.reconnect());
    stream.on("error", () => this.reconnect());
  }

  private reconnect(): void {
    if (this.stopped) return;
    setTimeout(() => void this.connect().catch((e) => {
      this.logger.warn("docker event stream unavailable; retrying", { error: String(e) });
      this.reconnect();
    }), 1000).unref();
  }

  private handle(line: string): void {
    if (!line.trim()) return;
    try {
      const ev = JSON.parse(line) as { Actor?: { Attributes?: Record<string, string> }; Action?: string };
      // Every `docker exec` (healthchecks, database probes) emits exec_* events; they change
      // nothing a reconciler looks at, and following them would make probes wake themselves.
      if (ev.Action?.startsWith("exec_")) return;
      const a = ev.Actor?.Attributes ?? {};
      const kind = a[LABEL.kind];
      if (!kind || !a[LABEL.name]) return;
      this.enqueue({ kind, namespace: kind === "Project" ? undefined : a[LABEL.project], name: a[LABEL.name] });
    } catch {
      // a partial or foreign line: the periodic resync covers anything missed
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    (this.stream as unknown as { destroy?: () => void })?.destroy?.();
  }
}

/** Skips an object in a light pass: true when one shared container list shows nothing to do. */
export type SettledCheck = (object: ResourceObject, containers: readonly ObservedContainer[]) => boolean;

export interface ResyncOptions {
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
 * SyncPeriod.
 */
export class ResyncSource {
  private timer: NodeJS.Timeout | undefined;
  private lastFull = 0;

  constructor(
    private readonly store: ResourceStore,
    private readonly enqueue: Enqueue,
    private readonly opts: ResyncOptions,
  ) {}

  async start(_signal: AbortSignal): Promise<void> {
    await this.pass();
    this.schedule();
  }

  private schedule(): void {
    const jitter = this.opts.periodMs * (0.9 + Math.random() * 0.2);
    this.timer = setTimeout(() => void this.pass().finally(() => this.schedule()), jitter);
    this.timer.unref();
  }

  /** Queues the keys of one pass; returns how many were queued and whether it was full. */
  async pass(): Promise<{ queued: number; full: boolean }> {
    const full = Date.now() - this.lastFull >= this.opts.fullPeriodMs;
    // Without a container list nothing can be judged settled: the pass becomes a full one.
    const containers = await this.opts.observe().catch(() => undefined);
    const byOwner = groupByOwner(containers ?? []);
    let queued = 0;
    for (const k of KINDS) {
      const { items } = await this.store.list(k.kind).catch(() => ({ items: [] as ResourceObject[] }));
      const settled = full || !containers ? undefined : this.opts.settled?.[k.kind];
      for (const o of items) {
        if (settled?.(o, byOwner.get(o.metadata.uid ?? "") ?? [])) continue;
        this.enqueue({ kind: k.kind, namespace: o.metadata.namespace, name: o.metadata.name });
        queued++;
      }
    }
    if (full && containers) this.lastFull = Date.now();
    if (containers) await this.opts.onPass?.(containers).catch(() => undefined);
    return { queued, full: full || !containers };
  }

  async stop(): Promise<void> {
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

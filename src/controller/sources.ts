import type { Logger } from "winston";
import { KINDS } from "../api/kinds.js";
import type { DockerDriver } from "../runtime/docker.js";
import { LABEL, MANAGED_BY } from "../runtime/labels.js";
import type { ChangeFeed } from "../store/change-feed.js";
import type { ResourceStore } from "../store/resources.js";
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
    const filters = { type: ["container"], label: [`${LABEL.managedBy}=${MANAGED_BY}`] };
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

/** A periodic resync with jitter: every object is reconciled again even if no event arrived. */
export class ResyncSource {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: ResourceStore,
    private readonly enqueue: Enqueue,
    private readonly periodMs: number,
    private readonly onPass?: () => Promise<void>,
  ) {}

  async start(_signal: AbortSignal): Promise<void> {
    await this.pass();
    this.schedule();
  }

  private schedule(): void {
    const jitter = this.periodMs * (0.9 + Math.random() * 0.2);
    this.timer = setTimeout(() => void this.pass().finally(() => this.schedule()), jitter);
    this.timer.unref();
  }

  async pass(): Promise<void> {
    for (const k of KINDS) {
      const { items } = await this.store.list(k.kind).catch(() => ({ items: [] }));
      for (const o of items) this.enqueue({ kind: k.kind, namespace: o.metadata.namespace, name: o.metadata.name });
    }
    await this.onPass?.().catch(() => undefined);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
  }
}

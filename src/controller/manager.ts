import type { Logger } from "winston";
import type { Metrics } from "../telemetry/metrics.js";
import { Controller, type ControllerOptions, type ObjectKey } from "./controller.js";
import type { SettledCheck, SourceEvent } from "./sources.js";

/** Every long-lived part has this shape; a stopped one stays stopped. */
export interface Component {
  start(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

/** Keys of `watcher` objects to reconcile when an object of the watched kind changes. */
export type MapFunc = (key: ObjectKey) => ObjectKey[] | Promise<ObjectKey[]>;

export interface ControllerRegistration extends Omit<ControllerOptions, "logger" | "metrics"> {
  kind: string;
  /** Objects a light resync pass may skip (see ResyncSource). */
  settled?: SettledCheck;
}

/**
 * controller-runtime's manager: controllers register with it (each reconciler folder's
 * `setup`), sources hand it events, and it routes each key to the controller of its kind and
 * through the watches of other kinds. It starts its parts in order and stops them in reverse.
 * It knows no concrete reconciler. One manager runs per leadership term: a stopped one stays
 * stopped, and a new term gets a new manager.
 */
export class Manager implements Component {
  private readonly controllers = new Map<string, Controller>();
  private readonly watches: { kind: string; map: MapFunc }[] = [];
  private readonly components: { component: Component; phase: number }[] = [];
  private readonly settledChecks: Record<string, SettledCheck> = {};
  private running: Component[] = [];
  private abort: AbortController | undefined;
  private stopped = false;

  constructor(private readonly deps: { logger: Logger; metrics: Metrics }) {}

  addController(r: ControllerRegistration): Controller {
    const c = new Controller({ ...r, logger: this.deps.logger, metrics: this.deps.metrics });
    this.controllers.set(r.kind, c);
    if (r.settled) this.settledChecks[r.kind] = r.settled;
    this.components.push({ component: c, phase: 1 });
    return c;
  }

  /** Reconcile the keys `map` gives whenever an object of `kind` changes (status included). */
  watch(kind: string, map: MapFunc): void {
    this.watches.push({ kind, map });
  }

  /** A part started before the controllers (phase 0: e.g. the router), or after them (2: sources, workers). */
  add(component: Component, phase: 0 | 2 = 2): void {
    this.components.push({ component, phase });
  }

  /** The kinds that have a controller, in registration order. */
  kinds(): string[] {
    return [...this.controllers.keys()];
  }

  settled(): Record<string, SettledCheck> {
    return this.settledChecks;
  }

  /** Queues a key with the controller of its kind. */
  enqueue(key: ObjectKey): void {
    this.controllers.get(key.kind)?.enqueue(key);
  }

  /** An event from a source: the object's own controller (unless only status changed), then the watches. */
  dispatch(e: SourceEvent): void {
    if (!e.statusOnly) this.enqueue(e.key);
    for (const w of this.watches) {
      if (w.kind !== e.key.kind) continue;
      void Promise.resolve()
        .then(() => w.map(e.key))
        .then((keys) => keys.forEach((k) => this.enqueue(k)))
        .catch((err) => this.deps.logger.warn("watch mapping failed", { kind: e.key.kind, name: e.key.name, error: (err as Error).message }));
    }
  }

  async start(_signal: AbortSignal): Promise<void> {
    if (this.stopped) return;
    this.abort = new AbortController();
    const ordered = [...this.components].sort((a, b) => a.phase - b.phase);
    for (const { component } of ordered) {
      if (this.stopped) return;
      await component.start(this.abort.signal);
      this.running.push(component);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    for (const c of this.running.reverse()) await c.stop().catch((e) => this.deps.logger.warn("stop failed", { error: (e as Error).message }));
    this.running = [];
  }
}

import { randomUUID } from "node:crypto";
import type { Logger } from "winston";
import type { Metrics } from "../telemetry/metrics.js";
import { WorkQueue } from "./workqueue.js";

/** A work item: kind/namespace/name (namespace empty for Projects). Keys only, never objects. */
export interface ObjectKey {
  kind: string;
  namespace: string | undefined;
  name: string;
}

export function keyOf(k: ObjectKey): string {
  return `${k.kind}/${k.namespace ?? ""}/${k.name}`;
}

export function parseKey(key: string): ObjectKey {
  const [kind, namespace, ...rest] = key.split("/");
  return { kind, namespace: namespace || undefined, name: rest.join("/") };
}

export interface ReconcileResult {
  requeueAfter?: number;
}

/** An error that retrying cannot fix (e.g. a spec the runtime can never satisfy). */
export class TerminalError extends Error {}

export interface ReconcileContext {
  logger: Logger;
  reconcileId: string;
  /**
   * Aborted when this controller stops (the process stopped leading): a deposed leader's
   * reconcile runs no further plan step and writes no status (ADR 0026).
   */
  signal?: AbortSignal;
}

export interface Reconciler {
  reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult>;
}

export interface ControllerOptions {
  name: string;
  reconciler: Reconciler;
  logger: Logger;
  metrics: Metrics;
  concurrency?: number;
  queue?: ConstructorParameters<typeof WorkQueue>[1];
}

/**
 * Runs a reconciler over a work queue with N workers (controller-runtime's controller).
 * reconcile() returns a requeue delay or throws; a TerminalError is not retried, other errors
 * back off per key, success resets the backoff. A stopped controller stays stopped.
 */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private workers: Promise<void>[] = [];
  private readonly concurrency: number;
  private signal: AbortSignal | undefined;

  constructor(private readonly opts: ControllerOptions) {
    this.name = opts.name;
    this.concurrency = opts.concurrency ?? 4;
    this.queue = new WorkQueue(opts.name, { metrics: opts.metrics, ...(opts.queue ?? {}) });
  }

  enqueue(key: ObjectKey): void {
    this.queue.add(keyOf(key));
  }

  async start(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    signal.addEventListener("abort", () => this.queue.shutDown());
    this.opts.metrics.maxConcurrentReconciles.set({ controller: this.name }, this.concurrency);
    this.workers = Array.from({ length: this.concurrency }, () => this.work());
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.opts.metrics.activeWorkers.inc({ controller: this.name });
      try {
        await this.process(key);
      } finally {
        this.opts.metrics.activeWorkers.dec({ controller: this.name });
        this.queue.done(key);
      }
    }
  }

  private async process(key: string): Promise<void> {
    const objectKey = parseKey(key);
    const reconcileId = randomUUID();
    const logger = this.opts.logger.child({ controller: this.name, kind: objectKey.kind, namespace: objectKey.namespace, name: objectKey.name, reconcileID: reconcileId });
    const end = this.opts.metrics.reconcileTime.startTimer({ controller: this.name });
    try {
      const result = await this.opts.reconciler.reconcile(objectKey, { logger, reconcileId, signal: this.signal });
      this.queue.forget(key);
      this.succeeded(key, result);
    } catch (e) {
      this.failed(key, e, logger);
    } finally {
      end();
    }
  }

  private succeeded(key: string, result: ReconcileResult): void {
    const m = this.opts.metrics;
    if (result.requeueAfter !== undefined) {
      m.reconcileTotal.inc({ controller: this.name, result: "requeue_after" });
      this.queue.addAfter(key, result.requeueAfter);
    } else m.reconcileTotal.inc({ controller: this.name, result: "success" });
  }

  private failed(key: string, e: unknown, logger: Logger): void {
    const m = this.opts.metrics;
    m.reconcileErrors.inc({ controller: this.name });
    m.reconcileTotal.inc({ controller: this.name, result: "error" });
    if (e instanceof TerminalError) {
      m.terminalReconcileErrors.inc({ controller: this.name });
      logger.error("reconcile failed terminally; not retrying", { error: e.message });
      this.queue.forget(key);
      return;
    }
    const delay = this.queue.addRateLimited(key);
    logger.warn("reconcile failed; backing off", { error: (e as Error).message, retries: this.queue.retries(key), retryInMs: delay });
  }
}

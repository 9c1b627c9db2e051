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
}

export interface Reconciler {
  reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult>;
}

/**
 * Runs a reconciler over a work queue with N workers. reconcile() returns a requeue delay or
 * throws; a TerminalError is not retried, other errors back off per key, success resets it.
 */
export class Controller {
  readonly queue: WorkQueue;
  private workers: Promise<void>[] = [];

  constructor(
    readonly name: string,
    private readonly reconciler: Reconciler,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly concurrency = 4,
  ) {
    this.queue = new WorkQueue(name, { metrics });
  }

  enqueue(key: ObjectKey): void {
    this.queue.add(keyOf(key));
  }

  async start(signal: AbortSignal): Promise<void> {
    signal.addEventListener("abort", () => this.queue.shutDown());
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
      try {
        await this.process(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async process(key: string): Promise<void> {
    const objectKey = parseKey(key);
    const reconcileId = randomUUID();
    const logger = this.logger.child({ controller: this.name, kind: objectKey.kind, namespace: objectKey.namespace, name: objectKey.name, reconcileID: reconcileId });
    const end = this.metrics.reconcileTime.startTimer({ controller: this.name });
    try {
      const result = await this.reconciler.reconcile(objectKey, { logger, reconcileId });
      this.queue.forget(key);
      if (result.requeueAfter !== undefined) {
        this.metrics.reconcileTotal.inc({ controller: this.name, result: "requeue_after" });
        this.queue.addAfter(key, result.requeueAfter);
      } else {
        this.metrics.reconcileTotal.inc({ controller: this.name, result: "success" });
      }
    } catch (e) {
      this.metrics.reconcileErrors.inc({ controller: this.name });
      this.metrics.reconcileTotal.inc({ controller: this.name, result: "error" });
      if (e instanceof TerminalError) {
        logger.error("reconcile failed terminally; not retrying", { error: e.message });
        this.queue.forget(key);
      } else {
        logger.warn("reconcile failed; backing off", { error: (e as Error).message, retries: this.queue.retries(key) });
        this.queue.addRateLimited(key);
      }
    } finally {
      end();
    }
  }
}

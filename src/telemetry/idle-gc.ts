import { performance, type EventLoopUtilization } from "node:perf_hooks";
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * After a burst of work (1,000 objects applied, the full resync after a start) V8 keeps the heap
 * pages it grew into for a long time: 40 MB above what is in use was seen 30 s after such a
 * burst, and a full collection gave 31–41 MB of RSS back. So when the process has been quiet for
 * a whole window and the heap holds that much slack, one full collection runs — never while the
 * event loop is busy, where its pause (tens of ms) would land on a request.
 */
export interface IdleGcSettings {
  /** How often quietness and slack are checked. */
  windowMs: number;
  /** Event-loop utilization over the window below which the process counts as quiet. */
  quietBelow: number;
  /** Heap bytes allocated by V8 but not in use that make a collection worth its pause. */
  minSlackBytes: number;
  /** At most one collection in this long. */
  minIntervalMs: number;
}

export const DEFAULT_IDLE_GC: IdleGcSettings = { windowMs: 5_000, quietBelow: 0.02, minSlackBytes: 16 * 1024 * 1024, minIntervalMs: 60_000 };

export interface IdleGcProbes {
  gc: () => void;
  /** Event-loop utilization since the previous call (0…1). */
  utilization: () => number;
  heap: () => { total: number; used: number };
  now: () => number;
}

/** V8's full collection, reachable without `node --expose-gc`; undefined where V8 refuses. */
export function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    return typeof gc === "function" ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

function realProbes(gc: () => void): IdleGcProbes {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return {
    gc,
    utilization: (): number => {
      const now = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(now, last);
      last = now;
      return delta.utilization;
    },
    heap: (): { total: number; used: number } => {
      const h = getHeapStatistics();
      return { total: h.total_heap_size, used: h.used_heap_size };
    },
    now: (): number => performance.now(),
  };
}

export class IdleGc {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastRun = Number.NEGATIVE_INFINITY;
  /** Collections run, and the heap bytes the last one gave back. */
  runs = 0;
  lastFreedBytes = 0;

  private readonly probes: IdleGcProbes | undefined;

  /** Without `probes`, this process's own (none where V8's collector cannot be reached). */
  constructor(
    probes?: IdleGcProbes,
    private readonly settings: IdleGcSettings = DEFAULT_IDLE_GC,
  ) {
    const gc = probes ? undefined : exposeGc();
    this.probes = probes ?? (gc ? realProbes(gc) : undefined);
  }

  /** Whether collections can run here at all. */
  get available(): boolean {
    return this.probes !== undefined;
  }

  start(_signal?: AbortSignal): void {
    if (this.stopped || !this.probes || this.timer) return;
    this.probes.utilization();
    this.timer = setInterval(() => this.tick(), this.settings.windowMs);
    this.timer.unref();
  }

  /** One check: collect when the last window was quiet and the slack is worth it. */
  tick(): boolean {
    const p = this.probes;
    if (this.stopped || !p) return false;
    const quiet = p.utilization() < this.settings.quietBelow;
    const before = p.heap();
    if (!quiet || before.total - before.used < this.settings.minSlackBytes) return false;
    if (p.now() - this.lastRun < this.settings.minIntervalMs) return false;
    p.gc();
    this.lastRun = p.now();
    this.runs++;
    this.lastFreedBytes = Math.max(0, before.total - p.heap().total);
    return true;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

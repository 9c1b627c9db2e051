/**
 * Image builds run outside reconciles (ADR 0018): a reconcile asks for the build of a commit and
 * reads where it stands; the queue runs at most `limit` builds at once across the installation
 * and calls `onDone` with the key when one ends, so the Application is reconciled again at once.
 * Per key (an Application's uid) at most one build runs and one waits; a newer commit replaces
 * the waiting one. The last result per key is kept so a failure is reported until another
 * commit (or a retry token, `berth reconcile`) asks again.
 */

export type BuildState =
  | { state: "queued"; commit: string; position: number; of: number }
  | { state: "building"; commit: string; startedAt: number }
  | { state: "succeeded"; commit: string; image: string }
  | { state: "failed"; commit: string; message: string; tail: string[] };

export interface BuildJob {
  /** The Application's uid. */
  key: string;
  commit: string;
  /** Changes when the user asks for a retry of the same commit (berth reconcile). */
  retry?: string;
  run: (signal: AbortSignal) => Promise<{ image: string }>;
}

/** A failed build's words and output tail, as the job throws them. */
export class BuildFailure extends Error {
  constructor(
    message: string,
    readonly tail: string[],
  ) {
    super(message);
  }
}

interface Entry {
  job: BuildJob;
  state: BuildState;
}

const identity = (j: Pick<BuildJob, "commit" | "retry">): string => `${j.commit}\u0000${j.retry ?? ""}`;

export class BuildQueue {
  private readonly waiting: Entry[] = [];
  private readonly running = new Map<string, { entry: Entry; abort: AbortController }>();
  private readonly finished = new Map<string, Entry>();
  private stopped = false;
  private started = false;

  constructor(
    private readonly limit: number,
    private readonly onDone: (key: string) => void,
  ) {}

  async start(signal: AbortSignal): Promise<void> {
    if (this.stopped) return;
    this.started = true;
    signal.addEventListener("abort", () => void this.stop(), { once: true });
    this.pump();
  }

  /** Aborts running builds and forgets waiting ones; a stopped queue builds nothing again. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting.length = 0;
    for (const r of this.running.values()) r.abort.abort();
  }

  /** Where the build of `job.commit` stands, asked for if it is neither waiting, running nor done. */
  request(job: BuildJob): BuildState {
    const known = this.lookup(job);
    if (known) return known;
    const i = this.waiting.findIndex((e) => e.job.key === job.key);
    const entry: Entry = { job, state: { state: "queued", commit: job.commit, position: 0, of: 0 } };
    // A newer commit replaces the older one waiting for the same Application: it is never built.
    if (i >= 0) this.waiting[i] = entry;
    else this.waiting.push(entry);
    this.finished.delete(job.key);
    this.pump();
    return this.lookup(job) ?? entry.state;
  }

  /** The state of `job`'s commit if the queue knows it, else undefined. */
  lookup(job: Pick<BuildJob, "key" | "commit" | "retry">): BuildState | undefined {
    const run = this.running.get(job.key);
    if (run && identity(run.entry.job) === identity(job)) return run.entry.state;
    const i = this.waiting.findIndex((e) => e.job.key === job.key && identity(e.job) === identity(job));
    if (i >= 0) return { state: "queued", commit: job.commit, position: this.positionOf(i), of: this.waiting.length + this.running.size };
    const done = this.finished.get(job.key);
    return done && identity(done.job) === identity(job) ? done.state : undefined;
  }

  /** An Application deleted: its waiting build goes, its running one is aborted. */
  forget(key: string): void {
    const i = this.waiting.findIndex((e) => e.job.key === key);
    if (i >= 0) this.waiting.splice(i, 1);
    this.running.get(key)?.abort.abort();
    this.finished.delete(key);
  }

  /** Builds running and waiting, for /metrics and progress. */
  depth(): { running: number; waiting: number } {
    return { running: this.running.size, waiting: this.waiting.length };
  }

  /** 1-based place among the builds ahead, counting the running ones. */
  private positionOf(waitingIndex: number): number {
    return this.running.size + waitingIndex + 1;
  }

  private pump(): void {
    if (!this.started || this.stopped) return;
    while (this.running.size < this.limit) {
      // A key already building waits: one build per Application at a time.
      const i = this.waiting.findIndex((e) => !this.running.has(e.job.key));
      if (i < 0) return;
      const [entry] = this.waiting.splice(i, 1);
      this.launch(entry!);
    }
  }

  private launch(entry: Entry): void {
    const abort = new AbortController();
    entry.state = { state: "building", commit: entry.job.commit, startedAt: Date.now() };
    this.running.set(entry.job.key, { entry, abort });
    void entry.job
      .run(abort.signal)
      .then(
        (r): BuildState => ({ state: "succeeded", commit: entry.job.commit, image: r.image }),
        (e: unknown): BuildState => ({ state: "failed", commit: entry.job.commit, message: (e as Error).message, tail: e instanceof BuildFailure ? e.tail : [] }),
      )
      .then((state) => this.settle(entry, state, abort.signal.aborted));
  }

  private settle(entry: Entry, state: BuildState, aborted: boolean): void {
    this.running.delete(entry.job.key);
    entry.state = state;
    if (!aborted) this.finished.set(entry.job.key, entry);
    this.pump();
    if (!aborted && !this.stopped) this.onDone(entry.job.key);
  }
}

/** BERTH_BUILD_CONCURRENCY: builds at once across the installation (default 2, at least 1). */
export function buildConcurrency(value: string | undefined): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 ? n : 2;
}

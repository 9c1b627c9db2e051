/**
 * A pass run again `everyMs` after the previous one ended (never two at once), for the workers
 * that poll their rows: Database and volume backups, scheduled jobs. A failed pass is reported
 * and the loop goes on; a stopped loop stays stopped, and stop() waits for a pass under way.
 */
export class PollLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly opts: { everyMs: number; onError: (e: Error) => void },
  ) {}

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Starts the first pass after `firstMs` (default: one interval). */
  start(firstMs = this.opts.everyMs): void {
    if (this.stopped || this.timer || this.running) return;
    this.after(firstMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private after(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.pass()
        .catch((e: unknown) => this.opts.onError(e instanceof Error ? e : new Error(String(e))))
        .finally(() => {
          this.running = undefined;
          this.after(this.opts.everyMs);
        });
    }, ms);
    this.timer.unref();
  }
}

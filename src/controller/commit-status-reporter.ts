import type { Logger } from "winston";
import { sendStatus, statusRequest, type CommitState, type CommitStatusTarget } from "../runtime/commit-status.js";

/** How the last report for an Application stands: the condition CommitStatusReported says this. */
export type ReportState = { state: "reported"; sha: string; commitState: CommitState } | { state: "retrying"; sha: string; commitState: CommitState; attempt: number; error: string } | { state: "gave-up"; sha: string; commitState: CommitState; error: string };

interface Pending {
  key: string;
  target: CommitStatusTarget;
  sha: string;
  commitState: CommitState;
  description: string;
  attempt: number;
  timer?: NodeJS.Timeout;
}

export const REPORT_ATTEMPTS = 6;

/**
 * Sends commit statuses without ever holding up a reconcile (issue 16): `report` returns at
 * once, a failed send is retried with exponential backoff (1 s, 2 s, 4 s … up to
 * REPORT_ATTEMPTS), and `onChange(key)` lets the Application's status show how it stands. The
 * same (sha, state) is sent once; a newer one replaces a retry still waiting.
 */
export class CommitStatusReporter {
  private readonly pending = new Map<string, Pending>();
  private readonly states = new Map<string, ReportState>();
  private readonly sent = new Map<string, string>();
  private stopped = false;

  constructor(
    private readonly d: { logger: Logger; onChange: (key: string) => void; baseDelayMs?: number; send?: typeof sendStatus },
  ) {}

  async start(signal: AbortSignal): Promise<void> {
    signal.addEventListener("abort", () => void this.stop(), { once: true });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  state(key: string): ReportState | undefined {
    return this.states.get(key);
  }

  report(key: string, target: CommitStatusTarget, status: { sha: string; state: CommitState; description: string }): void {
    const { sha, state: commitState, description } = status;
    if (this.stopped) return;
    const id = `${sha}:${commitState}`;
    if (this.sent.get(key) === id) return;
    this.sent.set(key, id);
    const old = this.pending.get(key);
    if (old) clearTimeout(old.timer);
    const p: Pending = { key, target, sha, commitState, description, attempt: 0 };
    this.pending.set(key, p);
    void this.attempt(p);
  }

  forget(key: string): void {
    clearTimeout(this.pending.get(key)?.timer);
    this.pending.delete(key);
    this.states.delete(key);
    this.sent.delete(key);
  }

  private async attempt(p: Pending): Promise<void> {
    p.attempt++;
    try {
      await (this.d.send ?? sendStatus)(statusRequest(p.target, p.sha, p.commitState, p.description));
      if (this.pending.get(p.key) !== p) return;
      this.pending.delete(p.key);
      this.settle(p.key, { state: "reported", sha: p.sha, commitState: p.commitState });
    } catch (e) {
      if (this.pending.get(p.key) !== p || this.stopped) return;
      this.retryLater(p, (e as Error).message);
    }
  }

  private retryLater(p: Pending, error: string): void {
    this.d.logger.warn("commit status not accepted", { key: p.key, sha: p.sha.slice(0, 12), state: p.commitState, attempt: p.attempt, error });
    if (p.attempt >= REPORT_ATTEMPTS) {
      this.pending.delete(p.key);
      this.settle(p.key, { state: "gave-up", sha: p.sha, commitState: p.commitState, error });
      return;
    }
    this.settle(p.key, { state: "retrying", sha: p.sha, commitState: p.commitState, attempt: p.attempt, error });
    p.timer = setTimeout(() => void this.attempt(p), (this.d.baseDelayMs ?? 1000) * 2 ** (p.attempt - 1));
    p.timer.unref();
  }

  private settle(key: string, s: ReportState): void {
    this.states.set(key, s);
    this.d.onChange(key);
  }
}

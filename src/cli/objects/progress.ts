import { BerthClient } from "../shared/client.js";
import { CommandError } from "../shared/errors.js";
import { processWaitIo, type Io, type WaitIo } from "../shared/io.js";
import type { ObjectRef } from "./resources.js";

/** An object `--wait` (or `rollout status`) follows. */
export type Tracked = ObjectRef;

export type Outcome = "waiting" | "done" | "failed" | "gone";

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** Reasons after which waiting longer will not help: the user has to change something. */
const TERMINAL = new Set(["ImageNotFound", "RegistryAuthFailed", "SourceNotSupported", "BuildFailed", "ProgressDeadlineExceeded", "RolloutFailed", "InvalidSpec", "BackupFailed"]);

export interface Verdict {
  outcome: Outcome;
  text: string;
}

/** What an object's status says about the wait: done, failed (with why), or what it waits on. */
export function judge(obj: Record<string, any> | undefined, deleting: boolean): Verdict {
  if (!obj) return deleting ? { outcome: "gone", text: "deleted" } : { outcome: "waiting", text: "not found yet" };
  if (deleting) return { outcome: "waiting", text: `deleting: waiting for finalizers ${(obj.metadata.finalizers ?? []).join(", ") || "(none)"}` };
  return judgeLive(obj);
}

function judgeLive(obj: Record<string, any>): Verdict {
  const st = obj.status ?? {};
  const conds: Condition[] = st.conditions ?? [];
  const ready = conds.find((c) => c.type === "Ready");
  const progressing = conds.find((c) => c.type === "Progressing");
  // Until the controller has seen this generation, the conditions describe the previous spec.
  const observed = (st.observedGeneration ?? 0) >= (obj.metadata.generation ?? 1);
  if (!observed) return { outcome: "waiting", text: "waiting for the controller to observe generation " + obj.metadata.generation };
  const failure = terminalFailure(conds, ready, progressing);
  if (failure) return { outcome: "failed", text: `failed: ${failure.reason}: ${failure.message ?? ""}` };
  return progressOf(obj, ready, progressing);
}

/** kstatus: Stalled=True is a failure no wait will fix; some Ready and Progressing reasons are, too. */
function terminalFailure(conds: Condition[], ready: Condition | undefined, progressing: Condition | undefined): Condition | undefined {
  const stalled = conds.find((c) => c.type === "Stalled" && c.status === "True");
  return stalled ?? [ready, progressing].find((c) => c && c.status === "False" && c.reason && TERMINAL.has(c.reason));
}

/** Not failed: ready, or the most specific thing it is still waiting on. */
function progressOf(obj: Record<string, any>, ready: Condition | undefined, progressing: Condition | undefined): Verdict {
  const st = obj.status ?? {};
  const desired = obj.spec?.replicas ?? st.replicas;
  if (ready?.status === "True") return { outcome: "done", text: `ready${desired !== undefined ? ` (${st.readyReplicas ?? 0}/${desired} replicas)` : ""}` };
  if (ready?.reason === "DependencyNotReady") return { outcome: "waiting", text: ready.message ?? "waiting on a dependency" };
  // Kinds with replicas show the count, which moves during a rollout; the others a message.
  if (st.replicas !== undefined) return { outcome: "waiting", text: replicaProgress(st, desired, progressing) };
  return { outcome: "waiting", text: waitingMessage(st, ready, progressing) };
}

function replicaProgress(st: Record<string, any>, desired: unknown, progressing: Condition | undefined): string {
  return `${st.updatedReplicas ?? 0} of ${desired} replicas updated, ${st.readyReplicas ?? 0} healthy${progressing?.message ? ` — ${progressing.message}` : ""}`;
}

function waitingMessage(st: Record<string, any>, ready: Condition | undefined, progressing: Condition | undefined): string {
  return ready?.message || progressing?.message || st.phase || "waiting for the controller";
}

function label(t: Tracked): string {
  return `${t.kind.singular}/${t.name}`;
}

function mark(v: Verdict): string {
  if (v.outcome === "done" || v.outcome === "gone") return "✔";
  return v.outcome === "failed" ? "✖" : "…";
}

/** The verdicts so far and how they are shown: redrawn in place on a terminal, else a line per change. */
class Board {
  readonly last = new Map<Tracked, Verdict>();
  private drawn = 0;
  private readonly width: number;
  private settle: () => void = () => {};
  /** Resolves once no tracked object is still waiting. */
  readonly settled = new Promise<void>((r) => (this.settle = r));

  constructor(
    private readonly tracked: Tracked[],
    private readonly io: WaitIo,
    private readonly deleting: boolean,
  ) {
    this.width = Math.max(...tracked.map((t) => label(t).length));
  }

  /** An object as last seen (undefined: absent); a finished object stays finished. */
  update(t: Tracked, obj: Record<string, any> | undefined): void {
    const prev = this.last.get(t);
    if (prev && prev.outcome !== "waiting") return;
    const v = judge(obj, this.deleting);
    this.last.set(t, v);
    if (!this.io.isTTY && (!prev || prev.text !== v.text)) this.io.write(`${label(t).padEnd(this.width)}  ${v.text}\n`);
  }

  /** After a batch of updates: redraw, and settle when nothing waits any more. */
  refresh(): void {
    if (this.tracked.some((t) => !this.last.has(t))) return;
    this.draw();
    if (!this.pending().length) this.settle();
  }

  private draw(): void {
    if (!this.io.isTTY) return;
    const lines = this.tracked.map((t) => {
      const v = this.last.get(t)!;
      return `${mark(v)} ${label(t).padEnd(this.width)}  ${v.text}`;
    });
    // Move the cursor up over the previous drawing and clear each line as it is rewritten.
    this.io.write((this.drawn ? `\x1b[${this.drawn}A` : "") + lines.map((l) => `\x1b[2K${l}\n`).join(""));
    this.drawn = lines.length;
  }

  pending(): Tracked[] {
    return this.tracked.filter((t) => (this.last.get(t)?.outcome ?? "waiting") === "waiting");
  }

  timeOut(pending: Tracked[]): void {
    for (const t of pending) this.last.set(t, { outcome: "failed", text: `timed out: ${this.last.get(t)?.text ?? "not read yet"}` });
  }
}

export interface WaitOptions {
  deleting: boolean;
  timeoutMs: number;
  io: WaitIo;
}

/** Tracked objects of one kind in one Project (or cluster-wide): one list and one watch. */
interface Group {
  path: string;
  kind: Tracked["kind"];
  namespace?: string;
  byName: Map<string, Tracked>;
}

function groupsOf(tracked: Tracked[]): Group[] {
  const groups = new Map<string, Group>();
  for (const t of tracked) {
    const key = `${t.kind.plural}/${t.kind.namespaced ? (t.namespace ?? "") : ""}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { path: BerthClient.itemPath(t.kind, t.kind.namespaced ? t.namespace : undefined), kind: t.kind, namespace: t.kind.namespaced ? t.namespace : undefined, byName: new Map() }));
    g.byName.set(t.name, t);
  }
  return [...groups.values()];
}

/** One watched object's name; one object alone is narrowed on the server as well. */
function nameSelector(g: Group): string | undefined {
  return g.byName.size === 1 ? `metadata.name=${[...g.byName.keys()][0]}` : undefined;
}

/** Newline-delimited watch events, split however the chunks arrive. */
function eventLines(onEvent: (e: { type: string; object: Record<string, any> }) => void): (chunk: string) => void {
  let buffered = "";
  return (chunk) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) onEvent(JSON.parse(line) as { type: string; object: Record<string, any> });
    }
  };
}

/**
 * List, then watch from the list's resourceVersion, as an informer does: the board changes
 * the moment the server reports a change, with no polling. A watch that ends (server
 * timeout, 410 Expired, a dropped connection) starts over with a fresh list.
 */
async function follow(client: BerthClient, g: Group, board: Board, signal: AbortSignal): Promise<void> {
  const fieldSelector = nameSelector(g);
  while (!signal.aborted) {
    try {
      const list = await client.listWithVersion(g.kind, g.namespace, fieldSelector);
      const seen = new Map(list.items.map((o) => [o.metadata.name as string, o]));
      for (const [name, t] of g.byName) board.update(t, seen.get(name));
      board.refresh();
      const q = new URLSearchParams({ watch: "1", resourceVersion: list.resourceVersion, ...(fieldSelector ? { fieldSelector } : {}) });
      await client.stream(`${g.path}?${q}`, eventLines((e) => onWatchEvent(g, board, e)), { accept: "application/json", signal });
    } catch {
      // the server is restarting or unreachable: try again shortly, until the deadline
    }
    if (!signal.aborted) await new Promise((r) => setTimeout(r, 250));
  }
}

function onWatchEvent(g: Group, board: Board, e: { type: string; object: Record<string, any> }): void {
  if (e.type === "ERROR") throw new Error(String(e.object?.message ?? "watch error"));
  const t = g.byName.get(e.object?.metadata?.name);
  if (!t || e.type === "BOOKMARK") return;
  board.update(t, e.type === "DELETED" ? undefined : e.object);
  board.refresh();
}

/**
 * Follows objects until each is done, failed or gone. On a terminal it redraws one line per
 * object in place; otherwise it prints a plain line whenever an object's state changes.
 * Returns the final verdicts the moment the last object finishes; the caller prints the
 * summary and picks the exit code.
 */
export async function waitFor(client: BerthClient, tracked: Tracked[], opts: WaitOptions): Promise<Map<Tracked, Verdict>> {
  const board = new Board(tracked, opts.io, opts.deleting);
  const stop = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), opts.timeoutMs)));
  const following = groupsOf(tracked).map((g) => follow(client, g, board, stop.signal));
  try {
    if (await Promise.race([board.settled.then(() => false), timedOut])) board.timeOut(board.pending());
  } finally {
    clearTimeout(timer);
    stop.abort();
    await Promise.all(following);
  }
  return board.last;
}

/** The closing summary: counts, then one actionable line per failure. */
export function summary(verdicts: Map<Tracked, Verdict>): { text: string; failed: number } {
  const all = [...verdicts.entries()];
  const failed = all.filter(([, v]) => v.outcome === "failed");
  const ok = all.length - failed.length;
  const lines = [`${ok} of ${all.length} object(s) ready${failed.length ? `, ${failed.length} failed` : ""}`];
  for (const [t, v] of failed) lines.push(`  ${t.kind.singular}/${t.name}${t.namespace ? ` -n ${t.namespace}` : ""}: ${v.text}`);
  if (failed.length) lines.push(`  see: berth describe <kind> <name> -n <project>`);
  return { text: lines.join("\n"), failed: failed.length };
}

/** `--wait`: live progress, then a summary a person can act on; exit 1 if anything failed. */
export async function waitAndSummarize(client: BerthClient, tracked: Tracked[], opts: { deleting: boolean; timeoutMs: number; io: Pick<Io, "err">; waitIo?: WaitIo }): Promise<void> {
  const verdicts = await waitFor(client, tracked, { deleting: opts.deleting, timeoutMs: opts.timeoutMs, io: opts.waitIo ?? processWaitIo() });
  const s = summary(verdicts);
  opts.io.err(s.text);
  if (s.failed) throw new CommandError(`${s.failed} object(s) ${opts.deleting ? "were not deleted" : "did not become ready"}`);
}

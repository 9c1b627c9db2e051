/**
 * `berth sync status|reconcile|suspend|resume NAME` (issue 15): a Sync's state in a few lines,
 * a reconcile on request (optionally waited for), and spec.suspend flipped. Exit codes as
 * kubectl's: status and reconcile exit 0 only when the Sync is Ready=True, 1 otherwise.
 */
import { findKind, RECONCILE_REQUESTED, type KindInfo } from "../../core/kinds.js";
import { annotateNow } from "../rollout/annotate.js";
import { notFound } from "../objects/resources.js";
import { BerthClient } from "../shared/client.js";
import { age } from "../shared/common.js";
import { ApiCallError, CommandError, EXIT_FAILED, EXIT_USAGE, serverError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";

type Obj = Record<string, any>;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

interface InventoryEntry {
  kind: string;
  namespace?: string;
  name: string;
}

const SYNC: KindInfo = findKind("Sync")!;


const conditionOf = (obj: Obj, type: string): Condition | undefined => ((obj.status?.conditions ?? []) as Condition[]).find((c) => c.type === type);
export const isReady = (obj: Obj): boolean => conditionOf(obj, "Ready")?.status === "True";

/** A condition's message, one indented line per line (ManifestInvalid lists file:line errors). */
function messageLines(message: string | undefined): string[] {
  return (message ?? "").split("\n").filter((l) => l.trim()).map((l) => `    ${l}`);
}

/** `False  ManifestInvalid  (since 3m ago)`: status, reason, age of the last transition. */
function conditionLine(c: Condition, now: number): string {
  return [c.status, c.reason, `(since ${age(c.lastTransitionTime, now)} ago)`].filter(Boolean).join("  ");
}

const describeEntry = (e: InventoryEntry): string => `${e.kind} ${e.namespace ? `${e.namespace}/` : ""}${e.name}`;

/** Ready (always) and Stalled (when True), each with its reason, age and message lines. */
function conditionBlock(obj: Obj, now: number): string[] {
  const ready = conditionOf(obj, "Ready");
  const stalled = conditionOf(obj, "Stalled");
  const lines = ready ? [`  Ready:          ${conditionLine(ready, now)}`, ...messageLines(ready.message)] : [`  Ready:          <unknown> (the controller has not reported yet)`];
  if (stalled?.status !== "True") return lines;
  lines.push(`  Stalled:        ${conditionLine(stalled, now)}`);
  // Stalled usually repeats Ready's message: once is enough.
  if (stalled.message !== ready?.message) lines.push(...messageLines(stalled.message));
  return lines;
}

/** The readable summary `status` and `reconcile` print. */
export function summarize(obj: Obj, now = Date.now()): string {
  const st = obj.status ?? {};
  const inventory = (st.inventory ?? []) as InventoryEntry[];
  return [
    `sync.berth.dev/${obj.metadata.name}`,
    `  Source:         ${st.source ?? "<not fetched yet>"}`,
    `  Revision:       ${st.revision ?? "<none>"}`,
    `  Last applied:   ${st.lastAppliedRevision ?? "<none>"}`,
    ...(obj.spec?.suspend === true ? [`  Suspended:      true (berth sync resume ${obj.metadata.name})`] : []),
    ...conditionBlock(obj, now),
    `  Inventory:      ${inventory.length} object(s)`,
    ...inventory.map((e) => `    ${describeEntry(e)}`),
  ].join("\n");
}

/** A GET of the Sync; NotFound worded as `berth get` words it. */
async function getSync(client: BerthClient, name: string): Promise<Obj> {
  const obj = await client.get(SYNC, undefined, name).catch(serverError);
  if (!obj) throw notFound(SYNC, name);
  return obj;
}

/** A 404 of a write worded as `berth get`'s NotFound; other server errors kubectl's way. */
async function writeError(e: unknown, name: string): Promise<never> {
  if (e instanceof ApiCallError && e.code === 404) throw notFound(SYNC, name);
  return serverError(e);
}

async function printStatus(obj: Obj, output: string | undefined, io: Io): Promise<number> {
  if (output === "json") io.out(JSON.stringify(obj.status ?? {}, null, 2));
  else if (output === "yaml") io.out((await import("yaml")).default.stringify(obj.status ?? {}).trimEnd());
  else io.out(summarize(obj));
  return isReady(obj) ? 0 : EXIT_FAILED;
}

function checkOutput(output: string | undefined): void {
  if (output !== undefined && output !== "json" && output !== "yaml") throw new CommandError(`error: unknown output format "${output}" (use yaml or json)`, EXIT_USAGE);
}

/** `berth sync status NAME [-o json|yaml]`: the exit code is 0 when Ready=True, else 1. */
export async function syncStatusCommand(client: BerthClient, args: { name: string; output?: string }, io: Io): Promise<number> {
  checkOutput(args.output);
  return printStatus(await getSync(client, args.name), args.output, io);
}

/** The status shows a reconcile that read our request (the controller copies the annotation over). */
export function handled(obj: Obj | undefined, requestedAt: string): boolean {
  const at = obj?.status?.lastHandledReconcileAt as string | undefined;
  if (!at) return false;
  if (at === requestedAt) return true;
  const a = Date.parse(at);
  return !Number.isNaN(a) && a >= Date.parse(requestedAt);
}

/** Newline-delimited watch events, however the chunks split them. */
function lines(onLine: (line: string) => void): (chunk: string) => void {
  let buffered = "";
  return (chunk) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) onLine(line);
    }
  };
}

/** One watch event line: the Sync as it now is (undefined once deleted); a bad line ends the round. */
function watchLine(name: string, see: (obj: Obj | undefined) => void, endRound: () => void): (line: string) => void {
  return (line) => {
    let e: { type: string; object: Obj };
    try {
      e = JSON.parse(line) as { type: string; object: Obj };
    } catch {
      return endRound();
    }
    if (e.type === "ERROR") return endRound();
    if (e.type === "BOOKMARK" || e.object?.metadata?.name !== name) return;
    see(e.type === "DELETED" ? undefined : e.object);
  };
}

/** One list, then a watch from its resourceVersion, until the watch ends, fails or `stop` aborts. */
async function watchRound(client: BerthClient, name: string, see: (obj: Obj | undefined) => void, stop: AbortSignal): Promise<void> {
  const fieldSelector = `metadata.name=${name}`;
  // An ERROR event ends only this round; `stop` (handled, gone, the deadline) ends them all.
  const round = new AbortController();
  const endRound = (): void => round.abort();
  stop.addEventListener("abort", endRound, { once: true });
  try {
    const list = await client.listWithVersion(SYNC, undefined, fieldSelector);
    see(list.items.find((o) => o.metadata?.name === name));
    if (stop.aborted) return;
    const q = new URLSearchParams({ watch: "1", resourceVersion: list.resourceVersion, fieldSelector });
    await client.stream(`${BerthClient.itemPath(SYNC, undefined)}?${q}`, lines(watchLine(name, see, endRound)), { accept: "application/json", signal: round.signal });
  } catch {
    // the server restarted or the watch expired: the caller lists again shortly, until the deadline
  } finally {
    stop.removeEventListener("abort", endRound);
  }
}

/**
 * List, then watch from the list's resourceVersion (as progress.ts follows objects), until the
 * Sync's status says the request was handled, it is deleted, or the timeout passes. A watch the
 * server ends starts over with a fresh list.
 */
async function waitHandled(client: BerthClient, name: string, requestedAt: string, timeoutMs: number): Promise<{ obj?: Obj; outcome: "handled" | "gone" | "timeout" }> {
  const stop = new AbortController();
  let last: Obj | undefined;
  let outcome: "handled" | "gone" | "timeout" = "timeout";
  const see = (obj: Obj | undefined): void => {
    if (!obj) outcome = "gone";
    else {
      last = obj;
      if (handled(obj, requestedAt)) outcome = "handled";
    }
    if (outcome !== "timeout") stop.abort();
  };
  const timer = setTimeout(() => stop.abort(), timeoutMs);
  try {
    while (!stop.signal.aborted) {
      await watchRound(client, name, see, stop.signal);
      if (!stop.signal.aborted) await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    clearTimeout(timer);
  }
  return { obj: last, outcome };
}

/**
 * `berth sync reconcile NAME [--wait] [--timeout]`: sets berth.dev/reconcile-requested-at to
 * now; with --wait, follows the Sync until status.lastHandledReconcileAt shows that request,
 * then prints the summary and exits like `status`.
 */
export async function syncReconcileCommand(client: BerthClient, args: { name: string; wait?: boolean; timeoutMs: number }, io: Io): Promise<number> {
  const requestedAt = await annotateNow(client, BerthClient.itemPath(SYNC, undefined, args.name), RECONCILE_REQUESTED).catch((e: unknown) => {
    if (e instanceof CommandError && /^Error from server \((NotFound|404)\)/.test(e.message)) throw notFound(SYNC, args.name);
    throw e;
  });
  io.out(`sync.berth.dev/${args.name} reconcile requested`);
  if (!args.wait) return 0;
  const r = await waitHandled(client, args.name, requestedAt, args.timeoutMs);
  if (r.outcome === "gone") throw new CommandError(`error: sync.berth.dev/${args.name} was deleted while waiting for the reconcile`);
  if (r.outcome === "timeout") {
    if (r.obj) io.out(summarize(r.obj));
    throw new CommandError(`error: timed out after ${Math.round(args.timeoutMs / 1000)}s waiting for sync.berth.dev/${args.name} to reconcile (is the controller running?)`);
  }
  io.out(summarize(r.obj!));
  return isReady(r.obj!) ? 0 : EXIT_FAILED;
}

/** `berth sync suspend|resume NAME`: a merge patch of spec.suspend. */
export async function syncSuspendCommand(client: BerthClient, args: { name: string; suspend: boolean }, io: Io): Promise<void> {
  await client
    .request("PATCH", BerthClient.itemPath(SYNC, undefined, args.name), { body: { spec: { suspend: args.suspend } }, contentType: "application/merge-patch+json" })
    .catch((e: unknown) => writeError(e, args.name));
  io.out(`sync.berth.dev/${args.name} ${args.suspend ? "suspended" : "resumed"}`);
}

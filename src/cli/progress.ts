import type { KindInfo } from "../core/kinds.js";
import type { BerthClient } from "./client.js";

export interface Tracked {
  kind: KindInfo;
  namespace?: string;
  name: string;
}

export type Outcome = "waiting" | "done" | "failed" | "gone";

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** Reasons after which waiting longer will not help: the user has to change something. */
const TERMINAL = new Set(["ImageNotFound", "SourceNotSupported", "ProgressDeadlineExceeded", "RolloutFailed", "InvalidSpec", "BackupFailed"]);

export interface Verdict {
  outcome: Outcome;
  text: string;
}

/** What an object's status says about the wait: done, failed (with why), or what it waits on. */
export function judge(obj: Record<string, any> | undefined, deleting: boolean): Verdict {
  if (!obj) return { outcome: deleting ? "gone" : "waiting", text: deleting ? "deleted" : "not found yet" };
  if (deleting) return { outcome: "waiting", text: `deleting: waiting for finalizers ${(obj.metadata.finalizers ?? []).join(", ") || "(none)"}` };
  const st = obj.status ?? {};
  const conds: Condition[] = st.conditions ?? [];
  const ready = conds.find((c) => c.type === "Ready");
  const progressing = conds.find((c) => c.type === "Progressing");
  const observed = (st.observedGeneration ?? 0) >= (obj.metadata.generation ?? 1);
  if (!observed) return { outcome: "waiting", text: "waiting for the controller to observe generation " + obj.metadata.generation };
  // kstatus: Stalled=True is a failure no wait will fix; some Ready reasons are, too.
  const stalled = conds.find((c) => c.type === "Stalled" && c.status === "True");
  const failure = stalled ?? [ready, progressing].find((c) => c && c.status === "False" && c.reason && TERMINAL.has(c.reason));
  if (failure) return { outcome: "failed", text: `failed: ${failure.reason}: ${failure.message ?? ""}` };
  const desired = obj.spec?.replicas ?? st.replicas;
  if (ready?.status === "True") return { outcome: "done", text: `ready${desired !== undefined ? ` (${st.readyReplicas ?? 0}/${desired} replicas)` : ""}` };
  if (ready?.reason === "DependencyNotReady") return { outcome: "waiting", text: ready.message ?? "waiting on a dependency" };
  if (st.replicas !== undefined) {
    return { outcome: "waiting", text: `${st.updatedReplicas ?? 0} of ${desired} replicas updated, ${st.readyReplicas ?? 0} healthy${progressing?.message ? ` — ${progressing.message}` : ""}` };
  }
  return { outcome: "waiting", text: ready?.message || progressing?.message || st.phase || "waiting for the controller" };
}

export interface WaitIo {
  isTTY: boolean;
  write: (text: string) => void;
}

function label(t: Tracked): string {
  return `${t.kind.singular}/${t.name}`;
}

/**
 * Follows objects until each is done, failed or gone. On a terminal it redraws one line per
 * object in place; otherwise it prints a plain line whenever an object's state changes.
 * Returns the final verdicts; the caller prints the summary and picks the exit code.
 */
export async function waitFor(client: BerthClient, tracked: Tracked[], opts: { deleting: boolean; timeoutMs: number; io: WaitIo; intervalMs?: number }): Promise<Map<Tracked, Verdict>> {
  const deadline = Date.now() + opts.timeoutMs;
  const last = new Map<Tracked, Verdict>();
  let drawn = 0;
  const width = Math.max(...tracked.map((t) => label(t).length));
  for (;;) {
    for (const t of tracked) {
      const prev = last.get(t);
      if (prev && prev.outcome !== "waiting") continue;
      const v = judge(await client.get(t.kind, t.namespace, t.name), opts.deleting);
      last.set(t, v);
      if (!opts.io.isTTY && (!prev || prev.text !== v.text)) opts.io.write(`${label(t).padEnd(width)}  ${v.text}\n`);
    }
    if (opts.io.isTTY) {
      const lines = tracked.map((t) => {
        const v = last.get(t)!;
        const mark = v.outcome === "done" || v.outcome === "gone" ? "✔" : v.outcome === "failed" ? "✖" : "…";
        return `${mark} ${label(t).padEnd(width)}  ${v.text}`;
      });
      opts.io.write((drawn ? `\x1b[${drawn}A` : "") + lines.map((l) => `\x1b[2K${l}\n`).join(""));
      drawn = lines.length;
    }
    const pending = tracked.filter((t) => last.get(t)!.outcome === "waiting");
    if (!pending.length) return last;
    if (Date.now() > deadline) {
      for (const t of pending) last.set(t, { outcome: "failed", text: `timed out: ${last.get(t)!.text}` });
      return last;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
  }
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

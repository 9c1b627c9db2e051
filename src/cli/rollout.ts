import { findKind, type KindInfo } from "../core/kinds.js";
import type { RevisionInfo } from "../api/rollouts.js";
import { BerthClient } from "./client.js";
import { CommandError, type Io } from "./commands.js";
import { needNamespace, serverError } from "./common.js";
import { judge, summary, waitFor, type WaitIo } from "./progress.js";

/** `app/NAME` or `NAME` (kind defaults to application), as kubectl rollout accepts. */
export function parseTarget(text: string): { kind: KindInfo; name: string } {
  const [a, b] = text.includes("/") ? text.split("/", 2) : ["application", text];
  const kind = findKind(a);
  if (!kind || !b) throw new CommandError(`error: expected KIND/NAME such as app/web, got "${text}"`, 2);
  if (kind.kind !== "Application") throw new CommandError(`error: rollouts exist for applications only, not ${kind.plural}`, 2);
  return { kind, name: b };
}

function base(ns: string, name: string): string {
  return `/berth/v1/namespaces/${encodeURIComponent(ns)}/applications/${encodeURIComponent(name)}`;
}

export async function historyCommand(client: BerthClient, target: string, ns: string | undefined, io: Io): Promise<void> {
  const { name } = parseTarget(target);
  const list = await client.request<{ items: RevisionInfo[]; currentConfigHash: string | null }>("GET", `${base(needNamespace(ns), name)}/deployments`).catch(serverError);
  if (!list.items.length) {
    io.out(`application/${name}: no revisions yet`);
    return;
  }
  const rows = [["REVISION", "STATUS", "CONFIG", "GENERATION", "STARTED", "COMPLETED"]];
  for (const r of list.items) rows.push([String(r.revision) + (r.configHash === list.currentConfigHash ? "*" : ""), r.status, r.configHash.slice(0, 8), String(r.generation), r.startedAt, r.completedAt ?? "-"]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  io.out(rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("   ").trimEnd()).join("\n"));
}

export async function deploymentsCommand(client: BerthClient, target: string, ns: string | undefined, io: Io): Promise<void> {
  const { name } = parseTarget(target);
  const list = await client.request<{ items: RevisionInfo[] }>("GET", `${base(needNamespace(ns), name)}/deployments?logs=true`).catch(serverError);
  for (const r of list.items) {
    io.out(`revision ${r.revision}  ${r.status}  config ${r.configHash.slice(0, 8)}  started ${r.startedAt}${r.completedAt ? `  completed ${r.completedAt}` : ""}`);
    for (const l of r.logs ?? []) io.out(`  ${l.time}  ${l.level.padEnd(5)}  ${l.message}`);
  }
}

export async function undoCommand(client: BerthClient, target: string, ns: string | undefined, toRevision: number | undefined, io: Io): Promise<void> {
  const { name } = parseTarget(target);
  const q = toRevision ? `?toRevision=${toRevision}` : "";
  const r = await client.request<{ revision: number; changed: boolean }>("POST", `${base(needNamespace(ns), name)}/rollback${q}`).catch(serverError);
  io.out(`application.berth.dev/${name} ${r.changed ? `rolled back to revision ${r.revision}` : `already at revision ${r.revision}'s spec`}`);
}

export async function restartCommand(client: BerthClient, target: string, ns: string | undefined, io: Io): Promise<void> {
  const { kind, name } = parseTarget(target);
  const path = BerthClient.itemPath(kind, needNamespace(ns), name);
  await client.request("PATCH", path, { metadata: { annotations: { "berth.dev/restarted-at": new Date().toISOString() } } }, "application/merge-patch+json").catch(serverError);
  io.out(`application.berth.dev/${name} restarted`);
}

/** `berth reconcile KIND NAME`: the annotation is a write, and every write wakes the reconciler. */
export async function reconcileCommand(client: BerthClient, kindName: string, name: string, ns: string | undefined, io: Io): Promise<void> {
  const kind = findKind(kindName);
  if (!kind) throw new CommandError(`error: unknown kind "${kindName}"`, 2);
  const path = BerthClient.itemPath(kind, kind.namespaced ? needNamespace(ns) : undefined, name);
  await client.request("PATCH", path, { metadata: { annotations: { "berth.dev/reconcile-requested-at": new Date().toISOString() } } }, "application/merge-patch+json").catch(serverError);
  io.out(`${kind.singular}.berth.dev/${name} reconcile requested`);
}

/** Follows a rollout until it is done (exit 0) or fails (exit 1), like kubectl rollout status. */
export async function statusCommand(client: BerthClient, target: string, ns: string | undefined, timeoutMs: number, waitIo: WaitIo): Promise<void> {
  const { kind, name } = parseTarget(target);
  const namespace = needNamespace(ns);
  if (!(await client.get(kind, namespace, name))) throw new CommandError(`Error from server (NotFound): applications.berth.dev "${name}" not found`);
  const tracked = [{ kind, namespace, name }];
  const verdicts = await waitFor(client, tracked, { deleting: false, timeoutMs, io: waitIo });
  const v = verdicts.get(tracked[0])!;
  if (v.outcome === "failed") throw new CommandError(`error: rollout of application/${name} failed: ${v.text.replace(/^failed: /, "")}`);
  waitIo.write(`application/${name} successfully rolled out\n`);
}

export { judge, summary };

/** Streams container logs from the server; each line is prefixed with its container. */
export async function logsCommand(client: BerthClient, target: string, ns: string | undefined, opts: { replica?: string; follow?: boolean; since?: number; tail?: string }, write: (t: string) => void): Promise<void> {
  const { name } = parseTarget(target);
  const q = new URLSearchParams();
  if (opts.replica !== undefined) q.set("replica", opts.replica);
  if (opts.follow) q.set("follow", "true");
  if (opts.since) q.set("since", String(Math.floor(opts.since / 1000)));
  if (opts.tail) q.set("tail", opts.tail);
  await client.stream(`${base(needNamespace(ns), name)}/logs?${q}`, write).catch(serverError);
}

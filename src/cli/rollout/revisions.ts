import type { RevisionInfo } from "../../core/records.js";
import type { BerthClient } from "../shared/client.js";
import { columns, needNamespace } from "../shared/common.js";
import { serverError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";
import { appPath, parseTarget, type TargetArgs } from "./target.js";

export async function historyCommand(client: BerthClient, args: TargetArgs, io: Io): Promise<void> {
  const { name } = parseTarget(args.target);
  const list = await client.request<{ items: RevisionInfo[]; currentConfigHash: string | null }>("GET", `${appPath(needNamespace(args.namespace), name)}/deployments`).catch(serverError);
  if (!list.items.length) {
    io.out(`application/${name}: no revisions yet`);
    return;
  }
  const rows = [["REVISION", "STATUS", "CONFIG", "GENERATION", "STARTED", "COMPLETED"]];
  for (const r of list.items) rows.push([String(r.revision) + (r.configHash === list.currentConfigHash ? "*" : ""), r.status, r.configHash.slice(0, 8), String(r.generation), r.startedAt, r.completedAt ?? "-"]);
  io.out(columns(rows));
}

export async function deploymentsCommand(client: BerthClient, args: TargetArgs, io: Io): Promise<void> {
  const { name } = parseTarget(args.target);
  const list = await client.request<{ items: RevisionInfo[] }>("GET", `${appPath(needNamespace(args.namespace), name)}/deployments?logs=true`).catch(serverError);
  for (const r of list.items) {
    io.out(`revision ${r.revision}  ${r.status}  config ${r.configHash.slice(0, 8)}  started ${r.startedAt}${r.completedAt ? `  completed ${r.completedAt}` : ""}`);
    for (const l of r.logs ?? []) io.out(`  ${l.time}  ${l.level.padEnd(5)}  ${l.message}`);
  }
}

export async function undoCommand(client: BerthClient, args: TargetArgs & { toRevision?: number }, io: Io): Promise<void> {
  const { name } = parseTarget(args.target);
  const q = args.toRevision ? `?toRevision=${args.toRevision}` : "";
  const r = await client.request<{ revision: number; changed: boolean }>("POST", `${appPath(needNamespace(args.namespace), name)}/rollback${q}`).catch(serverError);
  io.out(`application.berth.dev/${name} ${r.changed ? `rolled back to revision ${r.revision}` : `already at revision ${r.revision}'s spec`}`);
}

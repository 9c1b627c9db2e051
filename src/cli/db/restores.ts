import type { RestoreInfo } from "../../core/records.js";
import type { BerthClient } from "../shared/client.js";
import { columns, needNamespace, parseDuration } from "../shared/common.js";
import { CommandError, serverError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";
import { dbPath, type DbArgs } from "./paths.js";

/** `berth db restore`: from is a backup id or a unique prefix of one, resolved by the server. */
export async function restoreCommand(client: BerthClient, args: DbArgs & { from: string; timeout: string }, io: Pick<Io, "out">): Promise<RestoreInfo> {
  const { namespace: ns, name } = args;
  const path = dbPath(needNamespace(ns), name);
  const q = `?from=${encodeURIComponent(args.from)}&timeoutSeconds=${Math.ceil(parseDuration(args.timeout) / 1000)}`;
  const r = await client.request<RestoreInfo>("POST", `${path}/restores${q}`).catch(serverError);
  if (r.status === "failed") throw new CommandError(`restore ${r.id} of database/${name} failed: ${r.error ?? "unknown error"}`);
  if (r.status === "success") io.out(`database/${name} restored from backup ${r.backupId}`);
  else io.out(`restore ${r.id} of database/${name} is ${r.status}; follow it with: berth db restores -n ${ns} ${name}`);
  return r;
}

export async function restoresCommand(client: BerthClient, args: DbArgs, io: Pick<Io, "out">): Promise<void> {
  const list = await client.request<{ items: RestoreInfo[] }>("GET", `${dbPath(needNamespace(args.namespace), args.name)}/restores`).catch(serverError);
  if (!list.items.length) {
    io.out(`database/${args.name}: no restores yet`);
    return;
  }
  const rows = [["ID", "BACKUP", "STATUS", "CREATED", "COMPLETED", "ERROR"]];
  for (const r of list.items) rows.push([r.id, r.backupId ?? "-", r.status, r.createdAt, r.completedAt ?? "-", r.error ?? ""]);
  io.out(columns(rows));
}

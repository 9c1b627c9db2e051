import type { BackupInfo } from "../../core/records.js";
import type { BerthClient } from "../shared/client.js";
import { columns, needNamespace, parseDuration } from "../shared/common.js";
import { CommandError, serverError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";
import { dbPath, humanSize, type DbArgs } from "./paths.js";

export async function backupCommand(client: BerthClient, args: DbArgs & { wait: boolean; timeout: string }, io: Pick<Io, "out">): Promise<BackupInfo> {
  const { namespace: ns, name } = args;
  const q = args.wait ? `?timeoutSeconds=${Math.ceil(parseDuration(args.timeout) / 1000)}` : "?wait=false";
  const b = await client.request<BackupInfo>("POST", `${dbPath(needNamespace(ns), name)}/backups${q}`).catch(serverError);
  if (b.status === "failed") throw new CommandError(`backup ${b.id} of database/${name} failed: ${b.error ?? "unknown error"}`);
  if (b.status === "success") io.out(`backup ${b.id} of database/${name} completed: ${humanSize(b.sizeBytes)} at ${b.path}`);
  else io.out(`backup ${b.id} of database/${name} is ${b.status}; follow it with: berth db backups -n ${ns} ${name}`);
  return b;
}

export async function backupsCommand(client: BerthClient, args: DbArgs & { output: string }, io: Pick<Io, "out">): Promise<void> {
  const list = await client.request<{ items: BackupInfo[] }>("GET", `${dbPath(needNamespace(args.namespace), args.name)}/backups`).catch(serverError);
  if (args.output === "json") {
    io.out(JSON.stringify(list, null, 2));
    return;
  }
  if (!list.items.length) {
    io.out(`database/${args.name}: no backups yet`);
    return;
  }
  const rows = [["ID", "STATUS", "SOURCE", "SIZE", "DESTINATION", "CREATED", "COMPLETED", "ERROR"]];
  // DESTINATION: the BackupDestination a backup went to, "local" for the backup directory.
  for (const b of list.items) rows.push([b.id, b.status, b.source, humanSize(b.sizeBytes), b.destination ?? "local", b.createdAt, b.completedAt ?? "-", b.error ?? ""]);
  io.out(columns(rows));
}

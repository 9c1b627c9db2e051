import type { VolumeBackupInfo, VolumeRestoreInfo } from "../../core/records.js";
import type { BerthClient } from "../shared/client.js";
import { columns, needNamespace, parseDuration } from "../shared/common.js";
import { CommandError, serverError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";
import { appPath, parseTarget } from "../rollout/target.js";

type WireBackup = Omit<VolumeBackupInfo, "applicationUid">;
type WireRestore = Omit<VolumeRestoreInfo, "applicationUid">;

export interface VolumeArgs {
  target: string;
  namespace?: string;
}

function pathOf(args: VolumeArgs, what: "volumebackups" | "volumerestores"): string {
  return `${appPath(needNamespace(args.namespace), parseTarget(args.target).name)}/${what}`;
}

function waitQuery(args: { wait: boolean; timeout: string }): Record<string, string> {
  return args.wait ? { timeoutSeconds: String(Math.ceil(parseDuration(args.timeout) / 1000)) } : { wait: "false" };
}

function open(status: string): boolean {
  return status === "pending" || status === "running";
}

/** `berth volume backup app/NAME VOLUME`: one backup now; exit 1 unless it succeeded. */
export async function backupCommand(client: BerthClient, args: VolumeArgs & { volume: string; wait: boolean; timeout: string }, io: Pick<Io, "out">): Promise<WireBackup> {
  const q = new URLSearchParams({ volume: args.volume, ...waitQuery(args) });
  const b = await client.request<WireBackup>("POST", `${pathOf(args, "volumebackups")}?${q}`).catch(serverError);
  const what = `volume ${b.volume} of application/${parseTarget(args.target).name}`;
  if (open(b.status)) {
    io.out(`${what}: backup ${b.id} is ${b.status}; follow it with: berth volume backups -n ${args.namespace} ${args.target} ${b.volume}`);
    return b;
  }
  if (b.status !== "success") throw new CommandError(`${what}: backup ${b.id} failed: ${b.error ?? "unknown error"}`);
  io.out(`${what}: backup ${b.id} succeeded: ${b.sizeBytes} bytes at ${b.path} (sha256 ${b.sha256})`);
  return b;
}

/** `berth volume backups app/NAME [VOLUME]`: the backups, newest first. */
export async function backupsCommand(client: BerthClient, args: VolumeArgs & { volume?: string; output: string }, io: Pick<Io, "out">): Promise<void> {
  const q = args.volume ? `?volume=${encodeURIComponent(args.volume)}` : "";
  const list = await client.request<{ items: WireBackup[] }>("GET", `${pathOf(args, "volumebackups")}${q}`).catch(serverError);
  if (args.output === "json") return io.out(JSON.stringify(list, null, 2));
  if (!list.items.length) return io.out(`${args.target}: no volume backups yet`);
  const rows = [["ID", "VOLUME", "SOURCE", "STATUS", "SIZE", "DESTINATION", "CREATED", "ERROR"]];
  for (const b of list.items) rows.push([b.id, b.volume, b.source, b.status, b.sizeBytes === null ? "-" : String(b.sizeBytes), b.destination ?? "local", b.createdAt, b.error ?? ""]);
  io.out(columns(rows));
}

/** `berth volume restore app/NAME BACKUP_ID --to NEWVOLUME`: exit 1 unless the restore succeeded. */
export async function restoreCommand(client: BerthClient, args: VolumeArgs & { backupId: string; to: string; overwrite: boolean; wait: boolean; timeout: string }, io: Pick<Io, "out">): Promise<WireRestore> {
  const q = new URLSearchParams({ from: args.backupId, to: args.to, ...(args.overwrite ? { overwrite: "true" } : {}), ...waitQuery(args) });
  const r = await client.request<WireRestore>("POST", `${pathOf(args, "volumerestores")}?${q}`).catch(serverError);
  if (open(r.status)) {
    io.out(`restore ${r.id} of backup ${r.backupId} into volume ${r.targetVolume} is ${r.status}`);
    return r;
  }
  if (r.status !== "success") throw new CommandError(`restore ${r.id} of backup ${r.backupId} into volume ${r.targetVolume} failed: ${r.error ?? "unknown error"}`);
  io.out(`backup ${r.backupId} restored into volume ${r.targetVolume} (restore ${r.id})`);
  return r;
}

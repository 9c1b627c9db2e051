import type { Command } from "commander";
import type { BackupInfo, RestoreInfo } from "../api/databases.js";
import type { BerthClient } from "./client.js";
import { CommandError, type Io } from "./commands.js";
import { clientFromCommand, needNamespace, parseDuration, serverError } from "./common.js";

/**
 * `berth db …`: the operations on a Database that are not desired state — revealing its
 * credentials, taking a backup now, listing backups, restoring one. Each is a call to the
 * server's /berth/v1/namespaces/NS/databases/NAME/… endpoints (src/api/databases.ts).
 */
/** Output only: no db command reads stdin. */
type DbIo = Pick<Io, "out" | "err">;

function base(ns: string, name: string): string {
  return `/berth/v1/namespaces/${encodeURIComponent(ns)}/databases/${encodeURIComponent(name)}`;
}

function humanSize(bytes: number | null): string {
  if (bytes === null) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)}${units[i]}`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("   ").trimEnd()).join("\n");
}

export async function credentialsCommand(client: BerthClient, ns: string | undefined, name: string, output: string, io: DbIo): Promise<void> {
  const c = await client.request<Record<string, string | number>>("GET", `${base(needNamespace(ns), name)}/credentials`).catch(serverError);
  if (output === "json") {
    io.out(JSON.stringify(c, null, 2));
    return;
  }
  if (output === "env") {
    io.out(`DATABASE_URL=${c.publishedConnectionString ?? c.connectionString}`);
    return;
  }
  const rows: [string, unknown][] = [
    ["engine", c.engine],
    ["host", `${c.host} (inside the project network)`],
    ["port", c.port],
    ["username", c.username],
    ["password", c.password],
    ["database", c.database],
    ...(c.rootPassword ? ([["root password", c.rootPassword]] as [string, unknown][]) : []),
    ["url", c.connectionString],
    ...(c.publishedConnectionString ? ([["url from this host", c.publishedConnectionString]] as [string, unknown][]) : []),
  ];
  io.out(rows.map(([k, v]) => `${(k + ":").padEnd(19)}${String(v)}`).join("\n"));
}

export async function backupCommand(client: BerthClient, ns: string | undefined, name: string, opts: { wait: boolean; timeout: string }, io: DbIo): Promise<BackupInfo> {
  const q = opts.wait ? `?timeoutSeconds=${Math.ceil(parseDuration(opts.timeout) / 1000)}` : "?wait=false";
  const b = await client.request<BackupInfo>("POST", `${base(needNamespace(ns), name)}/backups${q}`).catch(serverError);
  if (b.status === "failed") throw new CommandError(`backup ${b.id} of database/${name} failed: ${b.error ?? "unknown error"}`);
  if (b.status === "success") io.out(`backup ${b.id} of database/${name} completed: ${humanSize(b.sizeBytes)} at ${b.path}`);
  else io.out(`backup ${b.id} of database/${name} is ${b.status}; follow it with: berth db backups -n ${ns} ${name}`);
  return b;
}

export async function backupsCommand(client: BerthClient, ns: string | undefined, name: string, output: string, io: DbIo): Promise<void> {
  const list = await client.request<{ items: BackupInfo[] }>("GET", `${base(needNamespace(ns), name)}/backups`).catch(serverError);
  if (output === "json") {
    io.out(JSON.stringify(list, null, 2));
    return;
  }
  if (!list.items.length) {
    io.out(`database/${name}: no backups yet`);
    return;
  }
  const rows = [["ID", "STATUS", "SOURCE", "SIZE", "CREATED", "COMPLETED", "ERROR"]];
  for (const b of list.items) rows.push([b.id, b.status, b.source, humanSize(b.sizeBytes), b.createdAt, b.completedAt ?? "-", b.error ?? ""]);
  io.out(table(rows));
}

export async function restoreCommand(client: BerthClient, ns: string | undefined, name: string, from: string, timeout: string, io: DbIo): Promise<RestoreInfo> {
  const r = await client.request<RestoreInfo>("POST", `${base(needNamespace(ns), name)}/restores?from=${encodeURIComponent(from)}&timeoutSeconds=${Math.ceil(parseDuration(timeout) / 1000)}`).catch(serverError);
  if (r.status === "failed") throw new CommandError(`restore ${r.id} of database/${name} failed: ${r.error ?? "unknown error"}`);
  if (r.status === "success") io.out(`database/${name} restored from backup ${r.backupId}`);
  else io.out(`restore ${r.id} of database/${name} is ${r.status}; follow it with: berth db restores -n ${ns} ${name}`);
  return r;
}

export async function restoresCommand(client: BerthClient, ns: string | undefined, name: string, io: DbIo): Promise<void> {
  const list = await client.request<{ items: RestoreInfo[] }>("GET", `${base(needNamespace(ns), name)}/restores`).catch(serverError);
  if (!list.items.length) {
    io.out(`database/${name}: no restores yet`);
    return;
  }
  const rows = [["ID", "BACKUP", "STATUS", "CREATED", "COMPLETED", "ERROR"]];
  for (const r of list.items) rows.push([r.id, r.backupId ?? "-", r.status, r.createdAt, r.completedAt ?? "-", r.error ?? ""]);
  io.out(table(rows));
}

/** Adds `berth db credentials|backup|backups|restore|restores`; main.ts calls this once. */
export function registerDbCommands(program: Command, io: DbIo): void {
  const db = program.command("db").description("database operations: credentials, backups, restore");
  db.command("credentials")
    .argument("<name>", "the Database")
    .option("-n, --namespace <project>", "the Project")
    .option("-o, --output <format>", "text, json, or env (DATABASE_URL= for this host)", "text")
    .description("reveal a Database's generated credentials (the reveal is audit-logged)")
    .action(async (name: string, opts: { namespace?: string; output: string }, cmd: Command) => credentialsCommand(clientFromCommand(cmd), opts.namespace, name, opts.output, io));
  db.command("backup")
    .argument("<name>", "the Database")
    .option("-n, --namespace <project>", "the Project")
    .option("--no-wait", "return at once; the backup runs in the background")
    .option("--timeout <duration>", "how long to wait for the backup", "10m")
    .description("take a backup now with the engine's own dump tool; exit 1 if it fails")
    .action(async (name: string, opts: { namespace?: string; wait: boolean; timeout: string }, cmd: Command) => {
      await backupCommand(clientFromCommand(cmd), opts.namespace, name, opts, io);
    });
  db.command("backups")
    .argument("<name>", "the Database")
    .option("-n, --namespace <project>", "the Project")
    .option("-o, --output <format>", "table or json", "table")
    .description("list a Database's backups, newest first")
    .action(async (name: string, opts: { namespace?: string; output: string }, cmd: Command) => backupsCommand(clientFromCommand(cmd), opts.namespace, name, opts.output, io));
  db.command("restore")
    .argument("<name>", "the Database")
    .option("-n, --namespace <project>", "the Project")
    .requiredOption("--from <backup-id>", "the backup to restore (an id, or a unique prefix of one, from `berth db backups`)")
    .option("--timeout <duration>", "how long to wait for the restore", "30m")
    .description("restore a backup into the running Database; exit 1 if it fails")
    .action(async (name: string, opts: { namespace?: string; from: string; timeout: string }, cmd: Command) => {
      await restoreCommand(clientFromCommand(cmd), opts.namespace, name, opts.from, opts.timeout, io);
    });
  db.command("restores")
    .argument("<name>", "the Database")
    .option("-n, --namespace <project>", "the Project")
    .description("list a Database's restores, newest first")
    .action(async (name: string, opts: { namespace?: string }, cmd: Command) => restoresCommand(clientFromCommand(cmd), opts.namespace, name, io));
}

import type { AuditRecord } from "../../core/records.js";
import type { BerthClient } from "../shared/client.js";
import { columns } from "../shared/common.js";
import { CommandError, EXIT_USAGE, serverError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";

export interface AuditFlags {
  user?: string;
  project?: string;
  action?: string;
  since?: string;
  limit?: string;
  output: string;
}

/** The server's page size for the CLI: whole pages until --limit rows or the end. */
const PAGE = 500;

interface AuditList {
  metadata: { continue?: string };
  items: AuditRecord[];
}

function wanted(limit: string | undefined): number {
  if (limit === undefined) return Infinity;
  if (!/^\d+$/.test(limit) || Number(limit) < 1) throw new CommandError(`invalid --limit "${limit}" (a whole number, 1 or more)`, EXIT_USAGE);
  return Number(limit);
}

/** RESOURCE as kubectl names objects: type/name (the type alone when the row names no object). */
function resource(r: AuditRecord): string {
  return r.name ? `${r.resourceType}/${r.name}` : r.resourceType;
}

export async function auditCommand(client: BerthClient, flags: AuditFlags, io: Pick<Io, "out">): Promise<AuditRecord[]> {
  const max = wanted(flags.limit);
  const q = new URLSearchParams();
  for (const key of ["user", "project", "action", "since"] as const) if (flags[key]) q.set(key, flags[key]!);
  const rows: AuditRecord[] = [];
  let cont: string | undefined;
  do {
    const page = new URLSearchParams(q);
    page.set("limit", String(Math.min(PAGE, max - rows.length)));
    if (cont) page.set("continue", cont);
    const list = await client.request<AuditList>("GET", `/berth/v1/audit?${page}`).catch(serverError);
    rows.push(...list.items);
    cont = list.metadata.continue;
  } while (cont && rows.length < max);
  if (flags.output === "json") io.out(JSON.stringify({ kind: "AuditList", apiVersion: "berth.dev/v1", items: rows }, null, 2));
  else if (!rows.length) io.out("No audit records found.");
  else io.out(columns([["TIME", "USER", "ACTION", "RESOURCE", "PROJECT"], ...rows.map((r) => [r.time.replace(/\.\d+Z$/, "Z"), r.user, r.action, resource(r), r.namespace ?? "-"])]));
  return rows;
}

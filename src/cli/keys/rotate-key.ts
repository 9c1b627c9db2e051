/**
 * `berth rotate-key`: POST /berth/v1/rotate-key starts the rotation (or picks up the one
 * running), then GET follows it until it completes, one progress line per change on stderr and
 * a summary on stdout: rows and values re-encrypted per table, passes, duration. Only key ids
 * and counts are printed, never a key or a secret.
 */
import type { BerthClient } from "../shared/client.js";
import { CommandError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";

export interface RotateKeyFlags {
  batchSize?: string;
  output?: string;
}

interface TableProgress {
  done: boolean;
  rows: number;
  values: number;
  unreadable: number;
}

interface Rotation {
  id: string;
  status: "running" | "completed" | "abandoned";
  newKeyId: string;
  oldKeyIds: string[];
  pass: number;
  batches: number;
  tables: Record<string, TableProgress>;
  startedBy: string;
  durationMs: number;
  removeFromEnvironment?: string[];
  /** Whether the server is driving it now; a running rotation it does not drive stopped (error says why). */
  active?: boolean;
  error?: string;
}

const POLL_MS = 200;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}

function progressLine(r: Rotation): string {
  const rows = Object.values(r.tables).reduce((n, t) => n + t.rows, 0);
  const tables = Object.entries(r.tables);
  const done = tables.filter(([, t]) => t.done).length;
  return `rotating to key ${r.newKeyId}: pass ${r.pass}${r.pass > 1 ? " (verifying)" : ""}, ${done}/${tables.length} tables, ${rows} rows re-encrypted, ${r.batches} batches`;
}

/** The summary: one line per table, then totals and what the operator still has to do. */
export function summary(r: Rotation): string {
  const entries = Object.entries(r.tables);
  const width = Math.max(5, ...entries.map(([t]) => t.length));
  const lines = [`${"TABLE".padEnd(width)}  ROWS  VALUES  UNREADABLE`];
  for (const [t, p] of entries) lines.push(`${t.padEnd(width)}  ${String(p.rows).padStart(4)}  ${String(p.values).padStart(6)}  ${String(p.unreadable).padStart(10)}`);
  const rows = entries.reduce((n, [, p]) => n + p.rows, 0);
  const values = entries.reduce((n, [, p]) => n + p.values, 0);
  lines.push(`rotated to key ${r.newKeyId}: ${rows} rows (${values} values) re-encrypted in ${seconds(r.durationMs)}, ${r.pass} passes, ${r.batches} batches; retired ${r.oldKeyIds.join(", ") || "no key"}`);
  const unreadable = entries.reduce((n, [, p]) => n + p.unreadable, 0);
  if (unreadable) lines.push(`${unreadable} stored values open under no key of this installation and were left as they were (they read as <redacted>; set them again)`);
  if (r.removeFromEnvironment?.length) lines.push(`now remove key(s) ${r.removeFromEnvironment.join(", ")} from BERTH_SECRET_KEY on every server and restart them one by one`);
  return lines.join("\n");
}

function batchSizeOf(flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined;
  const n = Number(flag);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new CommandError(`--batch-size must be an integer from 1 to 10000, got "${flag}"`);
  return n;
}

/** Whether the rotation is over (completed); throws when it can no longer complete from here. */
function finished(r: Rotation, startedId: string): boolean {
  if (r.id !== startedId) throw new CommandError(`another key rotation (${r.id}) replaced rotation ${startedId}`);
  if (r.status === "abandoned") throw new CommandError(`key rotation ${r.id} was abandoned`);
  if (r.status === "completed") return true;
  if (r.active === false) throw new CommandError(`key rotation ${r.id} stopped${r.error ? `: ${r.error}` : ""}; run berth rotate-key again to resume it`);
  return false;
}

/** Polls the rotation until it completes, a progress line on stderr whenever it moved. */
async function follow(client: BerthClient, started: Rotation, io: Io, pollMs: number): Promise<Rotation> {
  let last = "";
  let r = started;
  while (!finished(r, started.id)) {
    const line = progressLine(r);
    if (line !== last) io.err(line);
    last = line;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    r = await client.request<Rotation>("GET", "/berth/v1/rotate-key");
  }
  return r;
}

export async function rotateKeyCommand(client: BerthClient, flags: RotateKeyFlags, io: Io, pollMs = POLL_MS): Promise<void> {
  const output = flags.output ?? "text";
  if (output !== "text" && output !== "json") throw new CommandError(`-o must be text or json, got "${output}"`);
  const batchSize = batchSizeOf(flags.batchSize);
  try {
    const started = await client.request<Rotation>("POST", "/berth/v1/rotate-key", { body: batchSize ? { batchSize } : {} });
    const r = await follow(client, started, io, pollMs);
    io.out(output === "json" ? JSON.stringify(r, null, 2) : summary(r));
  } finally {
    client.close();
  }
}

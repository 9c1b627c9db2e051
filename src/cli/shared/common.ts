import { CommandError, EXIT_USAGE } from "./errors.js";

export function needNamespace(ns: string | undefined): string {
  if (!ns) throw new CommandError("error: pass -n PROJECT", EXIT_USAGE);
  return ns;
}

/** `30s`, `5m`, `250ms`, `1h`, or bare seconds; milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(text);
  if (!m) throw new CommandError(`invalid duration "${text}" (e.g. 30s, 5m)`, EXIT_USAGE);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"]!;
  return Number(m[1]) * mult;
}

/** commander's option parser for a repeatable flag (`-f a -f b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Columns padded to the widest cell, three spaces apart, no trailing blanks (rollout history, db backups). */
export function columns(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("   ").trimEnd()).join("\n");
}

/** 45s, 3m, 5h, 2d: kubectl's AGE, coarse on purpose (a time in the future counts as 0s). */
export function age(since: string | undefined, now = Date.now()): string {
  const t = since ? Date.parse(since) : NaN;
  if (Number.isNaN(t)) return "<unknown>";
  return span(Math.max(0, Math.floor((now - t) / 1000)));
}

/** A number of seconds in age()'s units. */
export function span(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

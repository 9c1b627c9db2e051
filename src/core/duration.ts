/** Kubernetes-style durations in specs: `250ms`, `10s`, `5m`, `1h`; anything else gives the fallback. */
export function parseDurationMs(text: string | undefined, fallbackMs: number): number {
  if (!text) return fallbackMs;
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!m) return fallbackMs;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
}

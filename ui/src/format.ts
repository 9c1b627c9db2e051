import type { Condition, Obj } from "./api.js";

export function age(ts: string | undefined, now = Date.now()): string {
  if (!ts) return "";
  const s = Math.max(0, Math.floor((now - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export const conditions = (o: Obj): Condition[] => (Array.isArray(o.status?.conditions) ? o.status.conditions : []);

export function ready(o: Obj): string {
  return conditions(o).find((c) => c.type === "Ready")?.status ?? "Unknown";
}

/** The condition to explain an object by: the first one that is not True (Ready first). */
export function topProblem(o: Obj): Condition | undefined {
  const cs = conditions(o).filter((c) => c.status !== "True");
  return cs.find((c) => c.type === "Ready") ?? cs[0];
}

export type Health = "running" | "stopped" | "failed" | "pending";

/** An Application's (or any object's) state for counting: by phase, else by Ready. */
export function health(o: Obj): Health {
  const phase = String(o.status?.phase ?? "").toLowerCase();
  if (phase === "failed" || phase === "error") return "failed";
  if (phase === "stopped" || o.spec?.replicas === 0) return "stopped";
  if (phase === "running" || phase === "ready" || ready(o) === "True") return "running";
  return "pending";
}

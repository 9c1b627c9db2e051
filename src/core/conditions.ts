/** A Kubernetes status condition (metav1.Condition). */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  /** The generation the condition was computed from. */
  observedGeneration?: number;
}

export type ConditionInput = Omit<Condition, "lastTransitionTime">;

const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * Sets a condition, keeping lastTransitionTime when the status did not change, so a status
 * write with nothing new is a no-op in the store.
 */
export function setCondition(existing: readonly Condition[] | undefined, next: ConditionInput, at = now()): Condition[] {
  const list = [...(existing ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const lastTransitionTime = prev && prev.status === next.status ? prev.lastTransitionTime : at;
  const cond: Condition = { type: next.type, status: next.status, reason: next.reason, message: next.message, lastTransitionTime, ...(next.observedGeneration !== undefined ? { observedGeneration: next.observedGeneration } : {}) };
  if (i >= 0) list[i] = cond;
  else list.push(cond);
  return list;
}

export function removeCondition(existing: readonly Condition[] | undefined, type: string): Condition[] {
  return (existing ?? []).filter((c) => c.type !== type);
}

export function getCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

export function isTrue(list: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(list, type)?.status === "True";
}

export function conditionsOf(status: Record<string, unknown> | undefined): Condition[] {
  const c = status?.conditions;
  return Array.isArray(c) ? (c as Condition[]) : [];
}

/**
 * The status right after a spec change, before any controller saw the new generation: Ready can
 * no longer be True (the change has not converged), and Reconciling says why (kstatus). Written
 * by the store in the same transaction as the spec, so a client waiting on Ready=True — even by
 * a plain jsonpath — never returns before the new generation is reconciled.
 */
export function statusForNewGeneration(status: Record<string, unknown> | undefined, generation: number): Record<string, unknown> {
  const conditions = conditionsOf(status);
  if (!conditions.length) return status ?? {};
  const observed = typeof status?.observedGeneration === "number" ? status.observedGeneration : undefined;
  const message = `generation ${generation} is not reconciled yet${observed !== undefined ? ` (status is of generation ${observed})` : ""}`;
  let next = conditions;
  const ready = getCondition(conditions, "Ready");
  if (ready) next = setCondition(next, { type: "Ready", status: "Unknown", reason: "Reconciling", message, ...(ready.observedGeneration !== undefined ? { observedGeneration: ready.observedGeneration } : {}) });
  next = setCondition(next, { type: "Reconciling", status: "True", reason: "NewGeneration", message, ...(observed !== undefined ? { observedGeneration: observed } : {}) });
  return { ...status, conditions: next };
}

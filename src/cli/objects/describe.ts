import YAML from "yaml";
import type { BerthClient } from "../shared/client.js";
import type { Io } from "../shared/io.js";
import { kindOrThrow, notFound } from "./resources.js";

type Obj = Record<string, any>;

/** Who the object is: the lines that do not change as it is reconciled. */
function identityLines(obj: Obj): string[] {
  const m = obj.metadata;
  return [
    `Name:         ${m.name}`,
    ...(m.namespace ? [`Namespace:    ${m.namespace}`] : []),
    `Kind:         ${obj.kind}`,
    `Labels:       ${Object.entries(m.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(", ") || "<none>"}`,
    `Annotations:  ${Object.keys(m.annotations ?? {}).join(", ") || "<none>"}`,
    `UID:          ${m.uid}`,
  ];
}

/** Where it is in its life: generation seen by the controller, deletion, phase. */
function lifecycleLines(obj: Obj): string[] {
  const m = obj.metadata;
  return [
    `Generation:   ${m.generation}   Observed: ${obj.status?.observedGeneration ?? "<none>"}`,
    `Created:      ${m.creationTimestamp}`,
    ...(m.deletionTimestamp ? [`Deleting:     since ${m.deletionTimestamp} (finalizers: ${(m.finalizers ?? []).join(", ")})`] : []),
    `Phase:        ${obj.status?.phase ?? "<none>"}`,
  ];
}

function conditionLines(conditions: { type: string; status: string; reason?: string; message?: string }[] | undefined): string[] {
  if (!conditions?.length) return ["  <none>"];
  return conditions.map((c) => `  ${c.type.padEnd(12)} ${c.status.padEnd(7)} ${(c.reason ?? "").padEnd(24)} ${c.message ?? ""}`);
}

function eventLines(events: Obj[]): string[] {
  if (!events.length) return ["  <none>"];
  return events.map((e) => `  ${String(e.type).padEnd(8)} ${String(e.reason).padEnd(24)} ${e.count > 1 ? `(x${e.count}) ` : ""}${e.message}`);
}

export async function describeCommand(client: BerthClient, args: { kind: string; name: string; namespace?: string }, io: Io): Promise<void> {
  const kind = kindOrThrow(args.kind);
  const obj = await client.get(kind, args.namespace, args.name);
  if (!obj) throw notFound(kind, args.name);
  const lines = [
    ...identityLines(obj),
    ...lifecycleLines(obj),
    "Spec:",
    ...YAML.stringify(obj.spec ?? {}).trimEnd().split("\n").map((l) => "  " + l),
    "Conditions:",
    ...conditionLines(obj.status?.conditions),
    "Events:",
    ...eventLines(await client.events(obj.metadata.namespace, obj.metadata.uid)),
  ];
  io.out(lines.join("\n"));
}

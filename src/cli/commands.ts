import { createTwoFilesPatch } from "diff";
import YAML from "yaml";
import { findKind, KINDS, type KindInfo } from "../core/kinds.js";
import { ApiCallError, BerthClient } from "./client.js";
import { loadManifests, ManifestError, sortForApply, sortForDelete, type ManifestDoc } from "./manifest.js";
import { printTable, type Table } from "./output.js";

/** What the user asked could not be done: exit 1 with this message (exit 2 is for usage). */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  readStdin: () => Promise<string>;
}

function resourceName(kind: KindInfo): string {
  return `${kind.singular}.berth.dev`;
}

/** Maps a server error about batch item N back to the manifest's file:line and field. */
function explainBatchError(e: ApiCallError, docs: ManifestDoc[]): string {
  const causes = e.status.details?.causes ?? [];
  const lines = causes.map((c) => {
    const m = /^items\[(\d+)\]\.?(.*)$/.exec(c.field ?? "");
    const doc = m ? docs[Number(m[1])] : undefined;
    if (!doc) return `error: ${c.field ?? ""}: ${c.message ?? e.message}`;
    const field = m![2];
    return `${doc.file}:${doc.lineOf(field)}: ${field ? field + ": " : ""}${stripIndexPrefix(c.message ?? e.message)}`;
  });
  return lines.length ? lines.join("\n") : `error: ${e.message}`;
}

function stripIndexPrefix(message: string): string {
  return message.replace(/^items\[\d+\]: /, "");
}

async function load(files: string[], io: Io): Promise<ManifestDoc[]> {
  try {
    return await loadManifests(files, io.readStdin);
  } catch (e) {
    if (e instanceof ManifestError) throw new CommandError(e.message);
    throw e;
  }
}

/** Applies manifests; returns what was applied so `--wait` can follow it. */
export interface Applied {
  kind: KindInfo;
  namespace?: string;
  name: string;
}

export async function applyCommand(client: BerthClient, files: string[], opts: { dryRun?: boolean; prune?: boolean }, io: Io): Promise<{ applied: Applied[]; pruned: Applied[] }> {
  const docs = sortForApply(
    await load(files, io).catch((e: unknown) => {
      throw e instanceof CommandError ? new CommandError(`${e.message}\nnothing was applied`, e.exitCode) : e;
    }),
  );
  if (docs.length === 0) throw new CommandError("error: no objects passed to apply");
  let result;
  try {
    result = await client.applyBatch(docs.map((d) => d.object), !!opts.dryRun, !!opts.prune);
  } catch (e) {
    if (e instanceof ApiCallError) throw new CommandError(explainBatchError(e, docs) + "\nnothing was applied");
    throw e;
  }
  const counts: Record<string, number> = {};
  for (const [i, item] of result.items.entries()) {
    counts[item.action] = (counts[item.action] ?? 0) + 1;
    io.out(`${resourceName(docs[i].kind)}/${item.object.metadata.name} ${item.action}${opts.dryRun ? " (dry run)" : ""}`);
  }
  const pruned: Applied[] = [];
  for (const o of result.pruned ?? []) {
    const kind = findKind(o.kind)!;
    pruned.push({ kind, namespace: o.metadata.namespace, name: o.metadata.name });
    io.out(`${resourceName(kind)}/${o.metadata.name} pruned${opts.dryRun ? " (dry run)" : ""}`);
  }
  if (pruned.length) counts.pruned = pruned.length;
  io.err(`${docs.length} object(s): ${Object.entries(counts).map(([a, n]) => `${n} ${a}`).join(", ")}${opts.dryRun ? " (dry run, nothing stored)" : ""}`);
  return { applied: result.items.map((item, i) => ({ kind: docs[i].kind, namespace: item.object.metadata.namespace, name: item.object.metadata.name })), pruned };
}

/** The parts of an object a manifest decides; server-owned fields would make every diff noisy. */
function comparable(obj: Record<string, any> | undefined): Record<string, unknown> | undefined {
  if (!obj) return undefined;
  const m = obj.metadata ?? {};
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: { name: m.name, ...(m.namespace ? { namespace: m.namespace } : {}), ...(m.labels ? { labels: m.labels } : {}), ...(m.annotations ? { annotations: m.annotations } : {}) },
    spec: obj.spec,
  };
}

/** Like kubectl diff: exit 0 when nothing would change, 1 when something would. */
export async function diffCommand(client: BerthClient, files: string[], io: Io, opts: { prune?: boolean } = {}): Promise<number> {
  const docs = sortForApply(await load(files, io));
  let result;
  try {
    result = await client.applyBatch(docs.map((d) => d.object), true, !!opts.prune);
  } catch (e) {
    if (e instanceof ApiCallError) throw new CommandError(explainBatchError(e, docs), 2);
    throw e;
  }
  let changed = 0;
  for (const [i, item] of result.items.entries()) {
    if (item.action === "unchanged") continue;
    const d = docs[i];
    const live = item.action === "created" ? undefined : await client.get(d.kind, d.object.metadata ? (d.object.metadata as any).namespace : undefined, item.object.metadata.name);
    const before = live ? YAML.stringify(comparable(live)) : "";
    const after = YAML.stringify(comparable(item.object));
    if (before === after) continue;
    changed++;
    const label = `${d.kind.plural}.berth.dev/${item.object.metadata.namespace ? item.object.metadata.namespace + "/" : ""}${item.object.metadata.name}`;
    io.out(createTwoFilesPatch(`live/${label}`, `merged/${label}`, before, after, "", "", { context: 3 }).replace(/^=+\n/, ""));
  }
  // With --prune, what apply --prune would delete shows as removed entirely.
  for (const o of result.pruned ?? []) {
    changed++;
    const kind = findKind(o.kind)!;
    const live = await client.get(kind, o.metadata.namespace, o.metadata.name);
    const label = `${kind.plural}.berth.dev/${o.metadata.namespace}/${o.metadata.name}`;
    io.out(createTwoFilesPatch(`live/${label}`, `merged/${label}`, YAML.stringify(comparable(live ?? o)), "", "", "", { context: 3 }).replace(/^=+\n/, ""));
  }
  return changed > 0 ? 1 : 0;
}

function kindOrThrow(name: string): KindInfo {
  const kind = findKind(name);
  if (!kind) throw new CommandError(`error: the server doesn't have a resource type "${name}" (known: ${KINDS.map((k) => k.plural).join(", ")})`);
  return kind;
}

export interface GetOptions {
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
  selector?: string;
}

export async function getCommand(client: BerthClient, kindName: string, name: string | undefined, opts: GetOptions, io: Io): Promise<void> {
  const kind = kindOrThrow(kindName);
  const ns = kind.namespaced && !opts.allNamespaces ? (opts.namespace ?? "default") : undefined;
  if (kind.namespaced && !opts.allNamespaces && !opts.namespace) {
    throw new CommandError(`error: ${kind.plural} live in a Project: pass -n PROJECT or -A`, 2);
  }
  const output = opts.output ?? "";
  if (output === "yaml" || output === "json") {
    let data: unknown;
    if (name) {
      data = await client.get(kind, ns, name);
      if (!data) throw new CommandError(`Error from server (NotFound): ${kind.plural}.berth.dev "${name}" not found`);
    } else {
      data = { apiVersion: "v1", kind: "List", items: await client.list(kind, ns, opts.selector) };
    }
    io.out(output === "json" ? JSON.stringify(data, null, 2) : YAML.stringify(data).trimEnd());
    return;
  }
  if (output && output !== "wide") throw new CommandError(`error: unknown output format "${output}" (use wide, yaml or json)`, 2);
  const base = BerthClient.itemPath(kind, ns, name);
  const q = !name && opts.selector ? `?labelSelector=${encodeURIComponent(opts.selector)}` : "";
  let table: Table;
  try {
    table = await client.request<Table>("GET", base + q, undefined, undefined, "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
  } catch (e) {
    if (e instanceof ApiCallError) throw new CommandError(`Error from server (${e.status.reason ?? e.code}): ${e.message}`);
    throw e;
  }
  if (table.rows.length === 0) {
    io.err(ns ? `No resources found in ${ns} namespace.` : "No resources found");
    return;
  }
  io.out(printTable(table, { wide: output === "wide", withNamespace: kind.namespaced && !!opts.allNamespaces }));
}

export async function describeCommand(client: BerthClient, kindName: string, name: string, namespace: string | undefined, io: Io): Promise<void> {
  const kind = kindOrThrow(kindName);
  const obj = await client.get(kind, namespace, name);
  if (!obj) throw new CommandError(`Error from server (NotFound): ${kind.plural}.berth.dev "${name}" not found`);
  const m = obj.metadata;
  const lines = [
    `Name:         ${m.name}`,
    ...(m.namespace ? [`Namespace:    ${m.namespace}`] : []),
    `Kind:         ${obj.kind}`,
    `Labels:       ${Object.entries(m.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(", ") || "<none>"}`,
    `Annotations:  ${Object.keys(m.annotations ?? {}).join(", ") || "<none>"}`,
    `UID:          ${m.uid}`,
    `Generation:   ${m.generation}   Observed: ${obj.status?.observedGeneration ?? "<none>"}`,
    `Created:      ${m.creationTimestamp}`,
    ...(m.deletionTimestamp ? [`Deleting:     since ${m.deletionTimestamp} (finalizers: ${(m.finalizers ?? []).join(", ")})`] : []),
    `Phase:        ${obj.status?.phase ?? "<none>"}`,
    "Spec:",
    ...YAML.stringify(obj.spec ?? {}).trimEnd().split("\n").map((l) => "  " + l),
    "Conditions:",
    ...conditionLines(obj.status?.conditions),
    "Events:",
    ...eventLines(await client.events(m.namespace, m.uid)),
  ];
  io.out(lines.join("\n"));
}

function conditionLines(conditions: { type: string; status: string; reason?: string; message?: string }[] | undefined): string[] {
  if (!conditions?.length) return ["  <none>"];
  return conditions.map((c) => `  ${c.type.padEnd(12)} ${c.status.padEnd(7)} ${(c.reason ?? "").padEnd(24)} ${c.message ?? ""}`);
}

function eventLines(events: Record<string, any>[]): string[] {
  if (!events.length) return ["  <none>"];
  return events.map((e) => `  ${String(e.type).padEnd(8)} ${String(e.reason).padEnd(24)} ${e.count > 1 ? `(x${e.count}) ` : ""}${e.message}`);
}

export async function deleteCommand(client: BerthClient, args: { kind?: string; name?: string; files?: string[]; namespace?: string; wait?: boolean; timeoutMs: number }, io: Io): Promise<void> {
  const targets: { kind: KindInfo; namespace?: string; name: string }[] = [];
  if (args.files?.length) {
    for (const d of sortForDelete(await load(args.files, io))) {
      const md = d.object.metadata as { name: string; namespace?: string };
      targets.push({ kind: d.kind, namespace: md.namespace, name: md.name });
    }
  } else {
    if (!args.kind || !args.name) throw new CommandError("error: give KIND NAME or -f PATH", 2);
    const kind = kindOrThrow(args.kind);
    if (kind.namespaced && !args.namespace) throw new CommandError(`error: ${kind.plural} live in a Project: pass -n PROJECT`, 2);
    targets.push({ kind, namespace: args.namespace, name: args.name });
  }
  let failed = 0;
  for (const t of targets) {
    try {
      await client.delete(t.kind, t.namespace, t.name);
      io.out(`${resourceName(t.kind)} "${t.name}" deleted`);
      if (args.wait) await waitGone(client, t, args.timeoutMs, io);
    } catch (e) {
      failed++;
      if (e instanceof ApiCallError) io.err(`Error from server (${e.status.reason ?? e.code}): ${e.message}`);
      else io.err(`error: ${(e as Error).message}`);
    }
  }
  if (failed) throw new CommandError(`${failed} of ${targets.length} object(s) could not be deleted`);
}

async function waitGone(client: BerthClient, t: { kind: KindInfo; namespace?: string; name: string }, timeoutMs: number, io: Io): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    const obj = await client.get(t.kind, t.namespace, t.name);
    if (!obj) return;
    if (!announced) {
      io.err(`waiting for ${resourceName(t.kind)}/${t.name}: finalizers ${(obj.metadata.finalizers ?? []).join(", ") || "<none>"}`);
      announced = true;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${resourceName(t.kind)}/${t.name} to be deleted`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

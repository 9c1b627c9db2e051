import type { ResourceObject } from "../core/types.js";
import { crdFor } from "../schema/crds.js";

/** A CRD additionalPrinterColumns entry: the CRDs in crds/ decide what `kubectl get` shows. */
interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

export function humanAge(iso: string | undefined, now = Date.now()): string {
  if (!iso) return "<unknown>";
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ""}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/**
 * The subset of JSONPath that printer columns use: `.a.b`, `.a[0]`, `.a[*].b` and
 * `.a[?(@.type=="Ready")].status`.
 */
export function evalJsonPath(obj: unknown, path: string): unknown {
  const tokens = path.replace(/^\{?\.?/, "").replace(/\}$/, "").match(/[^.[\]]+|\[[^\]]*\]/g) ?? [];
  let current: unknown[] = [obj];
  for (const t of tokens) current = current.filter((c) => c !== null && c !== undefined).flatMap((c) => step(c, t));
  const vals = current.filter((v) => v !== undefined && v !== null);
  if (vals.length === 0) return undefined;
  return vals.length === 1 ? vals[0] : vals.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(",");
}

/** One path token applied to one value: the values it leads to. */
function step(c: unknown, t: string): unknown[] {
  if (t.startsWith("[?(")) {
    const m = /^\[\?\(@\.([\w.]+)\s*==\s*["']?([^"')]*)["']?\)\]$/.exec(t);
    return m && Array.isArray(c) ? c.filter((e) => String(evalJsonPath(e, "." + m[1])) === m[2]) : [];
  }
  if (t === "[*]") return Array.isArray(c) ? c : [];
  if (t.startsWith("[")) return Array.isArray(c) ? [c[Number(t.slice(1, -1))]] : [];
  return typeof c === "object" ? [(c as Record<string, unknown>)[t]] : [];
}

function columnsFor(kind: string): PrinterColumn[] {
  const crd = crdFor(kind) as { spec: { versions: { additionalPrinterColumns?: PrinterColumn[] }[] } };
  return crd.spec.versions[0].additionalPrinterColumns ?? [];
}

function cell(col: PrinterColumn, obj: ResourceObject): unknown {
  const v = evalJsonPath(obj, col.jsonPath);
  if (col.type === "date") return humanAge(typeof v === "string" ? v : undefined);
  if (v === undefined) return col.type === "integer" || col.type === "number" ? null : "";
  if (typeof v === "object") return JSON.stringify(v);
  return v;
}

/** PartialObjectMetadata, which kubectl needs for the NAMESPACE column and --show-labels. */
function partialMetadata(obj: { metadata?: unknown }): Record<string, unknown> {
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: obj.metadata };
}

/** A row's `object` as `includeObject` asks: the whole object (kubectl's --sort-by), none, or its metadata. */
function rowObject(obj: { metadata?: unknown }, includeObject = "Metadata"): unknown {
  if (includeObject === "Object") return obj;
  return includeObject === "None" ? undefined : partialMetadata(obj);
}

export function toTable(kind: string, items: ResourceObject[], resourceVersion?: string, includeObject = "Metadata"): Record<string, unknown> {
  const cols = columnsFor(kind);
  const hasAge = cols.some((c) => c.jsonPath === ".metadata.creationTimestamp");
  const defs = [
    { name: "Name", type: "string", format: "name", description: "Name must be unique within a namespace.", priority: 0 },
    ...cols.map((c) => ({ name: c.name, type: c.type, format: c.format ?? "", description: c.description ?? "", priority: c.priority ?? 0 })),
    ...(hasAge ? [] : [{ name: "Age", type: "date", format: "", description: "Time since creation", priority: 0 }]),
  ];
  const rows = items.map((o) => ({
    cells: [o.metadata.name, ...cols.map((c) => cell(c, o)), ...(hasAge ? [] : [humanAge(o.metadata.creationTimestamp)])],
    object: rowObject(o, includeObject),
  }));
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion: resourceVersion ?? "" },
    columnDefinitions: defs,
    rows,
  };
}

/** `kubectl get namespaces` as a real cluster prints it: NAME, STATUS (Active or Terminating), AGE. */
export function namespaceTable(namespaces: Record<string, any>[], resourceVersion?: string, includeObject?: string): Record<string, unknown> {
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion: resourceVersion ?? "" },
    columnDefinitions: [
      { name: "Name", type: "string", format: "name", description: "Name of the Project.", priority: 0 },
      { name: "Status", type: "string", format: "", description: "Active, or Terminating once deleted.", priority: 0 },
      { name: "Age", type: "date", format: "", description: "Time since creation", priority: 0 },
    ],
    rows: namespaces.map((n) => ({
      cells: [n.metadata.name, n.status.phase, humanAge(n.metadata.creationTimestamp)],
      object: rowObject(n, includeObject),
    })),
  };
}

/** `kubectl get events` as a real cluster prints it: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE. */
export function eventTable(events: Record<string, any>[], resourceVersion = "0", includeObject?: string): Record<string, unknown> {
  const col = (name: string, description: string, priority = 0, type = "string"): Record<string, unknown> => ({ name, type, format: "", description, priority });
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion },
    columnDefinitions: [
      col("Last Seen", "Time since the event was last seen."),
      col("Type", "Normal or Warning."),
      col("Reason", "Why the event happened, in CamelCase."),
      col("Object", "The object the event is about."),
      col("Message", "What happened."),
      col("Source", "The component that recorded the event.", 1),
      col("First Seen", "Time since the event was first seen.", 1),
      col("Count", "How often the event happened.", 1, "integer"),
      col("Name", "Name of the event.", 1),
    ],
    rows: events.map((e) => ({
      cells: [
        humanAge(e.lastTimestamp),
        e.type,
        e.reason,
        `${String(e.involvedObject?.kind ?? "").toLowerCase()}/${e.involvedObject?.name ?? ""}`,
        e.message,
        e.source?.component ?? "",
        humanAge(e.firstTimestamp),
        e.count ?? 1,
        e.metadata.name,
      ],
      object: rowObject(e, includeObject),
    })),
  };
}

/** `kubectl get services` on a server that has none: the columns a cluster prints, no rows. */
export function serviceTable(resourceVersion = "0"): Record<string, unknown> {
  const col = (name: string, description: string, type = "string"): Record<string, unknown> => ({ name, type, format: name === "Name" ? "name" : "", description, priority: 0 });
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion },
    columnDefinitions: [col("Name", "Name of the Service."), col("Type", "How the Service is exposed."), col("Cluster-IP", "The Service's IP."), col("External-IP", "External addresses."), col("Port(s)", "Ports."), col("Age", "Time since creation", "date")],
    rows: [],
  };
}

export function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept);
}

import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { clusterConnection, material, parseKubeconfig, type Connection, type Entry } from "./kubeconfig-file.js";

/**
 * Writing kubeconfigs (`berth login`, `berth kubeconfig --user`): a user entry with a token, a
 * context naming it, the current context switched. Everything else in the file is kept as it
 * was; a file `berth serve` wrote as JSON stays JSON (the CLI reads it without a YAML parser),
 * any other is written back as YAML. Always mode 0600: the file holds a bearer token.
 */
export interface KubeconfigDoc {
  file: string;
  doc: Entry;
  json: boolean;
}

export interface NamedCluster {
  name: string;
  cluster: Entry;
}

function list(doc: Entry, key: "clusters" | "users" | "contexts"): Entry[] {
  if (!Array.isArray(doc[key])) doc[key] = [];
  return doc[key] as Entry[];
}

/** The kubeconfig at `file`, or an empty one when there is none yet. */
export async function loadKubeconfig(file: string): Promise<KubeconfigDoc> {
  if (!existsSync(file)) return { file, doc: { apiVersion: "v1", kind: "Config", clusters: [], users: [], contexts: [], "current-context": "", preferences: {} }, json: true };
  const text = readFileSync(file, "utf8");
  try {
    return { file, doc: await parseKubeconfig(text), json: text.trimStart().startsWith("{") };
  } catch (e) {
    throw new Error(`kubeconfig ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** The cluster of the current context, or undefined when there is no current context. */
export function currentCluster(k: KubeconfigDoc): NamedCluster | undefined {
  const ctxName = k.doc["current-context"];
  if (typeof ctxName !== "string" || !ctxName) return undefined;
  const ctx = list(k.doc, "contexts").find((c) => c?.name === ctxName)?.context as Entry | undefined;
  if (!ctx) throw new Error(`kubeconfig ${k.file}: contexts: no entry named "${ctxName}"`);
  return clusterNamed(k, String(ctx.cluster));
}

export function clusterNamed(k: KubeconfigDoc, name: string): NamedCluster {
  const cluster = list(k.doc, "clusters").find((c) => c?.name === name)?.cluster as Entry | undefined;
  if (!cluster) throw new Error(`kubeconfig ${k.file}: clusters: no entry named "${name}"`);
  return { name, cluster };
}

/** The cluster entry whose server is `server`, if the file has one. */
export function clusterWithServer(k: KubeconfigDoc, server: string): NamedCluster | undefined {
  const found = list(k.doc, "clusters").find((c) => (c?.cluster as Entry | undefined)?.server === server);
  return found ? { name: String(found.name), cluster: found.cluster as Entry } : undefined;
}

/** Server and TLS settings of a cluster entry, to talk to it without any credential. */
export function connectionTo(k: KubeconfigDoc, c: NamedCluster): Connection {
  return clusterConnection(k.file, c.name, c.cluster);
}

function upsert(items: Entry[], name: string, field: string, value: Entry): void {
  const i = items.findIndex((e) => e?.name === name);
  if (i >= 0) items[i] = { name, [field]: value };
  else items.push({ name, [field]: value });
}

export function setCluster(k: KubeconfigDoc, c: NamedCluster): void {
  upsert(list(k.doc, "clusters"), c.name, "cluster", c.cluster);
}

/** A user entry `name` holding `token`, a context `name` of it on `cluster`, made current. */
export function setTokenContext(k: KubeconfigDoc, name: string, cluster: string, token: string): void {
  upsert(list(k.doc, "users"), name, "user", { token });
  upsert(list(k.doc, "contexts"), name, "context", { cluster, user: name });
  k.doc["current-context"] = name;
}

/** The cluster entry with its CA inline, for a kubeconfig that must stand on its own. */
export function selfContained(k: KubeconfigDoc, c: NamedCluster): NamedCluster {
  const cluster: Entry = { ...c.cluster };
  const ca = material(k.file, cluster, "certificate-authority");
  delete cluster["certificate-authority"];
  if (ca) cluster["certificate-authority-data"] = ca.toString("base64");
  return { name: c.name, cluster };
}

/** The document's text: indented JSON (which is YAML) or YAML, as it was read. */
export async function kubeconfigText(k: KubeconfigDoc): Promise<string> {
  if (k.json) return `${JSON.stringify(k.doc, null, 2)}\n`;
  const { stringify } = await import("yaml");
  return stringify(k.doc);
}

/** Writes `text` to `file` with mode 0600 through a temporary file, so no reader sees half of it. */
export function writePrivate(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export async function saveKubeconfig(k: KubeconfigDoc): Promise<void> {
  writePrivate(k.file, await kubeconfigText(k));
}

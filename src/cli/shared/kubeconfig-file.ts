import { readFileSync } from "node:fs";
import path from "node:path";

/**
 * What a request needs from a kubeconfig: the server and the TLS and bearer settings of the
 * current context. Read with the `yaml` library instead of @kubernetes/client-node, whose
 * loading alone cost the CLI over a second per command (docs/adr/0014-compiled-cli-and-footprint.md).
 */
export interface Connection {
  server: string;
  ca?: Buffer;
  insecure: boolean;
  servername?: string;
  token?: string;
  cert?: Buffer;
  key?: Buffer;
}

export type Entry = Record<string, unknown>;

/** A clear error naming the kubeconfig and the field, as every other bad input gets. */
function fail(file: string, what: string): never {
  throw new Error(`kubeconfig ${file}: ${what}`);
}

/** The `field` of the entry called `name` in the kubeconfig's list `list` ("clusters" → "cluster"). */
function named(file: string, doc: Entry, list: "contexts" | "clusters" | "users", name: string): Entry {
  const items = Array.isArray(doc[list]) ? (doc[list] as Entry[]) : [];
  const found = items.find((i) => i?.name === name)?.[list.slice(0, -1)];
  if (!found || typeof found !== "object") fail(file, `${list}: no entry named "${name}"`);
  return found as Entry;
}

/** Inline base64 data wins over a file path (relative to the kubeconfig), as in kubectl. */
export function material(file: string, entry: Entry, field: string): Buffer | undefined {
  const data = entry[`${field}-data`];
  if (typeof data === "string") return Buffer.from(data, "base64");
  const ref = entry[field];
  if (typeof ref !== "string") return undefined;
  return readFileSync(path.resolve(path.dirname(file), ref));
}

function bearer(file: string, user: Entry): string | undefined {
  if (user.exec || user["auth-provider"]) fail(file, `users: exec and auth-provider credentials are not supported by berth; use a token`);
  if (typeof user.token === "string") return user.token;
  if (typeof user.tokenFile === "string") return readFileSync(path.resolve(path.dirname(file), user.tokenFile), "utf8").trim();
  return undefined;
}

/**
 * JSON is YAML, and `berth serve` writes its kubeconfig as JSON, so that file is read without
 * loading a YAML parser (a quarter of a short command's time); any other kubeconfig, e.g.
 * one kubectl rewrote, goes through the yaml library.
 */
export async function parseKubeconfig(text: string): Promise<Entry> {
  if (text.trimStart().startsWith("{")) {
    try {
      return JSON.parse(text) as Entry;
    } catch {
      // not JSON after all: flow-style YAML, which the YAML parser reads
    }
  }
  const { parse } = await import("yaml");
  return (parse(text) ?? {}) as Entry;
}

/** The server and TLS settings of one cluster entry (no credentials). */
export function clusterConnection(file: string, name: string, cluster: Entry): Connection {
  if (typeof cluster.server !== "string") fail(file, `clusters[${name}].server is not set`);
  return {
    server: cluster.server,
    ca: material(file, cluster, "certificate-authority"),
    insecure: cluster["insecure-skip-tls-verify"] === true,
    servername: typeof cluster["tls-server-name"] === "string" ? cluster["tls-server-name"] : undefined,
  };
}

/** The connection of the kubeconfig's current context (or `context`, when given). */
export async function readConnection(file: string, context?: string): Promise<Connection> {
  let doc: Entry;
  try {
    doc = await parseKubeconfig(readFileSync(file, "utf8"));
  } catch (e) {
    fail(file, (e as Error).message);
  }
  const ctxName = context ?? doc["current-context"];
  if (typeof ctxName !== "string" || !ctxName) fail(file, "current-context is not set");
  const ctx = named(file, doc, "contexts", ctxName);
  const cluster = named(file, doc, "clusters", String(ctx.cluster));
  const user = ctx.user === undefined ? {} : named(file, doc, "users", String(ctx.user));
  return {
    ...clusterConnection(file, String(ctx.cluster), cluster),
    token: bearer(file, user),
    cert: material(file, user, "client-certificate"),
    key: material(file, user, "client-key"),
  };
}

import type { KindInfo } from "../../core/kinds.js";
import { BerthClient } from "../shared/client.js";
import { CommandError, EXIT_USAGE, serverError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";
import { kindOrThrow, notFound } from "./resources.js";
import { printTable, type Table } from "./table.js";

/** `berth get KIND [NAME]` and its flags. */
export interface GetArgs {
  kind: string;
  name?: string;
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
  selector?: string;
}

/** What to read: one object, or a list (in one namespace or all) narrowed by a selector. */
interface Query {
  kind: KindInfo;
  namespace?: string;
  name?: string;
  selector?: string;
}

/** The server renders the columns (the CRDs' printer columns), as for kubectl; plain JSON if it cannot. */
const TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

/** undefined reads every namespace; a namespaced kind without -n or -A is a usage error, not "default". */
function namespaceFor(kind: KindInfo, args: GetArgs): string | undefined {
  if (!kind.namespaced || args.allNamespaces) return undefined;
  if (!args.namespace) throw new CommandError(`error: ${kind.plural} live in a Project: pass -n PROJECT or -A`, EXIT_USAGE);
  return args.namespace;
}

/** -o yaml|json: the object itself, or a `kind: List` that `berth apply` takes back. */
async function fetchObjects(client: BerthClient, q: Query): Promise<unknown> {
  if (!q.name) return { apiVersion: "v1", kind: "List", items: await client.list(q.kind, q.namespace, q.selector) };
  const obj = await client.get(q.kind, q.namespace, q.name);
  if (!obj) throw notFound(q.kind, q.name);
  return obj;
}

async function fetchTable(client: BerthClient, q: Query): Promise<Table> {
  const selector = !q.name && q.selector ? `?labelSelector=${encodeURIComponent(q.selector)}` : "";
  return client.request<Table>("GET", BerthClient.itemPath(q.kind, q.namespace, q.name) + selector, { accept: TABLE_ACCEPT }).catch(serverError);
}

export async function getCommand(client: BerthClient, args: GetArgs, io: Io): Promise<void> {
  const kind = kindOrThrow(args.kind);
  const q: Query = { kind, namespace: namespaceFor(kind, args), name: args.name, selector: args.selector };
  const output = args.output ?? "";
  if (output === "yaml" || output === "json") {
    const data = await fetchObjects(client, q);
    // yaml is loaded only for -o yaml: the table path should not pay for a YAML library.
    io.out(output === "json" ? JSON.stringify(data, null, 2) : (await import("yaml")).default.stringify(data).trimEnd());
    return;
  }
  if (output && output !== "wide") throw new CommandError(`error: unknown output format "${output}" (use wide, yaml or json)`, EXIT_USAGE);
  const table = await fetchTable(client, q);
  if (table.rows.length === 0) {
    io.err(q.namespace ? `No resources found in ${q.namespace} namespace.` : "No resources found");
    return;
  }
  io.out(printTable(table, { wide: output === "wide", withNamespace: kind.namespaced && !!args.allNamespaces }));
}

import { createTwoFilesPatch } from "diff";
import YAML from "yaml";
import { findKind } from "../../core/kinds.js";
import type { BerthClient } from "../shared/client.js";
import { ApiCallError, CommandError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";
import { explainBatchError, loadDocs } from "./batch.js";
import { sortForApply, type ManifestDoc } from "../../schema/manifests.js";

/** kubectl diff's contract: 0 nothing would change, 1 something would, above 1 an error. */
const DIFF_CHANGED = 1;
const DIFF_ERROR = 2;

interface BatchItem {
  action: string;
  object: Record<string, any>;
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

function patch(label: string, before: string, after: string): string {
  return createTwoFilesPatch(`live/${label}`, `merged/${label}`, before, after, "", "", { context: 3 }).replace(/^=+\n/, "");
}

function manifestNamespace(doc: ManifestDoc): string | undefined {
  return doc.object.metadata ? (doc.object.metadata as any).namespace : undefined;
}

/** The patch for one object of the batch, or undefined when applying it would change nothing. */
async function itemPatch(client: BerthClient, doc: ManifestDoc, item: BatchItem): Promise<string | undefined> {
  if (item.action === "unchanged") return undefined;
  const live = item.action === "created" ? undefined : await client.get(doc.kind, manifestNamespace(doc), item.object.metadata.name);
  const before = live ? YAML.stringify(comparable(live)) : "";
  const after = YAML.stringify(comparable(item.object));
  // The server's action also counts fields comparable() leaves out; those are no change to show.
  if (before === after) return undefined;
  const ns = item.object.metadata.namespace;
  return patch(`${doc.kind.plural}.berth.dev/${ns ? ns + "/" : ""}${item.object.metadata.name}`, before, after);
}

/** With --prune, what apply --prune would delete shows as removed entirely. */
async function prunedPatch(client: BerthClient, o: Record<string, any>): Promise<string> {
  const kind = findKind(o.kind)!;
  const live = await client.get(kind, o.metadata.namespace, o.metadata.name);
  return patch(`${kind.plural}.berth.dev/${o.metadata.namespace}/${o.metadata.name}`, YAML.stringify(comparable(live ?? o)), "");
}

/** Like kubectl diff: exit 0 when nothing would change, 1 when something would. */
export async function diffCommand(client: BerthClient, files: string[], opts: { prune?: boolean }, io: Io): Promise<number> {
  const docs = sortForApply(await loadDocs(files, io));
  const result = await client.applyBatch(docs.map((d) => d.object), true, !!opts.prune).catch((e: unknown) => {
    throw e instanceof ApiCallError ? new CommandError(explainBatchError(e, docs), DIFF_ERROR) : e;
  });
  let changed = 0;
  for (const [i, item] of result.items.entries()) {
    const text = await itemPatch(client, docs[i], item);
    if (text === undefined) continue;
    changed++;
    io.out(text);
  }
  for (const o of result.pruned ?? []) {
    changed++;
    io.out(await prunedPatch(client, o));
  }
  return changed > 0 ? DIFF_CHANGED : 0;
}

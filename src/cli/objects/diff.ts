import { createTwoFilesPatch } from "diff";
import YAML from "yaml";
import { findKind, type KindInfo } from "../../core/kinds.js";
import type { BerthClient } from "../shared/client.js";
import { ApiCallError, CommandError, EXIT_USAGE, serverMessage } from "../shared/errors.js";
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

/**
 * The patch for one object of a dry-run batch (the live object against the one the dry run
 * produced), or undefined when applying it would change nothing.
 */
async function itemPatch(client: BerthClient, kind: KindInfo, namespace: string | undefined, item: BatchItem): Promise<string | undefined> {
  if (item.action === "unchanged") return undefined;
  const live = item.action === "created" ? undefined : await client.get(kind, namespace, item.object.metadata.name);
  const before = live ? YAML.stringify(comparable(live)) : "";
  const after = YAML.stringify(comparable(item.object));
  // The server's action also counts fields comparable() leaves out; those are no change to show.
  if (before === after) return undefined;
  const ns = item.object.metadata.namespace;
  return patch(`${kind.plural}.berth.dev/${ns ? ns + "/" : ""}${item.object.metadata.name}`, before, after);
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
    const text = await itemPatch(client, docs[i].kind, manifestNamespace(docs[i]), item);
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

/**
 * `berth diff --sync NAME`: what the next revision of the Sync would change, from the server's
 * dry run of exactly the batch the controller would write. Changed objects as `berth diff -f`
 * shows them, then `- prune Kind ns/name` per object the prune would delete. A revision the
 * controller would refuse (FetchFailed, ManifestInvalid, ApplyFailed) exits 2 with its message;
 * a prune guard's refusal is shown after the changes it holds back (exit 1).
 */
export async function diffSyncCommand(client: BerthClient, name: string, io: Io): Promise<number> {
  const result = await client.syncDiff(name).catch((e: unknown) => {
    throw e instanceof ApiCallError ? new CommandError(serverMessage(e), DIFF_ERROR) : e;
  });
  const at = result.revision ? ` at revision ${result.revision}` : "";
  if (result.error) throw new CommandError(`Sync ${name}${at}: ${result.error.reason}:\n${result.error.message}`, DIFF_ERROR);
  let changed = 0;
  for (const item of result.items) {
    const kind = findKind(item.object.kind);
    const text = kind ? await itemPatch(client, kind, item.object.metadata?.namespace, item) : undefined;
    if (text === undefined) continue;
    changed++;
    io.out(text);
  }
  for (const p of result.prune) {
    changed++;
    io.out(`- prune ${p.kind} ${p.namespace ?? ""}/${p.name}`);
  }
  if (result.blocked) io.err(`PruneBlocked: ${result.blocked}\n(until confirmed the controller applies nothing of this revision; the changes above are what it would do once confirmed)`);
  io.err(changed ? `Sync ${name}${at}: ${changed} change(s)` : `Sync ${name}${at}: nothing would change`);
  return changed > 0 ? DIFF_CHANGED : 0;
}

/** `berth diff`: -f FILE… or --sync NAME, exactly one. */
export async function diffFromFlags(client: BerthClient, opts: { filename?: string[]; sync?: string; prune?: boolean }, io: Io): Promise<number> {
  if (opts.filename?.length && opts.sync) throw new CommandError("error: pass -f FILE or --sync NAME, not both", EXIT_USAGE);
  if (opts.sync) {
    if (opts.prune) throw new CommandError("error: --prune goes with -f (--sync always shows the Sync's own prune)", EXIT_USAGE);
    return diffSyncCommand(client, opts.sync, io);
  }
  if (!opts.filename?.length) throw new CommandError("error: diff what? pass -f FILE or --sync NAME", EXIT_USAGE);
  return diffCommand(client, opts.filename, { prune: opts.prune }, io);
}

import { findKind } from "../../core/kinds.js";
import type { BerthClient } from "../shared/client.js";
import { parseDuration } from "../shared/common.js";
import { ApiCallError, CommandError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";
import { explainBatchError, loadDocs } from "./batch.js";
import { sortForApply } from "../../schema/manifests.js";
import { waitAndSummarize } from "./progress.js";
import { resourceName, type ObjectRef } from "./resources.js";

/** What apply stored; `--wait` follows it. */
export type Applied = ObjectRef;

export interface ApplyOptions {
  dryRun?: boolean;
  prune?: boolean;
}

/** The flags of `berth apply`, as commander parses them. */
export interface ApplyFlags extends ApplyOptions {
  filename: string[];
  wait?: boolean;
  timeout: string;
}

/** Applies manifests; returns what was applied so `--wait` can follow it. */
export async function applyCommand(client: BerthClient, files: string[], opts: ApplyOptions, io: Io): Promise<{ applied: Applied[]; pruned: Applied[] }> {
  const docs = sortForApply(
    await loadDocs(files, io).catch((e: unknown) => {
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

/** `berth apply`: store, then with --wait follow what was stored and then what was pruned. */
export async function applyAndWait(client: BerthClient, flags: ApplyFlags, io: Io): Promise<void> {
  const { applied, pruned } = await applyCommand(client, flags.filename, { dryRun: flags.dryRun, prune: flags.prune }, io);
  if (!flags.wait || flags.dryRun) return;
  // One --timeout for both waits: the prune wait gets what the apply wait left over.
  const deadline = Date.now() + parseDuration(flags.timeout);
  await waitAndSummarize(client, applied, { deleting: false, timeoutMs: deadline - Date.now(), io });
  // The applied objects may have used up the whole --timeout; the pruned ones still get a second.
  if (pruned.length) await waitAndSummarize(client, pruned, { deleting: true, timeoutMs: Math.max(1000, deadline - Date.now()), io });
}

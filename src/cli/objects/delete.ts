import type { BerthClient } from "../shared/client.js";
import { ApiCallError, CommandError, EXIT_USAGE, serverMessage } from "../shared/errors.js";
import type { Io } from "../shared/io.js";
import { loadDocs } from "./batch.js";
import { sortForDelete } from "../../schema/manifests.js";
import { kindOrThrow, resourceName, type ObjectRef } from "./resources.js";

/** `berth delete KIND NAME | -f PATH` and its flags; timeoutMs is --timeout, already parsed. */
export interface DeleteArgs {
  kind?: string;
  name?: string;
  files?: string[];
  namespace?: string;
  wait?: boolean;
  timeoutMs: number;
}

/** What to delete: every object of the manifests (dependants first), or the one named. */
async function targetsOf(args: DeleteArgs, io: Io): Promise<ObjectRef[]> {
  if (args.files?.length) {
    return sortForDelete(await loadDocs(args.files, io)).map((d) => {
      const md = d.object.metadata as { name: string; namespace?: string };
      return { kind: d.kind, namespace: md.namespace, name: md.name };
    });
  }
  if (!args.kind || !args.name) throw new CommandError("error: give KIND NAME or -f PATH", EXIT_USAGE);
  const kind = kindOrThrow(args.kind);
  if (kind.namespaced && !args.namespace) throw new CommandError(`error: ${kind.plural} live in a Project: pass -n PROJECT`, EXIT_USAGE);
  return [{ kind, namespace: args.namespace, name: args.name }];
}

async function waitGone(client: BerthClient, t: ObjectRef, timeoutMs: number, io: Io): Promise<void> {
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

/** Deletes one object; a failure is reported, not thrown, so that the rest are still deleted. */
async function deleteOne(client: BerthClient, t: ObjectRef, args: DeleteArgs, io: Io): Promise<boolean> {
  try {
    await client.delete(t.kind, t.namespace, t.name);
    io.out(`${resourceName(t.kind)} "${t.name}" deleted`);
    if (args.wait) await waitGone(client, t, args.timeoutMs, io);
    return true;
  } catch (e) {
    io.err(e instanceof ApiCallError ? serverMessage(e) : `error: ${(e as Error).message}`);
    return false;
  }
}

export async function deleteCommand(client: BerthClient, args: DeleteArgs, io: Io): Promise<void> {
  const targets = await targetsOf(args, io);
  let failed = 0;
  for (const t of targets) if (!(await deleteOne(client, t, args, io))) failed++;
  if (failed) throw new CommandError(`${failed} of ${targets.length} object(s) could not be deleted`);
}

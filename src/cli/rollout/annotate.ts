import { findKind, RECONCILE_REQUESTED } from "../../core/kinds.js";
import { BerthClient } from "../shared/client.js";
import { needNamespace } from "../shared/common.js";
import { CommandError, EXIT_USAGE, serverError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";
import { parseTarget, type TargetArgs } from "./target.js";

/**
 * Restart and reconcile are annotation writes, as `kubectl rollout restart` is: every write
 * wakes the reconciler, and a restart annotation changes the config hash, so replicas are replaced.
 * Returns the value written (a Sync copies it into status.lastHandledReconcileAt once handled).
 */
export async function annotateNow(client: BerthClient, path: string, annotation: string): Promise<string> {
  const at = new Date().toISOString();
  await client.request("PATCH", path, { body: { metadata: { annotations: { [annotation]: at } } }, contentType: "application/merge-patch+json" }).catch(serverError);
  return at;
}

export async function restartCommand(client: BerthClient, args: TargetArgs, io: Io): Promise<void> {
  const { kind, name } = parseTarget(args.target);
  await annotateNow(client, BerthClient.itemPath(kind, needNamespace(args.namespace), name), "berth.dev/restarted-at");
  io.out(`application.berth.dev/${name} restarted`);
}

/** `berth reconcile KIND NAME`: the annotation is a write, and every write wakes the reconciler. */
export async function reconcileCommand(client: BerthClient, args: { kind: string; name: string; namespace?: string }, io: Io): Promise<void> {
  const kind = findKind(args.kind);
  if (!kind) throw new CommandError(`error: unknown kind "${args.kind}"`, EXIT_USAGE);
  await annotateNow(client, BerthClient.itemPath(kind, kind.namespaced ? needNamespace(args.namespace) : undefined, args.name), RECONCILE_REQUESTED);
  io.out(`${kind.singular}.berth.dev/${args.name} reconcile requested`);
}

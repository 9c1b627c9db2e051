import type { BerthClient } from "../shared/client.js";
import { needNamespace } from "../shared/common.js";
import { CommandError } from "../shared/errors.js";
import type { WaitIo } from "../shared/io.js";
import { waitFor } from "../objects/progress.js";
import { notFound } from "../objects/resources.js";
import { parseTarget, type TargetArgs } from "./target.js";

/** Follows a rollout until it is done (exit 0) or fails (exit 1), like kubectl rollout status. */
export async function statusCommand(client: BerthClient, args: TargetArgs & { timeoutMs: number }, waitIo: WaitIo): Promise<void> {
  const { kind, name } = parseTarget(args.target);
  const namespace = needNamespace(args.namespace);
  // A typo would otherwise wait out the whole timeout on "not found yet".
  if (!(await client.get(kind, namespace, name))) throw notFound(kind, name);
  const tracked = [{ kind, namespace, name }];
  const verdicts = await waitFor(client, tracked, { deleting: false, timeoutMs: args.timeoutMs, io: waitIo });
  const v = verdicts.get(tracked[0])!;
  if (v.outcome === "failed") throw new CommandError(`error: rollout of application/${name} failed: ${v.text.replace(/^failed: /, "")}`);
  waitIo.write(`application/${name} successfully rolled out\n`);
}

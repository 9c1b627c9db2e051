import type { BerthClient } from "../shared/client.js";
import { needNamespace } from "../shared/common.js";
import { serverError } from "../shared/errors.js";
import { appPath, parseTarget, type TargetArgs } from "./target.js";

/** `berth logs` flags; since is a parsed --since in milliseconds. */
export interface LogsArgs extends TargetArgs {
  replica?: string;
  follow?: boolean;
  since?: number;
  tail?: string;
}

/** Streams container logs from the server; each line is prefixed with its container. */
export async function logsCommand(client: BerthClient, args: LogsArgs, write: (t: string) => void): Promise<void> {
  const { name } = parseTarget(args.target);
  const q = new URLSearchParams();
  if (args.replica !== undefined) q.set("replica", args.replica);
  if (args.follow) q.set("follow", "true");
  // The server takes an age in whole seconds and turns it into Docker's timestamp.
  if (args.since) q.set("since", String(Math.floor(args.since / 1000)));
  if (args.tail) q.set("tail", args.tail);
  await client.stream(`${appPath(needNamespace(args.namespace), name)}/logs?${q}`, write).catch(serverError);
}

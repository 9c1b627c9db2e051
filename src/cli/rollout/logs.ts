import type { RevisionInfo } from "../../core/records.js";
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
  /** The newest revision's build output (deployment_logs) instead of the replicas' output. */
  build?: boolean;
}

/** Streams container logs from the server; each line is prefixed with its container. */
export async function logsCommand(client: BerthClient, args: LogsArgs, write: (t: string) => void): Promise<void> {
  const { name } = parseTarget(args.target);
  if (args.build) return buildLogs(client, { namespace: needNamespace(args.namespace), name, follow: !!args.follow }, write);
  const q = new URLSearchParams();
  if (args.replica !== undefined) q.set("replica", args.replica);
  if (args.follow) q.set("follow", "true");
  // The server takes an age in whole seconds and turns it into Docker's timestamp.
  if (args.since) q.set("since", String(Math.floor(args.since / 1000)));
  if (args.tail) q.set("tail", args.tail);
  await client.stream(`${appPath(needNamespace(args.namespace), name)}/logs?${q}`, write).catch(serverError);
}

const BUILDING = new Set(["pending", "building"]);

/**
 * `berth logs --build app/NAME [-f]`: the newest revision's log (build output line by line, then
 * the rollout's steps); with -f new lines as they are stored, until the build has ended. The
 * server keeps these lines in deployment_logs; they are read every 500 ms.
 */
async function buildLogs(client: BerthClient, t: { namespace: string; name: string; follow: boolean }, write: (t: string) => void): Promise<void> {
  let shown = 0;
  for (;;) {
    const list = await client.request<{ items: RevisionInfo[] }>("GET", `${appPath(t.namespace, t.name)}/deployments?logs=true`).catch(serverError);
    const latest = list.items[list.items.length - 1];
    if (!latest) {
      write(`application ${t.name} has no revisions yet\n`);
      return;
    }
    const lines = latest.logs ?? [];
    for (const l of lines.slice(shown)) write(`${l.message}\n`);
    shown = lines.length;
    if (!t.follow || !BUILDING.has(latest.status)) {
      if (t.follow) write(`revision ${latest.revision} (commit ${(latest.commit ?? "").slice(0, 12)}): ${latest.status}\n`);
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

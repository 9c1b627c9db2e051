import type { JobRunInfo } from "../../core/records.js";
import type { BerthClient } from "../shared/client.js";
import { columns, needNamespace, parseDuration } from "../shared/common.js";
import { CommandError, serverError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";
import { appPath, parseTarget } from "../rollout/target.js";

type WireRun = Omit<JobRunInfo, "applicationUid" | "logs"> & { logs?: string };

export interface JobArgs {
  target: string;
  namespace?: string;
}

function runsPath(args: JobArgs): string {
  const { name } = parseTarget(args.target);
  return `${appPath(needNamespace(args.namespace), name)}/jobruns`;
}

function describeEnd(r: WireRun, app: string): string {
  const exit = r.exitCode === null ? "" : ` (exit ${r.exitCode})`;
  return `job ${r.job} of ${app}: run ${r.id} ${r.status}${exit}${r.message ? `: ${r.message}` : ""}`;
}

/** `berth job run app/NAME JOB`: runs it now, prints its output and how it ended; exit 1 unless it succeeded. */
export async function runCommand(client: BerthClient, args: JobArgs & { job: string; wait: boolean; timeout: string }, io: Pick<Io, "out">): Promise<WireRun> {
  const q = new URLSearchParams({ job: args.job, ...(args.wait ? { timeoutSeconds: String(Math.ceil(parseDuration(args.timeout) / 1000)) } : { wait: "false" }) });
  const r = await client.request<WireRun>("POST", `${runsPath(args)}?${q}`).catch(serverError);
  const app = `application/${parseTarget(args.target).name}`;
  if (r.status === "pending" || r.status === "running") {
    io.out(`job ${r.job} of ${app}: run ${r.id} is ${r.status}; follow it with: berth job runs -n ${args.namespace} ${args.target} ${r.job}`);
    return r;
  }
  if (r.logs) io.out(r.logs.replace(/\n$/, ""));
  if (r.status !== "succeeded") throw new CommandError(describeEnd(r, app));
  io.out(describeEnd(r, app));
  return r;
}

/** `berth job runs app/NAME [JOB]`: the runs, newest first; with `--run ID`, one run and its output. */
export async function runsCommand(client: BerthClient, args: JobArgs & { job?: string; run?: string; output: string }, io: Pick<Io, "out">): Promise<void> {
  if (args.run) {
    const r = await client.request<WireRun>("GET", `${runsPath(args)}/${encodeURIComponent(args.run)}`).catch(serverError);
    io.out(args.output === "json" ? JSON.stringify(r, null, 2) : `${describeEnd(r, args.target)}\n${r.logs ?? ""}`.replace(/\n$/, ""));
    return;
  }
  const q = args.job ? `?job=${encodeURIComponent(args.job)}` : "";
  const list = await client.request<{ items: WireRun[] }>("GET", `${runsPath(args)}${q}`).catch(serverError);
  if (args.output === "json") return io.out(JSON.stringify(list, null, 2));
  if (!list.items.length) return io.out(`${args.target}: no job runs yet`);
  const rows = [["ID", "JOB", "TRIGGER", "STATUS", "EXIT", "SLOT", "STARTED", "FINISHED", "MESSAGE"]];
  for (const r of list.items) rows.push([r.id, r.job, r.trigger, r.status, r.exitCode === null ? "-" : String(r.exitCode), r.slot, r.startedAt ?? "-", r.finishedAt ?? "-", r.message]);
  io.out(columns(rows));
}

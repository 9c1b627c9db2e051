import type { ConditionInput } from "../../core/conditions.js";
import type { JobRunInfo } from "../../core/records.js";
import type { ApplicationSpec } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import type { Summary } from "../shared/status.js";

/** Each job's newest run and newest finished run, as the job_runs table answers. */
export type JobsObserved = { last: JobRunInfo; lastFinished?: JobRunInfo }[];

type Extra = Omit<ConditionInput, "observedGeneration">;

function runSummary(r: JobRunInfo): Record<string, unknown> {
  return {
    id: r.id,
    trigger: r.trigger,
    slot: r.slot,
    status: r.status,
    ...(r.exitCode !== null ? { exitCode: r.exitCode } : {}),
    ...(r.startedAt ? { startedAt: r.startedAt } : {}),
    ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
    ...(r.message ? { message: r.message } : {}),
  };
}

/** status.jobs: one entry per job of the spec, with its last run and last finished run. */
export function jobsStatus(app: ResourceObject, observed: JobsObserved): Record<string, unknown>[] {
  const jobs = ((app.spec ?? {}) as ApplicationSpec).jobs ?? [];
  return jobs.map((job) => {
    const o = observed.find((x) => x.last.job === job.name);
    return {
      name: job.name,
      schedule: job.schedule,
      ...(job.suspend ? { suspended: true } : {}),
      ...(o ? { lastRun: runSummary(o.last) } : {}),
      ...(o?.lastFinished && o.lastFinished.id !== o.last.id ? { lastFinishedRun: runSummary(o.lastFinished) } : {}),
    };
  });
}

/** JobsSucceeded: False (reason JobFailed) while a job's newest finished run failed, naming the job and exit code. */
export function jobsCondition(app: ResourceObject, observed: JobsObserved): Extra | undefined {
  const names = new Set((((app.spec ?? {}) as ApplicationSpec).jobs ?? []).map((j) => j.name));
  if (!names.size) return undefined;
  const failed = observed.filter((o) => names.has(o.last.job) && o.lastFinished?.status === "failed").map((o) => o.lastFinished!);
  if (failed.length) return { type: "JobsSucceeded", status: "False", reason: "JobFailed", message: failed.map((r) => `${r.message} (run of ${r.slot})`).join("; ") };
  const finished = observed.filter((o) => names.has(o.last.job) && o.lastFinished).length;
  if (!finished) return { type: "JobsSucceeded", status: "Unknown", reason: "NoRunYet", message: "no job has finished a run yet" };
  return { type: "JobsSucceeded", status: "True", reason: "LastRunsSucceeded", message: `the last run of ${finished} job(s) succeeded` };
}

/** The jobs' condition added to a summary (the rest of the status is untouched). */
export function withJobs(summary: Summary, app: ResourceObject, observed: JobsObserved | undefined): Summary {
  if (!observed) return summary;
  const c = jobsCondition(app, observed);
  return c ? { ...summary, extra: [...(summary.extra ?? []), c] } : summary;
}

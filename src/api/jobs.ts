import { ApiError, badRequest, notFound } from "../core/errors.js";
import type { JobRunInfo } from "../core/records.js";
import type { RequestContext, ResourceObject } from "../core/types.js";
import type { AuditLog } from "../store/audit.js";
import type { JobRunStore } from "../store/job-runs.js";
import type { ResourceStore } from "../store/resources.js";
import type { Reply } from "./request.js";

export interface JobEndpointDeps {
  store: ResourceStore;
  runs: JobRunStore;
  audit: AuditLog;
}

/** One request to …/namespaces/NS/applications/NAME/jobruns[/ID]. */
export interface JobOperation {
  method: string;
  namespace: string;
  name: string;
  run?: string;
  query: URLSearchParams;
  ctx: RequestContext;
  body: () => Promise<Buffer>;
}

type WireRun = Omit<JobRunInfo, "applicationUid" | "logs"> & { logs?: string };

function wire(run: JobRunInfo, withLogs: boolean): WireRun {
  const { applicationUid: _a, logs, ...rest } = run;
  return withLogs ? { ...rest, logs } : rest;
}

function finished(status: string): boolean {
  return status !== "pending" && status !== "running";
}

function declaredJobs(app: ResourceObject): string[] {
  const jobs = (app.spec as { jobs?: { name?: unknown }[] } | undefined)?.jobs ?? [];
  return jobs.map((j) => String(j.name));
}

/**
 * Runs of an Application's jobs (ADR 0020), under /berth/v1 beside its rollouts:
 *
 *   GET  …/applications/NAME/jobruns[?job=JOB&limit=N]   runs, newest first (without logs)
 *   GET  …/applications/NAME/jobruns/ID                  one run (an id or unique prefix) with its logs
 *   POST …/applications/NAME/jobruns?job=JOB             run it now; waits for the end (?timeoutSeconds, ?wait=false)
 *
 * A manual run is a pending row the leader's JobScheduler starts on its next tick, so any API
 * replica can accept it; 202 means the wait ended first and the run goes on.
 */
export class JobEndpoints {
  constructor(private readonly d: JobEndpointDeps) {}

  async handle(op: JobOperation): Promise<Reply> {
    const app = await this.d.store.getStored("Application", op.namespace, op.name);
    if (!app) throw notFound("applications", op.name);
    if (op.method === "GET" && op.run) return this.one(app, op.run);
    if (op.method === "GET") return this.list(app, op.query);
    if (op.method === "POST" && !op.run) return this.runNow(app, op);
    throw new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  }

  private async list(app: ResourceObject, q: URLSearchParams): Promise<Reply> {
    const limit = Math.min(Math.max(Number(q.get("limit") ?? 50) || 50, 1), 500);
    const runs = await this.d.runs.runsOf(app.metadata.uid!, q.get("job") ?? undefined, limit);
    return { status: 200, body: { kind: "JobRunList", apiVersion: "berth.dev/v1", items: runs.map((r) => wire(r, false)) } };
  }

  private async one(app: ResourceObject, id: string): Promise<Reply> {
    const matches = await this.d.runs.find(app.metadata.uid!, id);
    if (matches.length === 0) throw new ApiError(404, "NotFound", `job run "${id}" of application ${app.metadata.name} not found`);
    if (matches.length > 1) throw badRequest(`job run id prefix "${id}" is ambiguous`);
    return { status: 200, body: { kind: "JobRun", apiVersion: "berth.dev/v1", ...wire(matches[0]!, true) } };
  }

  private async jobFrom(q: URLSearchParams, raw: Buffer): Promise<string | undefined> {
    if (q.get("job")) return q.get("job")!;
    if (!raw.length) return undefined;
    try {
      return (JSON.parse(raw.toString("utf8")) as { job?: string }).job;
    } catch {
      throw badRequest('the body must be JSON: {"job": "…"}');
    }
  }

  private async runNow(app: ResourceObject, op: JobOperation): Promise<Reply> {
    const job = await this.jobFrom(op.query, await op.body());
    if (!job) throw badRequest("which job? pass ?job=JOB");
    const declared = declaredJobs(app);
    if (!declared.includes(job)) throw new ApiError(404, "NotFound", `application ${app.metadata.name} declares no job "${job}" (it declares: ${declared.join(", ") || "none"})`);
    if (app.metadata.deletionTimestamp) throw new ApiError(409, "Conflict", `application ${app.metadata.name} is being deleted`);
    const requested = await this.d.runs.requestManual(app.metadata.uid!, job);
    await this.d.audit.record({ action: "run-job", resourceType: "application", resourceId: app.metadata.uid!, details: { name: app.metadata.name, namespace: app.metadata.namespace, job, run: requested.id }, ctx: op.ctx });
    if (op.query.get("wait") === "false") return { status: 202, body: { kind: "JobRun", apiVersion: "berth.dev/v1", ...wire(requested, false) } };
    const run = (await this.waitFor(requested.id, op.query)) ?? requested;
    return { status: finished(run.status) ? 200 : 202, body: { kind: "JobRun", apiVersion: "berth.dev/v1", ...wire(run, true) } };
  }

  /** Polls the row until the run ended or the wait (?timeoutSeconds, at most an hour) is over. */
  private async waitFor(id: string, q: URLSearchParams): Promise<JobRunInfo | undefined> {
    const deadline = Date.now() + Math.min(Number(q.get("timeoutSeconds") ?? 600), 3600) * 1000;
    for (;;) {
      const run = await this.d.runs.get(id);
      if (!run || finished(run.status) || Date.now() >= deadline) return run;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

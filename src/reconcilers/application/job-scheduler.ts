import { CronExpressionParser } from "cron-parser";
import type { Logger } from "winston";
import { parseDurationMs } from "../../core/duration.js";
import type { JobRunInfo } from "../../core/records.js";
import type { ApplicationSpec, JobSpec } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import type { ObjectKey } from "../../controller/controller.js";
import type { Component } from "../../controller/manager.js";
import { PollLoop } from "../../controller/poll-loop.js";
import type { RuntimeDriver } from "../../runtime/driver.js";
import { jobContainerOptions } from "../../runtime/job-spec.js";
import type { CredentialStore } from "../../store/credentials.js";
import type { EventStore, NewEvent } from "../../store/events.js";
import type { JobRunStore } from "../../store/job-runs.js";
import type { ResourceStore } from "../../store/resources.js";
import { unsealSecretEnv, type SecretBox } from "../../store/secrets.js";
import { scrub } from "../shared/failures.js";
import { databaseEnvFrom } from "./env.js";

export interface JobSchedulerDeps {
  store: ResourceStore;
  jobRuns: JobRunStore;
  driver: RuntimeDriver;
  events: EventStore;
  box: SecretBox;
  credentials: CredentialStore;
  logger: Logger;
  /** Wakes the Application's reconciler, which reports status.jobs and JobsSucceeded. */
  enqueue: (key: ObjectKey) => void;
  /** How often schedules and pending runs are looked at (default 1 s). */
  pollMs?: number;
  /** Finished runs each job keeps (default $BERTH_JOB_RUNS_KEPT or 20). */
  keepRuns?: number;
  now?: () => Date;
}

/** The timeout of a run when the job sets none. */
export const DEFAULT_JOB_TIMEOUT_MS = 3_600_000;

/** A run this scheduler watches: its container, its deadline timer, and why it was killed. */
interface ActiveRun {
  run: JobRunInfo;
  app: ResourceObject;
  job: JobSpec;
  containerId?: string;
  killed?: "timeout" | "replaced";
  timer?: NodeJS.Timeout;
}

/** The next fire time of a schedule after `after`. */
export function nextSlot(job: Pick<JobSpec, "schedule" | "timeZone">, after: Date): Date {
  return CronExpressionParser.parse(job.schedule, { currentDate: after, ...(job.timeZone ? { tz: job.timeZone } : {}) }).next().toDate();
}

/** The message a finished run reports: names the job, the exit code and why it was stopped. */
export function runMessage(job: JobSpec, exitCode: number | null, killed: ActiveRun["killed"]): string {
  const code = exitCode === null ? "no exit code (the container is gone)" : `exit code ${exitCode}`;
  if (killed === "timeout") return `job ${job.name} exceeded its timeout of ${job.timeout ?? "1h"} and was killed (${code})`;
  if (killed === "replaced") return `job ${job.name} was killed: a newer run replaced it (concurrencyPolicy Replace; ${code})`;
  if (exitCode === 0) return `job ${job.name} succeeded (exit code 0)`;
  return `job ${job.name} failed with ${code}`;
}

function eventFor(job: JobSpec, ok: boolean, killed: ActiveRun["killed"], message: string): NewEvent {
  if (ok) return { type: "Normal", reason: "JobSucceeded", message };
  return { type: "Warning", reason: killed === "timeout" ? "JobDeadlineExceeded" : "JobFailed", message };
}

/**
 * The scheduler of Applications' jobs (ADR 0020): a long-lived component on the leader. Each
 * tick it reads the Applications with spec.jobs, and for every slot that came due claims the
 * slot's job_runs row *before* it starts a container (a restart or a new leader never runs a
 * slot twice), honours concurrencyPolicy, starts the one-off container from the Application's
 * current image with its env on the Project network, and watches it: past its timeout it is
 * killed; its exit code and output tail are recorded, a failure as a Warning event, and the
 * Application is woken so its status reports the run. Runs a previous process started are
 * adopted. Missed slots (downtime) are not caught up. A stopped scheduler stays stopped.
 */
export class JobScheduler implements Component {
  private readonly next = new Map<string, { schedule: string; timeZone?: string; at: Date }>();
  private readonly active = new Map<string, ActiveRun>();

  private readonly loop: PollLoop;

  constructor(private readonly d: JobSchedulerDeps) {
    this.loop = new PollLoop(() => this.tick(), { everyMs: d.pollMs ?? 1000, onError: (e) => void d.logger.warn("job scheduler pass failed", { error: e.message }) });
  }

  private now(): Date {
    return this.d.now?.() ?? new Date();
  }

  async start(_signal: AbortSignal): Promise<void> {
    if (this.loop.isStopped) return;
    this.loop.start(0);
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    // Running containers go on; the next leader adopts their rows.
    for (const a of this.active.values()) if (a.timer) clearTimeout(a.timer);
    this.active.clear();
  }

  /** One pass: due slots of every job, then pending rows (manual runs) and runs to adopt. */
  async tick(): Promise<void> {
    // Only Applications with jobs: a pass every second must not read every Application.
    const { items } = await this.d.store.list("Application", { specPath: "$.jobs[*]" }, true);
    const apps = new Map<string, ResourceObject>();
    for (const app of items) {
      if (this.loop.isStopped) return;
      if (app.metadata.deletionTimestamp) continue;
      apps.set(app.metadata.uid!, app);
      await this.dueSlots(app);
    }
    await this.openRuns(apps);
  }

  private async dueSlots(app: ResourceObject): Promise<void> {
    const spec = (app.spec ?? {}) as ApplicationSpec;
    const now = this.now();
    for (const job of spec.jobs ?? []) {
      const key = `${app.metadata.uid}/${job.name}`;
      const seen = this.next.get(key);
      if (!seen || seen.schedule !== job.schedule || seen.timeZone !== job.timeZone) {
        this.next.set(key, { schedule: job.schedule, timeZone: job.timeZone, at: nextSlot(job, now) });
        continue;
      }
      if (now.getTime() < seen.at.getTime()) continue;
      const slot = seen.at;
      // Missed slots (a long pass, downtime) are skipped: the next is after now.
      seen.at = nextSlot(job, now);
      if (spec.suspend || job.suspend) continue;
      await this.fire(app, job, slot);
    }
  }

  private runningOf(uid: string, job: string): ActiveRun[] {
    return [...this.active.values()].filter((a) => a.run.applicationUid === uid && a.run.job === job && a.containerId);
  }

  /** A due slot: concurrencyPolicy first, then the claim, then the container. */
  private async fire(app: ResourceObject, job: JobSpec, slot: Date): Promise<void> {
    const uid = app.metadata.uid!;
    const running = this.runningOf(uid, job.name);
    const policy = job.concurrencyPolicy ?? "Forbid";
    if (running.length && policy === "Forbid") {
      const message = `job ${job.name}: the run of ${slot.toISOString()} was skipped; the run of ${running[0]!.run.slot} is still running (concurrencyPolicy Forbid)`;
      if (await this.d.jobRuns.claim(uid, job.name, slot, { message })) await this.event(app, { type: "Normal", reason: "JobSkipped", message });
      return;
    }
    const run = await this.d.jobRuns.claim(uid, job.name, slot);
    if (!run) return;
    if (policy === "Replace") for (const r of running) await this.kill(r, "replaced");
    await this.launch(app, job, run);
  }

  private async kill(a: ActiveRun, why: NonNullable<ActiveRun["killed"]>): Promise<void> {
    a.killed ??= why;
    if (a.containerId) await this.d.driver.stopContainer(a.containerId, 0).catch(() => undefined);
  }

  /** Pending rows (manual runs, a claim a crash interrupted) start; running ones of an earlier process are adopted. */
  private async openRuns(apps: Map<string, ResourceObject>): Promise<void> {
    for (const run of await this.d.jobRuns.open()) {
      if (this.loop.isStopped || this.active.has(run.id)) continue;
      const app = apps.get(run.applicationUid);
      const job = ((app?.spec ?? {}) as ApplicationSpec).jobs?.find((j) => j.name === run.job);
      if (!app || !job) {
        await this.d.jobRuns.finish(run.id, { status: "failed", message: `job ${run.job} is no longer in the Application's spec` });
        if (run.containerId) await this.d.driver.removeContainer(run.containerId).catch(() => undefined);
        continue;
      }
      if (run.status === "pending") await this.launch(app, job, run);
      else this.adopt(app, job, run);
    }
  }

  private adopt(app: ResourceObject, job: JobSpec, run: JobRunInfo): void {
    const a: ActiveRun = { run, app, job, containerId: run.containerId ?? undefined };
    this.active.set(run.id, a);
    const elapsed = run.startedAt ? this.now().getTime() - new Date(run.startedAt).getTime() : 0;
    const timeout = parseDurationMs(job.timeout, DEFAULT_JOB_TIMEOUT_MS);
    void this.watch(a, Math.min(Math.max(timeout - elapsed, 0), timeout));
  }

  private async launch(app: ResourceObject, job: JobSpec, run: JobRunInfo): Promise<void> {
    const a: ActiveRun = { run, app, job };
    this.active.set(run.id, a);
    let secrets: string[] = [];
    try {
      const spec = (app.spec ?? {}) as ApplicationSpec;
      const image = (app.status as { image?: string } | undefined)?.image ?? spec.source?.image;
      if (!image) throw new Error(`the Application has no image yet (its first build has not finished)`);
      const secretEnv = unsealSecretEnv(this.d.box, app.spec);
      secrets = Object.values(secretEnv);
      const env = { ...(await databaseEnvFrom(this.d.credentials, app)), ...(spec.env ?? {}), ...secretEnv };
      const opts = jobContainerOptions({ project: app.metadata.namespace!, app: app.metadata.name, appUid: app.metadata.uid!, job: job.name, runId: run.id, image, command: job.command, env, volumes: (spec.volumes ?? []).map((v) => ({ name: v.name, mountPath: v.mountPath })) });
      const id = await this.d.driver.createContainer(opts);
      a.containerId = id;
      await this.d.driver.startContainer(id);
      await this.d.jobRuns.started(run.id, id);
      a.run = { ...run, status: "running", containerId: id, startedAt: this.now().toISOString() };
    } catch (e) {
      await this.end(a, { status: "failed", exitCode: null, message: scrub(`job ${job.name} did not start: ${(e as Error).message}`, secrets), logs: "" }, "JobFailed");
      return;
    }
    void this.watch(a, parseDurationMs(job.timeout, DEFAULT_JOB_TIMEOUT_MS));
  }

  /** Waits for the container's exit (killing it past its deadline), then records the run. */
  private async watch(a: ActiveRun, remainingMs: number): Promise<void> {
    const id = a.containerId!;
    // setTimeout fires at once past 2^31 - 1 ms: longer timeouts are capped (about 24.8 days).
    a.timer = setTimeout(() => void this.kill(a, "timeout"), Math.min(remainingMs, 2 ** 31 - 1));
    a.timer.unref();
    const exit = await this.d.driver.waitContainer(id).then(
      (r) => r.exitCode,
      () => null,
    );
    clearTimeout(a.timer);
    if (this.loop.isStopped) return;
    const logs = scrub(await this.logsOf(id), this.secretsOf(a.app));
    await this.d.driver.removeContainer(id).catch(() => undefined);
    const ok = exit === 0 && !a.killed;
    const message = runMessage(a.job, exit, a.killed);
    const event = eventFor(a.job, ok, a.killed, message);
    await this.end(a, { status: ok ? "succeeded" : "failed", exitCode: exit, message, logs }, event.reason, event);
  }

  private secretsOf(app: ResourceObject): string[] {
    try {
      return Object.values(unsealSecretEnv(this.d.box, app.spec));
    } catch {
      return [];
    }
  }

  private async logsOf(id: string): Promise<string> {
    try {
      const stream = await this.d.driver.logs(id, { follow: false, since: 0, tail: 1000 });
      const chunks: string[] = [];
      for await (const chunk of stream) chunks.push(String(chunk));
      return chunks.join("");
    } catch {
      return "";
    }
  }

  private async end(a: ActiveRun, result: { status: "succeeded" | "failed"; exitCode: number | null; message: string; logs: string }, reason: string, event?: NewEvent): Promise<void> {
    this.active.delete(a.run.id);
    try {
      const ended = await this.d.jobRuns.finish(a.run.id, result);
      if (!ended) return;
      await this.event(a.app, event ?? { type: "Warning", reason, message: result.message });
      await this.d.jobRuns.prune(this.d.keepRuns ?? Number(process.env.BERTH_JOB_RUNS_KEPT ?? 20));
    } catch (e) {
      this.d.logger.warn("job run not recorded", { job: a.job.name, run: a.run.id, error: (e as Error).message });
    }
    this.d.enqueue({ kind: "Application", namespace: a.app.metadata.namespace, name: a.app.metadata.name });
  }

  private async event(app: ResourceObject, e: NewEvent): Promise<void> {
    await this.d.events.record(app, e, "berth-job-scheduler").catch((err) => this.d.logger.warn("job event not recorded", { error: (err as Error).message }));
  }
}

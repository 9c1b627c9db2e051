import type { DataSource } from "typeorm";
import type { JobRunInfo, JobRunStatus } from "../core/records.js";
import { recordQuery } from "./durability.js";
import { iso, returned } from "./sql.js";

export type { JobRunInfo, JobRunStatus };

interface Row {
  id: string;
  application_id: string;
  job_name: string;
  slot: Date;
  trigger: "schedule" | "manual";
  status: JobRunStatus;
  container_id: string | null;
  exit_code: number | null;
  message: string;
  logs: string;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

function toRun(r: Row): JobRunInfo {
  return {
    id: r.id,
    applicationUid: r.application_id,
    job: r.job_name,
    slot: iso(r.slot),
    trigger: r.trigger,
    status: r.status,
    containerId: r.container_id,
    exitCode: r.exit_code,
    message: r.message,
    logs: r.logs,
    startedAt: r.started_at ? iso(r.started_at) : null,
    finishedAt: r.finished_at ? iso(r.finished_at) : null,
  };
}

/** The logs a run keeps: the tail of its output. */
export const JOB_LOG_LIMIT = 64 * 1024;

/**
 * Runs of Applications' scheduled jobs (ADR 0020): the job_runs table. A scheduled slot is
 * claimed by inserting its row before anything starts; the unique (application, job, slot) key
 * makes the claim the only one, across restarts and processes.
 */
export class JobRunStore {
  constructor(private readonly ds: DataSource) {}

  /** Claims a scheduled slot: the new run's row, or undefined when the slot was claimed before. */
  async claim(appUid: string, job: string, slot: Date, skipped?: { message: string }): Promise<JobRunInfo | undefined> {
    const status = skipped ? "skipped" : "pending";
    const message = skipped?.message ?? "";
    const rows: Row[] = returned(
      await recordQuery(this.ds, `INSERT INTO job_runs (application_id, job_name, slot, status, message, finished_at) VALUES ($1, $2, $3, $4::varchar, $5, CASE WHEN $4::varchar = 'skipped' THEN now() END) ON CONFLICT (application_id, job_name, slot) DO NOTHING RETURNING *`, [appUid, job, slot, status, message]),
    );
    return rows[0] ? toRun(rows[0]) : undefined;
  }

  /** A manual run (`berth job run`): a pending row the scheduler starts on its next tick. */
  async requestManual(appUid: string, job: string): Promise<JobRunInfo> {
    const rows: Row[] = returned(await recordQuery(this.ds, `INSERT INTO job_runs (application_id, job_name, slot, trigger) VALUES ($1, $2, clock_timestamp(), 'manual') RETURNING *`, [appUid, job]));
    return toRun(rows[0]!);
  }

  /** Runs not finished: pending (to start) and running (to watch), oldest first. */
  async open(): Promise<JobRunInfo[]> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM job_runs WHERE status IN ('pending', 'running') ORDER BY created_at, id`);
    return rows.map(toRun);
  }

  async started(id: string, containerId: string): Promise<void> {
    await recordQuery(this.ds, `UPDATE job_runs SET status = 'running', container_id = $2, started_at = now() WHERE id = $1`, [id, containerId]);
  }

  /** Ends a run once; false when it had ended already. */
  async finish(id: string, result: { status: "succeeded" | "failed" | "skipped"; exitCode?: number | null; message: string; logs?: string }): Promise<boolean> {
    const logs = (result.logs ?? "").slice(-JOB_LOG_LIMIT);
    const res = await recordQuery(
      this.ds,
      `UPDATE job_runs SET status = $2, exit_code = $3, message = $4, logs = $5, finished_at = now() WHERE id = $1 AND status IN ('pending', 'running') RETURNING id`,
      [id, result.status, result.exitCode ?? null, result.message, logs],
    );
    return returned(res).length > 0;
  }

  async get(id: string): Promise<JobRunInfo | undefined> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM job_runs WHERE id = $1`, [id]);
    return rows[0] ? toRun(rows[0]) : undefined;
  }

  /** Each job's newest run and its newest finished one: what status.jobs reports. */
  async latestPerJob(appUid: string): Promise<{ last: JobRunInfo; lastFinished?: JobRunInfo }[]> {
    const rows: (Row & { kind: string })[] = await this.ds.query(
      `(SELECT DISTINCT ON (job_name) 'last' AS kind, * FROM job_runs WHERE application_id = $1 AND status <> 'skipped' ORDER BY job_name, created_at DESC, id DESC)
       UNION ALL
       (SELECT DISTINCT ON (job_name) 'finished' AS kind, * FROM job_runs WHERE application_id = $1 AND status IN ('succeeded', 'failed') ORDER BY job_name, finished_at DESC, id DESC)`,
      [appUid],
    );
    const byJob = new Map<string, { last?: JobRunInfo; lastFinished?: JobRunInfo }>();
    for (const r of rows) {
      const entry = byJob.get(r.job_name) ?? {};
      if (r.kind === "last") entry.last = toRun(r);
      else entry.lastFinished = toRun(r);
      byJob.set(r.job_name, entry);
    }
    return [...byJob.values()].filter((e): e is { last: JobRunInfo; lastFinished?: JobRunInfo } => !!e.last);
  }

  /** Every run of one job (or, without one, of every job of the Application), newest first. */
  async runsOf(appUid: string, job: string | undefined, limit = 50): Promise<JobRunInfo[]> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM job_runs WHERE application_id = $1 AND ($2::text IS NULL OR job_name = $2) ORDER BY created_at DESC, id DESC LIMIT $3`, [appUid, job ?? null, limit]);
    return rows.map(toRun);
  }

  /** One run of an Application by id or a unique id prefix, as `berth job runs` shows them. */
  async find(appUid: string, idOrPrefix: string): Promise<JobRunInfo[]> {
    const rows: Row[] = await this.ds.query(`SELECT * FROM job_runs WHERE application_id = $1 AND id::text LIKE $2 ORDER BY created_at DESC LIMIT 2`, [appUid, `${idOrPrefix.replace(/[%_\\]/g, "")}%`]);
    return rows.map(toRun);
  }

  /** Retention: each job keeps its newest `keep` finished runs. */
  async prune(keep: number): Promise<number> {
    const res = await this.ds.query(
      `DELETE FROM job_runs j USING (
         SELECT id, row_number() OVER (PARTITION BY application_id, job_name ORDER BY created_at DESC, id DESC) AS n FROM job_runs WHERE status NOT IN ('pending', 'running')
       ) ranked WHERE j.id = ranked.id AND ranked.n > $1`,
      [keep],
    );
    return Number(res[1] ?? 0);
  }
}

import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Scheduled jobs of Applications (issue 20, ADR 0020): one row per run. A scheduled run's row is
 * inserted for its slot *before* its container starts, and (application, job, slot) is unique,
 * so a restart or a second scheduler never runs a slot twice. A manual run (`berth job run`) is
 * a `pending` row the API inserts and the scheduler starts. Logs are the run's output tail.
 */
export class JobRuns1732560000080 implements MigrationInterface {
  name = "JobRuns1732560000080";

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE job_runs (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      application_id uuid NOT NULL,
      job_name varchar(63) NOT NULL,
      slot timestamptz NOT NULL,
      trigger varchar(20) NOT NULL DEFAULT 'schedule',
      status varchar(20) NOT NULL DEFAULT 'pending',
      container_id varchar(128),
      exit_code integer,
      message text NOT NULL DEFAULT '',
      logs text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL DEFAULT now(),
      started_at timestamptz,
      finished_at timestamptz,
      CONSTRAINT pk_job_runs PRIMARY KEY (id),
      CONSTRAINT uq_job_runs_slot UNIQUE (application_id, job_name, slot),
      CONSTRAINT check_job_runs_status CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
      CONSTRAINT check_job_runs_trigger CHECK (trigger IN ('schedule', 'manual')),
      CONSTRAINT fk_job_runs_application FOREIGN KEY (application_id) REFERENCES applications (id) ON DELETE CASCADE
    )`);
    await q.query(`CREATE INDEX idx_job_runs_open ON job_runs (status) WHERE status IN ('pending', 'running')`);
    await q.query(`CREATE INDEX idx_job_runs_latest ON job_runs (application_id, job_name, created_at DESC)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE job_runs`);
  }
}

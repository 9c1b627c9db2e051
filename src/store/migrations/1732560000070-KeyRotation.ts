import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `berth rotate-key` (issue 17, ADR 0016): the state of a key rotation, persisted before any
 * row is re-encrypted so a restart resumes it — which key is new, which keys retire, how far
 * each table got (its keyset cursor) and how many rows and values were re-encrypted. At most one
 * rotation runs at a time. Only key ids are kept here, never a key.
 */
/** The audit resource types before this migration (a migration never follows the entity's list). */
const AUDIT_TYPES = ["user", "team", "project", "application", "database", "deployment", "domain", "volume", "backup", "certificate", "event", "sync"];

export class KeyRotation1732560000070 implements MigrationInterface {
  name = "KeyRotation1732560000070";

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE berth_key_rotations (
      id bigserial NOT NULL,
      new_key_id varchar(64) NOT NULL,
      old_key_ids jsonb NOT NULL DEFAULT '[]',
      status varchar(20) NOT NULL DEFAULT 'running',
      progress jsonb NOT NULL DEFAULT '{}',
      batches integer NOT NULL DEFAULT 0,
      started_by uuid,
      started_by_name varchar(255) NOT NULL,
      started_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      CONSTRAINT pk_berth_key_rotations PRIMARY KEY (id),
      CONSTRAINT check_berth_key_rotations_status CHECK (status IN ('running', 'completed', 'abandoned')),
      CONSTRAINT fk_berth_key_rotations_started_by FOREIGN KEY (started_by) REFERENCES users (id) ON DELETE SET NULL
    )`);
    await q.query(`CREATE UNIQUE INDEX uq_berth_key_rotations_running ON berth_key_rotations ((true)) WHERE status = 'running'`);
    // The rotation is audited: the audit log must accept the installation as a resource type.
    await q.query(`ALTER TABLE audit_logs DROP CONSTRAINT check_audit_resource_type`);
    await q.query(`ALTER TABLE audit_logs ADD CONSTRAINT check_audit_resource_type CHECK (resource_type IN (${AUDIT_TYPES.map((t) => `'${t}'`).join(", ")}, 'installation'))`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM audit_logs WHERE resource_type = 'installation'`);
    await q.query(`ALTER TABLE audit_logs DROP CONSTRAINT check_audit_resource_type`);
    await q.query(`ALTER TABLE audit_logs ADD CONSTRAINT check_audit_resource_type CHECK (resource_type IN (${AUDIT_TYPES.map((t) => `'${t}'`).join(", ")}))`);
    await q.query(`DROP TABLE berth_key_rotations`);
  }
}

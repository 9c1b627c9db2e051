import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Backup destinations (issue 20, ADR 0023): the table of the BackupDestination kind — only the
 * object columns every kind table has, plus its Project — and, on each backup row, the
 * destination it went to (null: the local backup directory) and the SHA-256 of the dump, which a
 * restore checks before it loads anything.
 */
/** The audit resource types before this migration (a migration never follows the entity's list). */
const AUDIT_TYPES = ["user", "team", "project", "application", "database", "deployment", "domain", "volume", "backup", "certificate", "event", "sync", "installation", "notification"];

export class BackupDestinations1732560000110 implements MigrationInterface {
  name = "BackupDestinations1732560000110";

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE backup_destinations (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      project_id uuid NOT NULL,
      name varchar(255) NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      resource_version bigint NOT NULL DEFAULT nextval('berth_resource_version'),
      generation bigint NOT NULL DEFAULT 1,
      labels jsonb NOT NULL DEFAULT '{}',
      annotations jsonb NOT NULL DEFAULT '{}',
      finalizers jsonb NOT NULL DEFAULT '[]',
      deletion_timestamp timestamptz,
      spec jsonb NOT NULL DEFAULT '{}',
      object_status jsonb NOT NULL DEFAULT '{}',
      managed_fields jsonb NOT NULL DEFAULT '[]',
      CONSTRAINT pk_backup_destinations PRIMARY KEY (id),
      CONSTRAINT uq_backup_destinations_project_name UNIQUE (project_id, name),
      CONSTRAINT fk_backup_destinations_project FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE,
      CONSTRAINT check_backup_destinations_object_shape CHECK (
        jsonb_typeof(labels) = 'object' AND jsonb_typeof(annotations) = 'object'
        AND jsonb_typeof(finalizers) = 'array' AND jsonb_typeof(spec) = 'object'
        AND jsonb_typeof(object_status) = 'object' AND jsonb_typeof(managed_fields) = 'array'
      )
    )`);
    await q.query(`CREATE INDEX idx_backup_destinations_labels ON backup_destinations USING gin (labels)`);
    await q.query(`ALTER TABLE backups ADD COLUMN destination varchar(63), ADD COLUMN sha256 char(64),
      ADD CONSTRAINT check_backup_sha256 CHECK (sha256 ~ '^[0-9a-f]{64}$')`);
    // Every API mutation is audited, so the audit log must accept the new resource type.
    await q.query(`ALTER TABLE audit_logs DROP CONSTRAINT check_audit_resource_type`);
    await q.query(`ALTER TABLE audit_logs ADD CONSTRAINT check_audit_resource_type CHECK (resource_type IN (${AUDIT_TYPES.map((t) => `'${t}'`).join(", ")}, 'backupdestination'))`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM audit_logs WHERE resource_type = 'backupdestination'`);
    await q.query(`ALTER TABLE audit_logs DROP CONSTRAINT check_audit_resource_type`);
    await q.query(`ALTER TABLE audit_logs ADD CONSTRAINT check_audit_resource_type CHECK (resource_type IN (${AUDIT_TYPES.map((t) => `'${t}'`).join(", ")}))`);
    await q.query(`ALTER TABLE backups DROP CONSTRAINT check_backup_sha256, DROP COLUMN sha256, DROP COLUMN destination`);
    await q.query(`DROP TABLE backup_destinations`);
  }
}

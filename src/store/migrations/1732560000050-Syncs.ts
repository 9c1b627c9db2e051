import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The table of the fifth kind, Sync (issue 15, ADR 0013). It is not a seed table: it carries
 * only the object columns every kind table has, so the generic object code serves it unchanged.
 */
/** The audit resource types before this migration (a migration never follows the entity's list). */
const AUDIT_TYPES = ["user", "team", "project", "application", "database", "deployment", "domain", "volume", "backup", "certificate", "event"];

export class Syncs1732560000050 implements MigrationInterface {
  name = "Syncs1732560000050";

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE syncs (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
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
      CONSTRAINT pk_syncs PRIMARY KEY (id),
      CONSTRAINT uq_syncs_name UNIQUE (name),
      CONSTRAINT check_syncs_object_shape CHECK (
        jsonb_typeof(labels) = 'object' AND jsonb_typeof(annotations) = 'object'
        AND jsonb_typeof(finalizers) = 'array' AND jsonb_typeof(spec) = 'object'
        AND jsonb_typeof(object_status) = 'object' AND jsonb_typeof(managed_fields) = 'array'
      )
    )`);
    await q.query(`CREATE INDEX idx_syncs_labels ON syncs USING gin (labels)`);
    // Every API mutation is audited, so the audit log must accept the new resource type.
    await q.query(`ALTER TABLE audit_logs DROP CONSTRAINT check_audit_resource_type`);
    await q.query(`ALTER TABLE audit_logs ADD CONSTRAINT check_audit_resource_type CHECK (resource_type IN (${AUDIT_TYPES.map((t) => `'${t}'`).join(", ")}, 'sync'))`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM audit_logs WHERE resource_type = 'sync'`);
    await q.query(`ALTER TABLE audit_logs DROP CONSTRAINT check_audit_resource_type`);
    await q.query(`ALTER TABLE audit_logs ADD CONSTRAINT check_audit_resource_type CHECK (resource_type IN (${AUDIT_TYPES.map((t) => `'${t}'`).join(", ")}))`);
    await q.query(`DROP TABLE syncs`);
  }
}

import type { MigrationInterface, QueryRunner } from "typeorm";

/** The four tables that also hold Kubernetes-style objects, one row per object. */
const KIND_TABLES = ["projects", "applications", "databases", "domains"] as const;

/**
 * Lets the seed tables hold Berth's objects (Project, Application, Database, Domain) and
 * adds the change log that watches resume from and the Events table.
 *
 * Object metadata lives in columns; the object's uid is the row's id. The seed's
 * `status varchar` of applications and databases stays the phase (guarded by the seed's
 * check), so the object's whole `.status` is the jsonb column `object_status`, named the
 * same on all four tables so one code path serves every kind.
 */
export class ResourceObjects1732560000001 implements MigrationInterface {
  name = "ResourceObjects1732560000001";

  public async up(q: QueryRunner): Promise<void> {
    for (const sql of up()) await q.query(sql);
  }

  public async down(q: QueryRunner): Promise<void> {
    for (const sql of down()) await q.query(sql);
  }
}

function objectColumnsUp(table: string): string[] {
  return [
    // The default draws from the global sequence so that even a row written outside the
    // resource layer has a version no other row has; the resource layer sets it itself.
    `ALTER TABLE ${table}
      ADD COLUMN resource_version bigint NOT NULL DEFAULT nextval('berth_resource_version'),
      ADD COLUMN generation bigint NOT NULL DEFAULT 1,
      ADD COLUMN labels jsonb NOT NULL DEFAULT '{}',
      ADD COLUMN annotations jsonb NOT NULL DEFAULT '{}',
      ADD COLUMN finalizers jsonb NOT NULL DEFAULT '[]',
      ADD COLUMN deletion_timestamp timestamptz,
      ADD COLUMN spec jsonb NOT NULL DEFAULT '{}',
      ADD COLUMN object_status jsonb NOT NULL DEFAULT '{}',
      ADD COLUMN managed_fields jsonb NOT NULL DEFAULT '[]'`,
    // A JSON string or null where a map belongs would only surface later as a broken object.
    `ALTER TABLE ${table} ADD CONSTRAINT check_${table}_object_shape CHECK (
      jsonb_typeof(labels) = 'object' AND jsonb_typeof(annotations) = 'object'
      AND jsonb_typeof(finalizers) = 'array' AND jsonb_typeof(spec) = 'object'
      AND jsonb_typeof(object_status) = 'object' AND jsonb_typeof(managed_fields) = 'array'
    )`,
    // Label selectors (`-l tier=backend`) become labels @> '{"tier":"backend"}'.
    `CREATE INDEX idx_${table}_labels ON ${table} USING gin (labels)`,
  ];
}

function objectColumnsDown(table: string): string[] {
  return [
    `DROP INDEX idx_${table}_labels`,
    `ALTER TABLE ${table} DROP CONSTRAINT check_${table}_object_shape`,
    `ALTER TABLE ${table}
      DROP COLUMN managed_fields, DROP COLUMN object_status, DROP COLUMN spec,
      DROP COLUMN deletion_timestamp, DROP COLUMN finalizers, DROP COLUMN annotations,
      DROP COLUMN labels, DROP COLUMN generation, DROP COLUMN resource_version`,
  ];
}

function up(): string[] {
  return [
    // A sequence of its own, not a serial of resource_changes: the same number is written
    // to the object row and to its change row in one transaction.
    `CREATE SEQUENCE berth_resource_version AS bigint START WITH 1`,
    ...KIND_TABLES.flatMap(objectColumnsUp),

    // A Project's name is the namespace of every other object, so it is unique on its own.
    `ALTER TABLE projects ADD CONSTRAINT uq_projects_name UNIQUE (name)`,

    // Every kind's table gets updated_at, so one UPDATE serves all four.
    `ALTER TABLE databases
      ADD COLUMN credentials text,
      ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()`,

    // A Domain object has a name of its own (metadata.name) besides the host it routes.
    // Added NOT NULL without a default: this migration ships with the first, before any row.
    // target_id stays without a foreign key: it points at an application or a database,
    // and the target may be applied after the Domain, so target_name is what the user wrote.
    `ALTER TABLE domains
      ADD COLUMN name varchar(255) NOT NULL,
      ADD COLUMN path varchar(500) NOT NULL DEFAULT '/',
      ADD COLUMN target_name varchar(255),
      ADD COLUMN target_port integer,
      ADD COLUMN tls_issuer varchar(50),
      ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
      ADD CONSTRAINT uq_domains_project_name UNIQUE (project_id, name),
      ADD CONSTRAINT check_domain_path CHECK (path LIKE '/%'),
      ADD CONSTRAINT check_domain_target_port CHECK (target_port BETWEEN 1 AND 65535),
      ADD CONSTRAINT check_domain_tls_issuer CHECK (tls_issuer IN ('acme', 'internal'))`,
    `CREATE INDEX idx_domains_target_name ON domains (project_id, target_type, target_name)`,

    // Retain is the default: a volume holds data and is never dropped silently.
    `ALTER TABLE volumes
      ADD COLUMN project_id uuid,
      ADD COLUMN deletion_policy varchar(20) NOT NULL DEFAULT 'Retain',
      ADD CONSTRAINT check_volume_deletion_policy CHECK (deletion_policy IN ('Retain', 'Delete')),
      ADD CONSTRAINT fk_volumes_project FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE`,
    `CREATE INDEX idx_volumes_project_id ON volumes (project_id)`,

    `CREATE TABLE resource_changes (
      rv bigint NOT NULL,
      kind varchar(50) NOT NULL,
      namespace varchar(255),
      name varchar(255) NOT NULL,
      uid uuid NOT NULL,
      event_type varchar(10) NOT NULL,
      object jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT pk_resource_changes PRIMARY KEY (rv),
      CONSTRAINT check_resource_change_event_type CHECK (event_type IN ('ADDED', 'MODIFIED', 'DELETED'))
    )`,
    // Compaction deletes old changes by age.
    `CREATE INDEX idx_resource_changes_created_at ON resource_changes (created_at)`,

    `CREATE TABLE events (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      namespace varchar(255),
      involved_kind varchar(50) NOT NULL,
      involved_name varchar(255) NOT NULL,
      involved_uid uuid NOT NULL,
      type varchar(20) NOT NULL DEFAULT 'Normal',
      reason varchar(100) NOT NULL,
      message text NOT NULL DEFAULT '',
      count integer NOT NULL DEFAULT 1,
      source varchar(100),
      first_timestamp timestamptz NOT NULL DEFAULT now(),
      last_timestamp timestamptz NOT NULL DEFAULT now(),
      resource_version bigint NOT NULL DEFAULT 0,
      CONSTRAINT pk_events PRIMARY KEY (id),
      CONSTRAINT check_event_type CHECK (type IN ('Normal', 'Warning')),
      CONSTRAINT check_event_count_positive CHECK (count >= 1)
    )`,
    `CREATE INDEX idx_events_namespace_involved_uid ON events (namespace, involved_uid)`,
    // Old events are pruned by age.
    `CREATE INDEX idx_events_last_timestamp ON events (last_timestamp)`,
  ];
}

function down(): string[] {
  return [
    `DROP INDEX idx_events_last_timestamp`,
    `DROP INDEX idx_events_namespace_involved_uid`,
    `DROP TABLE events`,
    `DROP INDEX idx_resource_changes_created_at`,
    `DROP TABLE resource_changes`,

    `DROP INDEX idx_volumes_project_id`,
    `ALTER TABLE volumes
      DROP CONSTRAINT fk_volumes_project,
      DROP CONSTRAINT check_volume_deletion_policy,
      DROP COLUMN deletion_policy,
      DROP COLUMN project_id`,

    `DROP INDEX idx_domains_target_name`,
    `ALTER TABLE domains
      DROP CONSTRAINT check_domain_tls_issuer,
      DROP CONSTRAINT check_domain_target_port,
      DROP CONSTRAINT check_domain_path,
      DROP CONSTRAINT uq_domains_project_name,
      DROP COLUMN updated_at,
      DROP COLUMN tls_issuer,
      DROP COLUMN target_port,
      DROP COLUMN target_name,
      DROP COLUMN path,
      DROP COLUMN name`,

    `ALTER TABLE databases DROP COLUMN updated_at, DROP COLUMN credentials`,

    `ALTER TABLE projects DROP CONSTRAINT uq_projects_name`,

    ...[...KIND_TABLES].reverse().flatMap(objectColumnsDown),
    // Last: the resource_version defaults above depend on it.
    `DROP SEQUENCE berth_resource_version`,
  ];
}

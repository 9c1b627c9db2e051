import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * What the Database controller records besides the object: credentials kept with a retained data
 * volume, why a backup failed and what started it, and restore requests.
 *
 * - `berth_retained_credentials`: a data volume's credentials (ciphertext), keyed by the Docker
 *   volume name and deliberately without a foreign key, so they outlive the Database (and its
 *   Project) when deletionPolicy is Retain: a Database re-created with the same name finds its
 *   volume and the credentials that open it. Removed with the volume (deletionPolicy Delete).
 * - `databases.credentials` / `connection_string` and the retained credentials only ever hold
 *   ciphertext (`enc:v1:` …); a check constraint refuses anything else.
 * - `backups.source` (manual | schedule) and `backups.error`; `restores`: one row per restore
 *   (pending → running → success | failed), executed by the controller leader.
 */
export class DatabaseRuntime1732560000010 implements MigrationInterface {
  name = "DatabaseRuntime1732560000010";

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE berth_retained_credentials (
      volume_name varchar(255) NOT NULL,
      engine varchar(50) NOT NULL,
      credentials text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT pk_berth_retained_credentials PRIMARY KEY (volume_name),
      CONSTRAINT check_retained_credentials_engine CHECK (engine IN ('postgresql', 'mysql', 'mongodb', 'redis')),
      CONSTRAINT check_retained_credentials_sealed CHECK (credentials LIKE 'enc:v1:%')
    )`);
    await q.query(`ALTER TABLE databases
      ADD CONSTRAINT check_databases_credentials_sealed CHECK (credentials IS NULL OR credentials LIKE 'enc:v1:%'),
      ADD CONSTRAINT check_databases_connection_string_sealed CHECK (connection_string IS NULL OR connection_string LIKE 'enc:v1:%')`);
    await q.query(`ALTER TABLE backups
      ADD COLUMN source varchar(20) NOT NULL DEFAULT 'manual',
      ADD COLUMN error text,
      ADD CONSTRAINT check_backup_source CHECK (source IN ('manual', 'schedule'))`);
    // The scheduler asks "was there a scheduled backup of this database since T?".
    await q.query(`CREATE INDEX idx_backups_database_source_created ON backups (database_id, source, created_at DESC)`);
    await q.query(`CREATE TABLE restores (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      database_id uuid NOT NULL,
      backup_id uuid,
      status varchar(50) NOT NULL DEFAULT 'pending',
      error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz,
      CONSTRAINT pk_restores PRIMARY KEY (id),
      CONSTRAINT check_restore_status CHECK (status IN ('pending', 'running', 'success', 'failed')),
      CONSTRAINT fk_restores_database FOREIGN KEY (database_id) REFERENCES databases (id) ON DELETE CASCADE,
      CONSTRAINT fk_restores_backup FOREIGN KEY (backup_id) REFERENCES backups (id) ON DELETE SET NULL
    )`);
    await q.query(`CREATE INDEX idx_restores_database_created ON restores (database_id, created_at DESC)`);
    await q.query(`CREATE INDEX idx_restores_status ON restores (status)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE restores`);
    await q.query(`DROP INDEX idx_backups_database_source_created`);
    await q.query(`ALTER TABLE backups DROP CONSTRAINT check_backup_source, DROP COLUMN error, DROP COLUMN source`);
    await q.query(`ALTER TABLE databases DROP CONSTRAINT check_databases_connection_string_sealed, DROP CONSTRAINT check_databases_credentials_sealed`);
    await q.query(`DROP TABLE berth_retained_credentials`);
  }
}

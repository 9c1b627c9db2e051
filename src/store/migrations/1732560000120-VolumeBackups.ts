import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Volume backups (issue 20, ADR 0024): archives of Applications' named volumes and their
 * restores into new volumes. Both are queues of rows like Database backups: the API and the
 * schedule insert `pending` rows, the leader's worker claims them. Rows go with their
 * Application; the archives they name stay where they are (as Database backups' dumps do).
 */
export class VolumeBackups1732560000120 implements MigrationInterface {
  name = "VolumeBackups1732560000120";

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE volume_backups (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      application_id uuid NOT NULL,
      volume_name varchar(63) NOT NULL,
      status varchar(20) NOT NULL DEFAULT 'pending',
      source varchar(20) NOT NULL DEFAULT 'manual',
      storage_path text,
      destination varchar(63),
      size_bytes bigint,
      sha256 char(64),
      error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz,
      CONSTRAINT pk_volume_backups PRIMARY KEY (id),
      CONSTRAINT check_volume_backups_status CHECK (status IN ('pending', 'running', 'success', 'failed')),
      CONSTRAINT check_volume_backups_source CHECK (source IN ('manual', 'schedule')),
      CONSTRAINT check_volume_backups_sha256 CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      CONSTRAINT fk_volume_backups_application FOREIGN KEY (application_id) REFERENCES applications (id) ON DELETE CASCADE
    )`);
    await q.query(`CREATE INDEX idx_volume_backups_volume ON volume_backups (application_id, volume_name, created_at DESC)`);
    await q.query(`CREATE INDEX idx_volume_backups_open ON volume_backups (status) WHERE status IN ('pending', 'running')`);
    await q.query(`CREATE TABLE volume_restores (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      application_id uuid NOT NULL,
      backup_id uuid NOT NULL,
      target_volume varchar(255) NOT NULL,
      overwrite boolean NOT NULL DEFAULT false,
      status varchar(20) NOT NULL DEFAULT 'pending',
      error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz,
      CONSTRAINT pk_volume_restores PRIMARY KEY (id),
      CONSTRAINT check_volume_restores_status CHECK (status IN ('pending', 'running', 'success', 'failed')),
      CONSTRAINT fk_volume_restores_application FOREIGN KEY (application_id) REFERENCES applications (id) ON DELETE CASCADE,
      CONSTRAINT fk_volume_restores_backup FOREIGN KEY (backup_id) REFERENCES volume_backups (id) ON DELETE CASCADE
    )`);
    await q.query(`CREATE INDEX idx_volume_restores_open ON volume_restores (status) WHERE status IN ('pending', 'running')`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE volume_restores`);
    await q.query(`DROP TABLE volume_backups`);
  }
}

import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * One row naming this installation. Its id labels every runtime object, so two Berths sharing
 * a Docker engine (or a test suite beside a user's Berth) never mistake each other's containers
 * for orphans.
 */
export class Installation1732560000002 implements MigrationInterface {
  name = "Installation1732560000002";

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE berth_installation (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      singleton boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT pk_berth_installation PRIMARY KEY (id),
      CONSTRAINT uq_berth_installation_singleton UNIQUE (singleton),
      CONSTRAINT check_berth_installation_singleton CHECK (singleton)
    )`);
    await q.query(`INSERT INTO berth_installation DEFAULT VALUES`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE berth_installation`);
  }
}

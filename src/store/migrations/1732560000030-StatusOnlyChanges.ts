import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Marks change-log rows that changed nothing but `.status`. Controllers skip waking an object's
 * own reconciler for them (it wrote that status), as controller-runtime's generation predicate
 * does, while watchers of other kinds (a Domain following its Application's endpoints) still see them.
 */
export class StatusOnlyChanges1732560000030 implements MigrationInterface {
  name = "StatusOnlyChanges1732560000030";

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE resource_changes ADD COLUMN status_only boolean NOT NULL DEFAULT false`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE resource_changes DROP COLUMN status_only`);
  }
}

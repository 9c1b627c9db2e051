import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Two things the API's lists and watches need from the change log (docs/kubectl.md, "Pages and
 * selectors"):
 * - `prev_labels`: the labels before the change, so a label-selector watch can tell an object
 *   entering its selection (ADDED) or leaving it (DELETED) from one that stays (MODIFIED), as the
 *   Kubernetes watch cache does with its previous object. NULL on rows written before this
 *   migration: they are read as "labels unchanged".
 * - an index on (uid, rv): a continued list reads each changed object's state at the list's
 *   resource version from the log.
 */
export class ChangePrevLabels1732560000040 implements MigrationInterface {
  name = "ChangePrevLabels1732560000040";

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE resource_changes ADD COLUMN prev_labels jsonb`);
    await q.query(`CREATE INDEX idx_resource_changes_uid_rv ON resource_changes (uid, rv)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_resource_changes_uid_rv`);
    await q.query(`ALTER TABLE resource_changes DROP COLUMN prev_labels`);
  }
}

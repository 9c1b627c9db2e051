import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * A NOTIFY on `berth_access` whenever something an authorization decision depends on changes:
 * users' roles, teams and their members, Project ownership and team, token revocation and
 * expiry. Every server LISTENs (store/change-feed.ts) and drops its cached token lookups and
 * Project scopes at once, so a cache can be kept long without a revocation or a removed
 * membership outliving it (ADR 0015 addendum). Triggers, not application code, so a write from
 * any server — or by hand in psql — is heard. Only the columns that matter fire: a token's
 * last_used_at or a Project's status writes do not empty every cache.
 */
export class AccessNotify1732560000085 implements MigrationInterface {
  name = "AccessNotify1732560000085";

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE FUNCTION berth_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_notify('berth_access', TG_TABLE_NAME); RETURN NULL; END $$`);
    const triggers = [
      `CREATE TRIGGER access_teams AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON teams FOR EACH STATEMENT EXECUTE FUNCTION berth_access_changed()`,
      `CREATE TRIGGER access_team_members AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON team_members FOR EACH STATEMENT EXECUTE FUNCTION berth_access_changed()`,
      `CREATE TRIGGER access_users_delete AFTER DELETE OR TRUNCATE ON users FOR EACH STATEMENT EXECUTE FUNCTION berth_access_changed()`,
      `CREATE TRIGGER access_users_update AFTER UPDATE ON users FOR EACH ROW WHEN (OLD.role IS DISTINCT FROM NEW.role OR OLD.username IS DISTINCT FROM NEW.username) EXECUTE FUNCTION berth_access_changed()`,
      `CREATE TRIGGER access_tokens_delete AFTER DELETE OR TRUNCATE ON api_tokens FOR EACH STATEMENT EXECUTE FUNCTION berth_access_changed()`,
      `CREATE TRIGGER access_tokens_update AFTER UPDATE ON api_tokens FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at OR OLD.user_id IS DISTINCT FROM NEW.user_id) EXECUTE FUNCTION berth_access_changed()`,
      `CREATE TRIGGER access_projects_insert_delete AFTER INSERT OR DELETE OR TRUNCATE ON projects FOR EACH STATEMENT EXECUTE FUNCTION berth_access_changed()`,
      `CREATE TRIGGER access_projects_update AFTER UPDATE ON projects FOR EACH ROW WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.name IS DISTINCT FROM NEW.name OR OLD.metadata->>'team' IS DISTINCT FROM NEW.metadata->>'team') EXECUTE FUNCTION berth_access_changed()`,
    ];
    for (const t of triggers) await q.query(t);
  }

  public async down(q: QueryRunner): Promise<void> {
    for (const [name, table] of [["access_teams", "teams"], ["access_team_members", "team_members"], ["access_users_delete", "users"], ["access_users_update", "users"], ["access_tokens_delete", "api_tokens"], ["access_tokens_update", "api_tokens"], ["access_projects_insert_delete", "projects"], ["access_projects_update", "projects"]]) {
      await q.query(`DROP TRIGGER IF EXISTS ${name} ON ${table}`);
    }
    await q.query(`DROP FUNCTION IF EXISTS berth_access_changed()`);
  }
}

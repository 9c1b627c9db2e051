import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * People (issue 17, ADR 0015): API tokens of users (only a SHA-256 of each kept; the token is
 * shown once), and the seed's "at least one owner" rule for teams enforced by the database: a
 * constraint trigger, checked at commit, refuses a team that has members but no owner (a team
 * whose last member leaves, or whose users are deleted, is empty, not ownerless).
 */
export class PeopleAndTokens1732560000060 implements MigrationInterface {
  name = "PeopleAndTokens1732560000060";

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE api_tokens (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL,
      name varchar(100) NOT NULL,
      prefix varchar(16) NOT NULL,
      token_hash char(64) NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz,
      revoked_at timestamptz,
      last_used_at timestamptz,
      CONSTRAINT pk_api_tokens PRIMARY KEY (id),
      CONSTRAINT uq_api_tokens_hash UNIQUE (token_hash),
      CONSTRAINT check_api_token_name CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'),
      CONSTRAINT fk_api_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
    )`);
    await q.query(`CREATE INDEX idx_api_tokens_user_id ON api_tokens (user_id)`);
    await q.query(`CREATE FUNCTION berth_team_keeps_an_owner() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE t uuid := COALESCE(OLD.team_id, NEW.team_id);
      BEGIN
        IF EXISTS (SELECT 1 FROM teams WHERE id = t)
           AND EXISTS (SELECT 1 FROM team_members WHERE team_id = t)
           AND NOT EXISTS (SELECT 1 FROM team_members WHERE team_id = t AND role = 'owner') THEN
          RAISE EXCEPTION 'team % would have no owner', t USING ERRCODE = '23514', CONSTRAINT = 'check_team_has_owner';
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`CREATE CONSTRAINT TRIGGER trg_team_keeps_an_owner AFTER INSERT OR UPDATE OR DELETE ON team_members DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION berth_team_keeps_an_owner()`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER trg_team_keeps_an_owner ON team_members`);
    await q.query(`DROP FUNCTION berth_team_keeps_an_owner()`);
    await q.query(`DROP TABLE api_tokens`);
  }
}

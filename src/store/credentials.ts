import type { Credentials, Engine } from "../core/specs.js";
import type { SecretBox } from "./secrets.js";
import type { Sql } from "./sql.js";

/**
 * Database credentials: generated once per data volume, kept only as ciphertext in two places —
 * databases.credentials (this Database's, with its connection string) and
 * berth_retained_credentials (the volume's, which outlives the Database when deletionPolicy is
 * Retain, so a re-created Database can open its data). Plaintext exists only in memory.
 */
export class CredentialStore {
  constructor(
    private readonly sql: Sql,
    private readonly box: SecretBox,
  ) {}

  /** This Database's credentials, or undefined before the controller generated them. */
  async load(dbUid: string): Promise<Credentials | undefined> {
    const rows: { credentials: string | null }[] = await this.sql.query(`SELECT credentials FROM databases WHERE id = $1`, [dbUid]);
    return this.open(rows[0]?.credentials);
  }

  /** The credentials of Database `name` in `project` (for `envFrom`). */
  async loadByName(project: string, name: string): Promise<Credentials | undefined> {
    const rows: { credentials: string | null }[] = await this.sql.query(
      `SELECT d.credentials FROM databases d JOIN projects p ON p.id = d.project_id WHERE p.name = $1 AND d.name = $2`,
      [project, name],
    );
    return this.open(rows[0]?.credentials);
  }

  /** The credentials kept with a retained data volume, if any. */
  async retained(volume: string): Promise<Credentials | undefined> {
    const rows: { engine: Engine; credentials: string }[] = await this.sql.query(`SELECT engine, credentials FROM berth_retained_credentials WHERE volume_name = $1`, [volume]);
    return this.open(rows[0]?.credentials);
  }

  /**
   * Stores the credentials of a Database and of its volume. Committed synchronously: they
   * cannot be derived again (ADR 0005).
   */
  async save(dbUid: string, volume: string, creds: Credentials, connectionString: string): Promise<void> {
    const sealed = this.box.encrypt(JSON.stringify(creds));
    const url = this.box.encrypt(connectionString);
    await this.sql.query(`UPDATE databases SET credentials = $2, connection_string = $3 WHERE id = $1`, [dbUid, sealed, url]);
    await this.sql.query(
      `INSERT INTO berth_retained_credentials (volume_name, engine, credentials) VALUES ($1, $2, $3)
       ON CONFLICT (volume_name) DO UPDATE SET engine = EXCLUDED.engine, credentials = EXCLUDED.credentials, updated_at = now()`,
      [volume, creds.engine, sealed],
    );
  }

  /** The volume is gone: nothing is left to open. */
  async forgetVolume(volume: string): Promise<void> {
    await this.sql.query(`DELETE FROM berth_retained_credentials WHERE volume_name = $1`, [volume]);
  }

  private open(sealed: string | null | undefined): Credentials | undefined {
    return sealed ? (JSON.parse(this.box.decrypt(sealed)) as Credentials) : undefined;
  }
}

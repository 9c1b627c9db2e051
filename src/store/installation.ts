import type { Sql } from "./sql.js";

/** The id of this Berth installation (one row, made by a migration): it labels every runtime object. */
export async function installationId(sql: Sql): Promise<string> {
  const rows: { id: string }[] = await sql.query(`SELECT id FROM berth_installation`);
  return rows[0].id;
}

/** The super_admin the first start creates; the admin token authenticates as this user. */
export async function ensureAdminUser(sql: Sql): Promise<string> {
  await sql.query(
    `INSERT INTO users (username, email, password_hash, role) VALUES ('admin', 'admin@berth.local', '!token-auth', 'super_admin') ON CONFLICT (username) DO NOTHING`,
  );
  const rows: { id: string }[] = await sql.query(`SELECT id FROM users WHERE username = 'admin'`);
  return rows[0].id;
}

/**
 * People (issue 17, ADR 0015): users, teams and their members, API tokens, and the Projects a
 * user may see. One repository for the table family users / teams / team_members / api_tokens.
 * Passwords: bcrypt, cost 12 (bcryptjs). Tokens: 32 random bytes, shown once; only their SHA-256
 * is kept (a token has 256 bits of entropy, so a slow hash would only slow every request).
 */
import { createHash, randomBytes } from "node:crypto";
import bcrypt from "bcryptjs";
import type { DataSource } from "typeorm";
import { ApiError, invalid, notFound } from "../core/errors.js";
import type { ProjectScope, Role, TokenInfo } from "../core/access.js";
export type { TokenInfo };

export const BCRYPT_COST = 12;
const TOKEN_PREFIX = "bth_";
/**
 * How long a looked-up token is answered from memory, and how many are kept. While this process
 * hears the store's access notifications (a revocation anywhere empties the cache at once), an
 * entry lives TOKEN_CACHE_HEARD_MS; without them, TOKEN_CACHE_MS bounds a revocation elsewhere.
 */
const TOKEN_CACHE_MS = 2000;
const TOKEN_CACHE_HEARD_MS = 60_000;
const TOKEN_CACHE_MAX = 10_000;
/** last_used_at is written at most this often per token: a read-mostly API stays read-mostly. */
const LAST_USED_EVERY_MS = 60_000;

export interface Person {
  id: string;
  username: string;
  email: string;
  role: Role;
}


export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** The second seed document's policy: at least 8 characters, an upper- and a lower-case letter and a digit. */
export function passwordProblems(password: string): string[] {
  const out: string[] = [];
  if (password.length < 8) out.push("at least 8 characters");
  if (password.length > 72) out.push("at most 72 bytes (bcrypt reads no more)");
  if (!/[A-Z]/.test(password)) out.push("an upper-case letter");
  if (!/[a-z]/.test(password)) out.push("a lower-case letter");
  if (!/[0-9]/.test(password)) out.push("a digit");
  return out;
}

interface TokenRow {
  token_id: string;
  last_used_at: Date | null;
  id: string;
  username: string;
  email: string;
  role: Role;
}

/** Where the store's access notifications are heard (store/change-feed.ts). */
export interface AccessChanges {
  onAccessChange(listener: () => void): () => void;
  readonly connected: boolean;
}

export class PeopleStore {
  private readonly touched = new Map<string, number>();
  private readonly known = new Map<string, { person: Person; tokenId: string; expiresAt: number | null; at: number }>();
  private changes: AccessChanges | undefined;
  /** Bumped on every heard change: a lookup that began before one is not cached after it. */
  private generation = 0;

  constructor(private readonly ds: DataSource) {}

  /** Empties the token cache on every access change, and keeps entries longer while those are heard. */
  followAccessChanges(changes: AccessChanges): () => void {
    this.changes = changes;
    const off = changes.onAccessChange(() => {
      this.generation++;
      this.known.clear();
    });
    return (): void => {
      off();
      if (this.changes === changes) this.changes = undefined;
    };
  }

  private tokenTtl(): number {
    return this.changes?.connected ? TOKEN_CACHE_HEARD_MS : TOKEN_CACHE_MS;
  }

  async createUser(input: { username: string; email: string; password?: string; role: Role }): Promise<Person> {
    const causes = [];
    if (input.password !== undefined) {
      const missing = passwordProblems(input.password);
      if (missing.length) causes.push({ field: "password", message: `the password needs ${missing.join(", ")}`, reason: "FieldValueInvalid" as const });
    }
    if (causes.length) throw invalid("User", input.username, causes);
    const hash = input.password === undefined ? "!token-auth" : await bcrypt.hash(input.password, BCRYPT_COST);
    try {
      const rows: Person[] = await this.ds.query(`INSERT INTO users (username, email, password_hash, role) VALUES ($1, $2, $3, $4) RETURNING id, username, email, role`, [input.username, input.email, hash, input.role]);
      return rows[0];
    } catch (e) {
      throw userError(e, input.username);
    }
  }

  async user(username: string): Promise<Person | undefined> {
    const rows: Person[] = await this.ds.query(`SELECT id, username, email, role FROM users WHERE username = $1`, [username]);
    return rows[0];
  }

  async users(): Promise<Person[]> {
    return this.ds.query(`SELECT id, username, email, role FROM users ORDER BY username`);
  }

  /** The user of a username and password, or undefined; always one bcrypt comparison, whether the user exists or not. */
  async checkPassword(username: string, password: string): Promise<Person | undefined> {
    const rows: (Person & { password_hash: string | null })[] = await this.ds.query(`SELECT id, username, email, role, password_hash FROM users WHERE username = $1`, [username]);
    const hash = rows[0]?.password_hash;
    const usable = !!hash && hash.startsWith("$2");
    // A throwaway hash of cost 12 for the other cases: the answer takes as long as a real check.
    const ok = await bcrypt.compare(password, usable ? hash : await dummyHash());
    return ok && usable ? stripHash(rows[0]) : undefined;
  }

  async createToken(userId: string, name: string, expiresAt?: Date): Promise<{ token: string; info: TokenInfo }> {
    const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
    const prefix = token.slice(0, 12);
    try {
      const rows: TokenInfo[] = await this.ds.query(
        `INSERT INTO api_tokens (user_id, name, prefix, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING ${TOKEN_COLUMNS}`,
        [userId, name, prefix, sha256(token), expiresAt ?? null],
      );
      return { token, info: rows[0] };
    } catch (e) {
      if ((e as { code?: string }).code === "23514") throw invalid("Token", name, [{ field: "name", message: "a lower-case name of letters, digits, '.', '_' or '-' (at most 100)", reason: "FieldValueInvalid" }]);
      throw e;
    }
  }

  /**
   * A known token of a user that is neither revoked nor expired: its user; else undefined. A
   * token seen in the last TOKEN_CACHE_MS is answered from memory (every request of a user pays
   * this lookup); a revocation through this process drops it at once, its expiry is checked on
   * every hit, and another server sharing the store notices a revocation within TOKEN_CACHE_MS.
   */
  async authenticate(token: string): Promise<Person | undefined> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const hash = sha256(token);
    const now = Date.now();
    const hit = this.known.get(hash);
    if (hit && now - hit.at < this.tokenTtl() && (hit.expiresAt === null || hit.expiresAt > now)) {
      this.touch(hit.tokenId);
      return hit.person;
    }
    const began = this.generation;
    const rows: (TokenRow & { expires_at: Date | null })[] = await this.ds.query(
      `SELECT t.id AS token_id, t.last_used_at, t.expires_at, u.id, u.username, u.email, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id
       WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())`,
      [hash],
    );
    const row = rows[0];
    if (!row) return void this.known.delete(hash);
    const person: Person = { id: row.id, username: row.username, email: row.email, role: row.role };
    if (this.known.size >= TOKEN_CACHE_MAX) this.known.clear();
    if (began === this.generation) this.known.set(hash, { person, tokenId: row.token_id, expiresAt: row.expires_at ? new Date(row.expires_at).getTime() : null, at: now });
    this.touch(row.token_id);
    return person;
  }

  private touch(tokenId: string): void {
    const now = Date.now();
    if (now - (this.touched.get(tokenId) ?? 0) < LAST_USED_EVERY_MS) return;
    this.touched.set(tokenId, now);
    void this.ds.query(`UPDATE api_tokens SET last_used_at = now() WHERE id = $1`, [tokenId]).catch(() => undefined);
  }

  async tokens(userId: string): Promise<TokenInfo[]> {
    return this.ds.query(`SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at`, [userId]);
  }

  /** Revokes a token of `userId` by id, name or prefix; the revocation holds from the next request on. */
  async revokeToken(userId: string, which: string): Promise<TokenInfo> {
    const rows = returned<TokenInfo>(await this.ds.query(
      `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE user_id = $1 AND (id::text = $2 OR name = $2 OR prefix = $2) RETURNING ${TOKEN_COLUMNS}`,
      [userId, which],
    ));
    if (!rows.length) throw notFound("tokens", which);
    for (const [hash, k] of this.known) if (rows.some((r) => r.id === k.tokenId)) this.known.delete(hash);
    return rows[0];
  }

  async createTeam(name: string, ownerId: string): Promise<{ id: string; name: string }> {
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const rows: { id: string; name: string }[] = await runner.query(`INSERT INTO teams (name) VALUES ($1) RETURNING id, name`, [name]);
      await runner.query(`INSERT INTO team_members (user_id, team_id, role) VALUES ($1, $2, 'owner')`, [ownerId, rows[0].id]);
      await runner.commitTransaction();
      return rows[0];
    } catch (e) {
      await runner.rollbackTransaction().catch(() => undefined);
      throw teamError(e, name);
    } finally {
      await runner.release();
    }
  }

  /** Adds or changes a member; the database refuses a change that leaves the team without an owner. */
  async setMember(team: string, userId: string, role: "owner" | "admin" | "member" | "viewer"): Promise<void> {
    try {
      const rows = await this.ds.query(
        `INSERT INTO team_members (user_id, team_id, role) SELECT $1, id, $3 FROM teams WHERE name = $2
         ON CONFLICT (user_id, team_id) DO UPDATE SET role = EXCLUDED.role RETURNING id`,
        [userId, team, role],
      );
      if (!rows.length) throw notFound("teams", team);
    } catch (e) {
      throw teamError(e, team);
    }
  }

  async removeMember(team: string, userId: string): Promise<void> {
    try {
      const rows = returned(await this.ds.query(`DELETE FROM team_members m USING teams t WHERE m.team_id = t.id AND t.name = $1 AND m.user_id = $2 RETURNING m.id`, [team, userId]));
      if (!rows.length) throw notFound("teammembers", `${team}/${userId}`);
    } catch (e) {
      throw teamError(e, team);
    }
  }

  async teamRole(team: string, userId: string): Promise<string | undefined> {
    const rows: { role: string }[] = await this.ds.query(`SELECT m.role FROM team_members m JOIN teams t ON t.id = m.team_id WHERE t.name = $1 AND m.user_id = $2`, [team, userId]);
    return rows[0]?.role;
  }

  /** The teams `userId` belongs to and its role in each, by team name (`kubectl auth whoami` shows them as groups). */
  async memberships(userId: string): Promise<{ team: string; role: string }[]> {
    return this.ds.query(`SELECT t.name AS team, m.role FROM team_members m JOIN teams t ON t.id = m.team_id WHERE m.user_id = $1 ORDER BY t.name`, [userId]);
  }

  async teams(): Promise<{ name: string; members: { username: string; role: string }[] }[]> {
    const rows: { name: string; username: string | null; role: string | null }[] = await this.ds.query(
      `SELECT t.name, u.username, m.role FROM teams t LEFT JOIN team_members m ON m.team_id = t.id LEFT JOIN users u ON u.id = m.user_id ORDER BY t.name, u.username`,
    );
    const out = new Map<string, { name: string; members: { username: string; role: string }[] }>();
    for (const r of rows) {
      const t = out.get(r.name) ?? { name: r.name, members: [] };
      if (r.username && r.role) t.members.push({ username: r.username, role: r.role });
      out.set(r.name, t);
    }
    return [...out.values()];
  }

  /**
   * The Projects `userId` may see (the seed's policy: owner or team member), those it may write
   * (owner, or team role member and above) and those it owns (only owners delete a Project).
   * A Project's team is its spec.team, stored in projects.metadata.
   */
  async scope(userId: string): Promise<ProjectScope> {
    const rows: { name: string; owned: boolean; team_role: string | null }[] = await this.ds.query(
      `SELECT p.name, p.owner_id = $1 AS owned, m.role AS team_role FROM projects p
       LEFT JOIN teams t ON t.name = p.metadata->>'team'
       LEFT JOIN team_members m ON m.team_id = t.id AND m.user_id = $1
       WHERE p.owner_id = $1 OR m.user_id IS NOT NULL`,
      [userId],
    );
    const read = new Set<string>();
    const write = new Set<string>();
    const owned = new Set<string>();
    for (const r of rows) {
      read.add(r.name);
      if (r.owned) owned.add(r.name);
      if (r.owned || (r.team_role && r.team_role !== "viewer")) write.add(r.name);
    }
    return { read, write, owned };
  }
}

const TOKEN_COLUMNS = `id, name, prefix, created_at AS "createdAt", expires_at AS "expiresAt", revoked_at AS "revokedAt", last_used_at AS "lastUsedAt"`;
let dummy: Promise<string> | undefined;
const dummyHash = (): Promise<string> => (dummy ??= bcrypt.hash(randomBytes(16).toString("hex"), BCRYPT_COST));

/** Rows of a statement with RETURNING: TypeORM gives UPDATE and DELETE as [rows, count]. */
function returned<T>(raw: unknown): T[] {
  const r = raw as unknown[];
  return Array.isArray(r[0]) && typeof r[1] === "number" ? (r[0] as T[]) : (r as T[]);
}

function stripHash(row: Person & { password_hash?: unknown }): Person {
  return { id: row.id, username: row.username, email: row.email, role: row.role };
}

function dbCode(e: unknown): { code?: string; constraint?: string } {
  const d = (e as { driverError?: { code?: string; constraint?: string } }).driverError ?? (e as { code?: string; constraint?: string });
  return { code: d.code, constraint: d.constraint };
}

function userError(e: unknown, username: string): unknown {
  const { code, constraint } = dbCode(e);
  const field = constraint?.includes("email") ? "email" : constraint?.includes("role") ? "role" : "username";
  if (code === "23505") return invalid("User", username, [{ field, message: `Duplicate value: another user has this ${field}`, reason: "FieldValueDuplicate" }]);
  if (code === "23514") return invalid("User", username, [{ field, message: field === "username" ? "must match ^[a-z0-9_-]{3,50}$" : field === "email" ? "must be an email address" : "must be super_admin, admin, developer or viewer", reason: "FieldValueInvalid" }]);
  return e;
}

function teamError(e: unknown, team: string): unknown {
  if (e instanceof ApiError) return e;
  const { code, constraint } = dbCode(e);
  if (code === "23505" && constraint === "uq_teams_name") return invalid("Team", team, [{ field: "name", message: "Duplicate value: another team has this name", reason: "FieldValueDuplicate" }]);
  if (code === "23514" && constraint === "check_team_has_owner") return new ApiError(409, "Conflict", `team ${team} must keep at least one owner`);
  if (code === "23514") return invalid("Team", team, [{ field: constraint === "check_team_member_role" ? "role" : "name", message: constraint === "check_team_member_role" ? "must be owner, admin, member or viewer" : "3 to 100 characters", reason: "FieldValueInvalid" }]);
  return e;
}

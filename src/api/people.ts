/**
 * Users, teams, API tokens and login (issue 17, ADR 0015), under /berth/v1. The choke point in
 * server.ts has already decided the request (users and teams: admins; tokens: anyone, for
 * themselves); what is left here is what only the body tells: an admin may not make or issue
 * for a super_admin, only a super_admin may. Tokens and passwords are never logged or echoed;
 * a new token is shown in its creation's answer and never again.
 */
import { ApiError, badRequest, forbidden } from "../core/errors.js";
import { isAdmin, ROLES, type Identity, type Role } from "../core/access.js";
import type { RequestContext } from "../core/types.js";
import type { AuditLog } from "../store/audit.js";
import type { PeopleStore, Person } from "../store/people.js";
import type { AuthFailureLimit } from "./auth-limit.js";
import { requireObject } from "./body-limits.js";
import type { Reply } from "./request.js";

export interface PeopleCall {
  method: string;
  what: "users" | "teams" | "tokens" | "login";
  name?: string;
  members?: boolean;
  member?: string;
  body: () => Promise<Buffer>;
  query: URLSearchParams;
  ctx: RequestContext;
  identity?: Identity;
  address: string;
}

const MAX_TOKEN_DAYS = 366;

function parse(raw: Buffer): Record<string, unknown> {
  try {
    return requireObject<Record<string, unknown>>(JSON.parse(raw.toString("utf8") || "{}"));
  } catch {
    throw badRequest("body must be a JSON object");
  }
}

function text(b: Record<string, unknown>, field: string, required = true): string | undefined {
  const v = b[field];
  if (v === undefined && !required) return undefined;
  if (typeof v !== "string" || !v) throw new ApiError(422, "Invalid", `${field}: a non-empty string is required`, { causes: [{ field, message: "Required value", reason: "FieldValueRequired" }] });
  if (v.length > 255) throw new ApiError(422, "Invalid", `${field}: at most 255 characters`, { causes: [{ field, message: "Too long", reason: "FieldValueTooLong" }] });
  return v;
}

function view(p: Person): Record<string, unknown> {
  return { kind: "User", apiVersion: "berth.dev/v1", metadata: { name: p.username, uid: p.id }, spec: { email: p.email, role: p.role } };
}

function expiry(b: Record<string, unknown>): Date | undefined {
  if (b.expiresInDays === undefined) return undefined;
  const d = b.expiresInDays;
  if (typeof d !== "number" || !Number.isInteger(d) || d < 1 || d > MAX_TOKEN_DAYS) throw new ApiError(422, "Invalid", `expiresInDays: a whole number from 1 to ${MAX_TOKEN_DAYS}`, { causes: [{ field: "expiresInDays", message: "out of range", reason: "FieldValueInvalid" }] });
  return new Date(Date.now() + d * 86_400_000);
}

export class PeopleEndpoints {
  constructor(
    private readonly people: PeopleStore,
    private readonly logins: { perAddress: AuthFailureLimit; perUser: AuthFailureLimit },
    private readonly audit?: AuditLog,
    /** A membership changed: what this user may see is read again on its next request. */
    private readonly changed: (userId: string) => void = () => undefined,
  ) {}

  /** An audit row of a people change: names and ids only — never a password, a token or its hash. */
  private async record(c: PeopleCall, row: { action: string; resourceType: "user" | "team"; resourceId: string | null; details: Record<string, unknown> }): Promise<void> {
    await this.audit?.record({ ...row, ctx: c.ctx });
  }

  async handle(c: PeopleCall): Promise<Reply> {
    if (c.what === "login") return this.login(c);
    if (c.what === "users") return this.users(c);
    if (c.what === "teams") return this.teams(c);
    return this.tokens(c);
  }

  /** Username and password → a new API token; every failure the same 401, in the time of one bcrypt check. */
  private async login(c: PeopleCall): Promise<Reply> {
    if (c.method !== "POST") throw new ApiError(405, "MethodNotAllowed", "POST a username and password");
    const b = parse(await c.body());
    const username = typeof b.username === "string" ? b.username.slice(0, 255) : "";
    const password = typeof b.password === "string" ? b.password : "";
    const over = this.logins.perUser.blocked(`user:${username}`) ?? this.logins.perAddress.blocked(c.address);
    if (over) throw over;
    const person = username && password ? await this.people.checkPassword(username, password) : undefined;
    if (!person) {
      this.logins.perUser.failed(`user:${username}`);
      throw this.logins.perAddress.failed(c.address);
    }
    const { token, info } = await this.people.createToken(person.id, `login-${Date.now().toString(36)}`, expiry({ expiresInDays: 30 }));
    // The caller is known only now: the row names the user who logged in.
    await this.record({ ...c, ctx: { ...c.ctx, user: person.username, userId: person.id } }, { action: "login", resourceType: "user", resourceId: person.id, details: { name: person.username, token: info.name } });
    return { status: 201, body: { kind: "Token", apiVersion: "berth.dev/v1", user: person.username, role: person.role, token, ...info } };
  }

  private async users(c: PeopleCall): Promise<Reply> {
    if (c.method === "GET") return { status: 200, body: { kind: "UserList", apiVersion: "berth.dev/v1", items: (await this.people.users()).map(view) } };
    if (c.method !== "POST" || c.name) throw new ApiError(405, "MethodNotAllowed", "users are created with POST /berth/v1/users");
    const b = parse(await c.body());
    const role = (b.role ?? "viewer") as Role;
    if (!ROLES.includes(role)) throw new ApiError(422, "Invalid", "role: must be super_admin, admin, developer or viewer", { causes: [{ field: "role", message: "Unsupported value", reason: "FieldValueNotSupported" }] });
    if (role === "super_admin" && c.identity?.role !== "super_admin") throw forbidden(`user "${c.identity?.user}" (admin) cannot create a super_admin: only a super_admin can`);
    return { status: 201, body: view(await this.createUser(c, b, role)) };
  }

  private async createUser(c: PeopleCall, b: Record<string, unknown>, role: Role): Promise<Person> {
    const password = b.password === undefined ? undefined : typeof b.password === "string" ? b.password : "";
    const person = await this.people.createUser({ username: text(b, "username")!, email: text(b, "email")!, password, role });
    await this.record(c, { action: "create", resourceType: "user", resourceId: person.id, details: { name: person.username, email: person.email, role: person.role, password: password === undefined ? "none" : "set" } });
    return person;
  }

  private async teams(c: PeopleCall): Promise<Reply> {
    if (c.method === "GET" && !c.name) return { status: 200, body: { kind: "TeamList", apiVersion: "berth.dev/v1", items: (await this.people.teams()).map((t) => ({ kind: "Team", metadata: { name: t.name }, members: t.members })) } };
    if (c.method === "POST" && !c.name) {
      const b = parse(await c.body());
      const owner = await this.person(text(b, "owner")!);
      const team = await this.people.createTeam(text(b, "name")!, owner.id);
      await this.record(c, { action: "create", resourceType: "team", resourceId: team.id, details: { name: team.name, owner: owner.username } });
      return { status: 201, body: { kind: "Team", metadata: { name: team.name } } };
    }
    if (!c.name || !c.members) throw new ApiError(405, "MethodNotAllowed", "teams: POST /berth/v1/teams, POST|DELETE /berth/v1/teams/NAME/members[/USER]");
    return this.members(c, c.name);
  }

  private async members(c: PeopleCall, team: string): Promise<Reply> {
    if (c.method === "DELETE" && c.member) {
      const gone = await this.person(c.member);
      await this.people.removeMember(team, gone.id);
      this.changed(gone.id);
      await this.record(c, { action: "remove-member", resourceType: "team", resourceId: null, details: { name: team, member: c.member } });
      return { status: 200, body: { kind: "Status", apiVersion: "v1", status: "Success" } };
    }
    if (c.method !== "POST") throw new ApiError(405, "MethodNotAllowed", "POST {user, role} to add or change a member");
    const b = parse(await c.body());
    const role = text(b, "role", false) ?? "member";
    if (!["owner", "admin", "member", "viewer"].includes(role)) throw new ApiError(422, "Invalid", "role: must be owner, admin, member or viewer", { causes: [{ field: "role", message: "Unsupported value", reason: "FieldValueNotSupported" }] });
    const member = await this.person(text(b, "user")!);
    await this.people.setMember(team, member.id, role as "owner");
    this.changed(member.id);
    await this.record(c, { action: "set-member", resourceType: "team", resourceId: null, details: { name: team, member: b.user, role } });
    return { status: 200, body: { kind: "TeamMember", team, user: b.user, role } };
  }

  /** Own tokens; an admin may issue one for another user (`?user=` / body user), never for a super_admin unless one. */
  private async tokens(c: PeopleCall): Promise<Reply> {
    const b = c.method === "POST" ? parse(await c.body()) : {};
    const owner = await this.tokenOwner(c, typeof b.user === "string" ? b.user : (c.query.get("user") ?? undefined));
    if (c.method === "GET") return { status: 200, body: { kind: "TokenList", apiVersion: "berth.dev/v1", user: owner.username, items: await this.people.tokens(owner.id) } };
    if (c.method === "DELETE" && c.name) {
      const revoked = await this.people.revokeToken(owner.id, c.name);
      await this.record(c, { action: "revoke-token", resourceType: "user", resourceId: owner.id, details: { name: owner.username, token: revoked.name, tokenId: revoked.id } });
      return { status: 200, body: { kind: "Token", apiVersion: "berth.dev/v1", ...revoked } };
    }
    if (c.method !== "POST" || c.name) throw new ApiError(405, "MethodNotAllowed", "tokens: GET, POST, DELETE /berth/v1/tokens/ID");
    const { token, info } = await this.people.createToken(owner.id, text(b, "name")!, expiry(b));
    await this.record(c, { action: "create-token", resourceType: "user", resourceId: owner.id, details: { name: owner.username, token: info.name, tokenId: info.id, expiresAt: info.expiresAt } });
    return { status: 201, body: { kind: "Token", apiVersion: "berth.dev/v1", user: owner.username, token, ...info } };
  }

  private async tokenOwner(c: PeopleCall, other: string | undefined): Promise<Person> {
    const me = c.identity!;
    if (!other || other === me.user) return this.person(me.user);
    if (!isAdmin(me)) throw forbidden(`user "${me.user}" (${me.role}) cannot manage tokens of user "${other}": only admins`);
    const person = await this.person(other);
    if (person.role === "super_admin" && me.role !== "super_admin") throw forbidden(`user "${me.user}" (admin) cannot issue a token for super_admin "${other}"`);
    return person;
  }

  private async person(username: string): Promise<Person> {
    const p = await this.people.user(username);
    if (!p) throw new ApiError(404, "NotFound", `users.berth.dev "${username}" not found`, { name: username, kind: "users" });
    return p;
  }
}

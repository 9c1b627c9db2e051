/**
 * `berth token create|list|revoke`, `berth create user`, `berth get users|teams` and
 * `berth team create|add-member|remove-member` (issue 17): thin clients of /berth/v1/tokens,
 * users and teams. The server decides who may (src/api/people.ts); its message is what the user
 * reads when it refuses.
 */
import { BerthClient } from "../shared/client.js";
import { age, columns, span } from "../shared/common.js";
import { CommandError, EXIT_USAGE, serverError } from "../shared/errors.js";
import type { TokenInfo } from "../../core/access.js";
import type { Io } from "../shared/io.js";
import { readPassword } from "../shared/password.js";
import { days } from "./login.js";


const seg = (s: string): string => encodeURIComponent(s);

export async function tokenCreateCommand(client: BerthClient, args: { name: string; expiresInDays?: string }, io: Io): Promise<void> {
  const t = await client.request<TokenInfo & { token: string; user: string }>("POST", "/berth/v1/tokens", { body: { name: args.name, expiresInDays: days(args.expiresInDays) } }).catch(serverError);
  io.out(t.token);
  io.err(`Token "${t.name}" (prefix ${t.prefix}) for ${t.user}${t.expiresAt ? `, expires ${t.expiresAt}` : ", no expiry"}. It is not shown again: store it now.`);
}

/** When a token expires, from now: "29d", "never", "expired". */
function expires(at: string | null, now: number): string {
  if (!at) return "never";
  const s = Math.floor((Date.parse(at) - now) / 1000);
  return s <= 0 ? "expired" : `in ${span(s)}`;
}

export function tokenTable(items: TokenInfo[], now = Date.now()): string {
  const rows = items.map((t) => [t.name, t.prefix, `${age(t.createdAt, now)} ago`, expires(t.expiresAt, now), t.lastUsedAt ? `${age(t.lastUsedAt, now)} ago` : "never", t.revokedAt ? `${age(t.revokedAt, now)} ago` : "-"]);
  return columns([["NAME", "PREFIX", "CREATED", "EXPIRES", "LAST-USED", "REVOKED"], ...rows]);
}

export async function tokenListCommand(client: BerthClient, io: Io): Promise<void> {
  const list = await client.request<{ items: TokenInfo[] }>("GET", "/berth/v1/tokens").catch(serverError);
  if (!list.items.length) io.err("No tokens found");
  else io.out(tokenTable(list.items));
}

export async function tokenRevokeCommand(client: BerthClient, which: string, io: Io): Promise<void> {
  const t = await client.request<TokenInfo>("DELETE", `/berth/v1/tokens/${seg(which)}`).catch(serverError);
  io.out(`token "${t.name}" (prefix ${t.prefix}) revoked`);
}

export interface CreateUserArgs {
  username: string;
  email: string;
  role: string;
  passwordStdin?: boolean;
}

export async function createUserCommand(client: BerthClient, args: CreateUserArgs, io: Io): Promise<void> {
  const password = args.passwordStdin ? await readPassword({ fromStdin: true, prompt: "" }, io) : undefined;
  const u = await client.request<{ metadata: { name: string }; spec: { role: string } }>("POST", "/berth/v1/users", { body: { username: args.username, email: args.email, role: args.role, password } }).catch(serverError);
  io.out(`user.berth.dev/${u.metadata.name} created (${u.spec.role})`);
  if (!password) io.err(`No password: ${u.metadata.name} cannot \`berth login\`; an admin can issue a kubeconfig with \`berth kubeconfig --user ${u.metadata.name}\`.`);
}

type Format = "table" | "json" | "yaml";

function format(output: string | undefined): Format {
  if (!output) return "table";
  if (output === "json" || output === "yaml") return output;
  throw new CommandError(`error: unknown output format "${output}" (use yaml or json)`, EXIT_USAGE);
}

async function printList(list: unknown, f: Format, io: Io): Promise<void> {
  io.out(f === "json" ? JSON.stringify(list, null, 2) : (await import("yaml")).default.stringify(list).trimEnd());
}

/** `berth get users|teams [NAME] [-o json|yaml]`. */
export async function getPeopleCommand(client: BerthClient, args: { what: "users" | "teams"; name?: string; output?: string }, io: Io): Promise<void> {
  const { what, name } = args;
  const f = format(args.output);
  const list = await client.request<{ items: Record<string, any>[] }>("GET", `/berth/v1/${what}`).catch(serverError);
  if (name) {
    list.items = list.items.filter((i) => i.metadata?.name === name);
    if (!list.items.length) throw new CommandError(`Error from server (NotFound): ${what}.berth.dev "${name}" not found`);
  }
  if (f !== "table") return printList(list, f, io);
  if (!list.items.length) return io.err("No resources found");
  if (what === "users") {
    io.out(columns([["NAME", "EMAIL", "ROLE"], ...list.items.map((u) => [u.metadata.name, u.spec.email, u.spec.role])]));
    return;
  }
  const members = (t: Record<string, any>): string => ((t.members ?? []) as { username: string; role: string }[]).map((m) => `${m.username}(${m.role})`).join(",") || "<none>";
  io.out(columns([["NAME", "MEMBERS"], ...list.items.map((t) => [t.metadata.name, members(t)])]));
}

export async function teamCreateCommand(client: BerthClient, args: { name: string; owner: string }, io: Io): Promise<void> {
  const t = await client.request<{ metadata: { name: string } }>("POST", "/berth/v1/teams", { body: { name: args.name, owner: args.owner } }).catch(serverError);
  io.out(`team.berth.dev/${t.metadata.name} created (owner ${args.owner})`);
}

export async function teamAddMemberCommand(client: BerthClient, args: { team: string; user: string; role: string }, io: Io): Promise<void> {
  await client.request("POST", `/berth/v1/teams/${seg(args.team)}/members`, { body: { user: args.user, role: args.role } }).catch(serverError);
  io.out(`${args.user} is a member of team ${args.team} (${args.role})`);
}

export async function teamRemoveMemberCommand(client: BerthClient, args: { team: string; user: string }, io: Io): Promise<void> {
  await client.request("DELETE", `/berth/v1/teams/${seg(args.team)}/members/${seg(args.user)}`).catch(serverError);
  io.out(`${args.user} removed from team ${args.team}`);
}

import type { Command } from "commander";
import { processIo } from "../shared/io.js";
import { clientFromCommand, kubeconfigToWrite, resolveKubeconfig, type ClientOptions } from "../shared/kubeconfig.js";

// As in objects/: the commands' modules are imported when one runs, so that --help loads none.

const NO_ARGV_PASSWORD = "\nThe password is never an argument: it is typed at a prompt that does not echo, or read from stdin (--password-stdin, or whenever stdin is not a terminal).";

function registerLogin(program: Command): void {
  program
    .command("login")
    .description("exchange a username and password for an API token and make it the kubeconfig's current context")
    .requiredOption("--username <user>", "who logs in")
    .option("--server <url>", "the Berth API (default: the current context's cluster)")
    .option("--certificate-authority <file>", "the API's CA (PEM), for a --server the kubeconfig does not know yet")
    .option("--context <name>", "the context to write (default: USER@CLUSTER)")
    .option("--password-stdin", "read the password from stdin")
    .addHelpText("after", NO_ARGV_PASSWORD)
    .action(async (opts: { username: string; server?: string; certificateAuthority?: string; context?: string; passwordStdin?: boolean }, cmd: Command) => {
      const { loginCommand } = await import("./login.js");
      await loginCommand({ ...opts, file: kubeconfigToWrite(cmd.optsWithGlobals() as ClientOptions) }, processIo);
    });

  program
    .command("kubeconfig")
    .description("(admins) issue a token for a user and write a kubeconfig of the current cluster with it")
    .requiredOption("--user <user>", "whose token")
    .option("-o, --output <file>", "write it here (mode 0600) instead of stdout")
    .option("--name <token-name>", "the token's name (default: kubeconfig-<time>)")
    .option("--expires-in-days <n>", "the token expires after n days (1–366; default: never)")
    .action(async (opts: { user: string; output?: string; name?: string; expiresInDays?: string }, cmd: Command) => {
      const { issueKubeconfigCommand } = await import("./login.js");
      const client = clientFromCommand(cmd);
      await issueKubeconfigCommand(client, resolveKubeconfig(cmd.optsWithGlobals() as ClientOptions), opts, processIo);
    });
}

function registerTokens(program: Command): void {
  const token = program.command("token").description("your API tokens: create, list, revoke");
  token
    .command("create")
    .argument("<name>", "lower-case letters, digits, '.', '_' or '-'")
    .option("--expires-in-days <n>", "the token expires after n days (1–366; default: never)")
    .description("a new API token, printed once on stdout")
    .action(async (name: string, opts: { expiresInDays?: string }, cmd: Command) => {
      const { tokenCreateCommand } = await import("./commands.js");
      await tokenCreateCommand(clientFromCommand(cmd), { name, ...opts }, processIo);
    });
  token
    .command("list")
    .description("NAME PREFIX CREATED EXPIRES LAST-USED REVOKED of your tokens (never the tokens)")
    .action(async (_opts: unknown, cmd: Command) => {
      const { tokenListCommand } = await import("./commands.js");
      await tokenListCommand(clientFromCommand(cmd), processIo);
    });
  token
    .command("revoke")
    .argument("<token>", "its name, id or prefix")
    .description("revoke a token: refused from the next request on")
    .action(async (which: string, _opts: unknown, cmd: Command) => {
      const { tokenRevokeCommand } = await import("./commands.js");
      await tokenRevokeCommand(clientFromCommand(cmd), which, processIo);
    });
}

function registerUsersAndTeams(program: Command): void {
  const create = program.command("create").description("create a user (admins)");
  create
    .command("user")
    .argument("<username>", "3–50 of a-z, 0-9, '_' and '-'")
    .requiredOption("--email <email>", "unique")
    .option("--role <role>", "super_admin, admin, developer or viewer", "viewer")
    .option("--password-stdin", "read the user's password from stdin (without it the user has none and logs in only with an issued token)")
    .addHelpText("after", NO_ARGV_PASSWORD)
    .action(async (username: string, opts: { email: string; role: string; passwordStdin?: boolean }, cmd: Command) => {
      const { createUserCommand } = await import("./commands.js");
      await createUserCommand(clientFromCommand(cmd), { username, ...opts }, processIo);
    });

  const team = program.command("team").description("teams (admins): create, add-member, remove-member; list with `berth get teams`");
  team
    .command("create")
    .argument("<name>")
    .requiredOption("--owner <user>", "its first owner")
    .action(async (name: string, opts: { owner: string }, cmd: Command) => {
      const { teamCreateCommand } = await import("./commands.js");
      await teamCreateCommand(clientFromCommand(cmd), { name, owner: opts.owner }, processIo);
    });
  team
    .command("add-member")
    .argument("<team>")
    .argument("<user>")
    .option("--role <role>", "owner, admin, member or viewer", "member")
    .description("add a member, or change a member's role")
    .action(async (teamName: string, user: string, opts: { role: string }, cmd: Command) => {
      const { teamAddMemberCommand } = await import("./commands.js");
      await teamAddMemberCommand(clientFromCommand(cmd), { team: teamName, user, role: opts.role }, processIo);
    });
  team
    .command("remove-member")
    .argument("<team>")
    .argument("<user>")
    .description("remove a member (a team keeps at least one owner)")
    .action(async (teamName: string, user: string, _opts: unknown, cmd: Command) => {
      const { teamRemoveMemberCommand } = await import("./commands.js");
      await teamRemoveMemberCommand(clientFromCommand(cmd), { team: teamName, user }, processIo);
    });
}

/** Users and teams are read with `berth get`: these names go to the people commands, not to the kinds. */
export const PEOPLE_KINDS: Record<string, "users" | "teams"> = { user: "users", users: "users", team: "teams", teams: "teams" };

/** Adds login, kubeconfig, token, create user and team (issue 17). */
export function registerPeopleCommands(program: Command): void {
  registerLogin(program);
  registerTokens(program);
  registerUsersAndTeams(program);
}

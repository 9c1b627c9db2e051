import type { BerthClient } from "../shared/client.js";
import { needNamespace } from "../shared/common.js";
import { serverError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";
import { dbPath, type DbArgs } from "./paths.js";

type Credentials = Record<string, string | number>;
type Row = [string, unknown];

/** Label and value, one a line; the optional ones only when the engine has them. */
function credentialRows(c: Credentials): Row[] {
  return [
    ["engine", c.engine],
    ["host", `${c.host} (inside the project network)`],
    ["port", c.port],
    ["username", c.username],
    ["password", c.password],
    ["database", c.database],
    ...(c.rootPassword ? ([["root password", c.rootPassword]] as Row[]) : []),
    ["url", c.connectionString],
    ...(c.publishedConnectionString ? ([["url from this host", c.publishedConnectionString]] as Row[]) : []),
  ];
}

export async function credentialsCommand(client: BerthClient, args: DbArgs & { output: string }, io: Pick<Io, "out">): Promise<void> {
  const c = await client.request<Credentials>("GET", `${dbPath(needNamespace(args.namespace), args.name)}/credentials`).catch(serverError);
  if (args.output === "json") {
    io.out(JSON.stringify(c, null, 2));
    return;
  }
  if (args.output === "env") {
    // For a shell or a .env file on this host, so the published address when there is one.
    io.out(`DATABASE_URL=${c.publishedConnectionString ?? c.connectionString}`);
    return;
  }
  io.out(credentialRows(c).map(([k, v]) => `${(k + ":").padEnd(19)}${String(v)}`).join("\n"));
}

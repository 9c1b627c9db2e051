/**
 * `berth login` and `berth kubeconfig --user` (issue 17): a password exchanged for an API token
 * written into a kubeconfig context, and a kubeconfig an admin hands to someone. Neither the
 * password nor the token is ever printed (but `berth kubeconfig` without -o, whose output is
 * the kubeconfig itself) or put on a command line.
 */
import { readFileSync } from "node:fs";
import { BerthClient } from "../shared/client.js";
import { ApiCallError, CommandError, EXIT_USAGE, serverMessage } from "../shared/errors.js";
import type { Io } from "../shared/io.js";
import {
  clusterWithServer,
  connectionTo,
  currentCluster,
  kubeconfigText,
  loadKubeconfig,
  saveKubeconfig,
  selfContained,
  setCluster,
  setTokenContext,
  writePrivate,
  type KubeconfigDoc,
  type NamedCluster,
} from "../shared/kubeconfig-edit.js";
import { readPassword } from "../shared/password.js";

export interface LoginArgs {
  username: string;
  server?: string;
  certificateAuthority?: string;
  context?: string;
  passwordStdin?: boolean;
  /** The kubeconfig to update (kubeconfigToWrite). */
  file: string;
}

interface LoginAnswer {
  token: string;
  user: string;
  role: string;
}

/** A cluster name from a server URL: berth-host-port. */
function clusterNameFor(server: string): string {
  const u = new URL(server);
  return `berth-${u.hostname}${u.port ? `-${u.port}` : ""}`.replace(/[^A-Za-z0-9._-]/g, "-");
}

/** The cluster to log in to: --server (an entry with that server, or a new one), else the current context's. */
function clusterFor(k: KubeconfigDoc, args: LoginArgs): NamedCluster {
  if (!args.server) {
    const current = currentCluster(k);
    if (!current) throw new CommandError(`error: kubeconfig ${k.file} has no current context: pass --server URL (and --certificate-authority FILE)`, EXIT_USAGE);
    if (args.certificateAuthority) current.cluster = { ...current.cluster, "certificate-authority-data": readFileSync(args.certificateAuthority).toString("base64") };
    return current;
  }
  try {
    new URL(args.server);
  } catch {
    throw new CommandError(`error: --server ${args.server}: not a URL (e.g. https://berth.example.com:7443)`, EXIT_USAGE);
  }
  const known = clusterWithServer(k, args.server);
  const cluster = known ?? { name: clusterNameFor(args.server), cluster: { server: args.server } };
  if (args.certificateAuthority) {
    cluster.cluster = { ...cluster.cluster, "certificate-authority-data": readFileSync(args.certificateAuthority).toString("base64") };
    delete cluster.cluster["certificate-authority"];
  }
  return cluster;
}

export async function loginCommand(args: LoginArgs, io: Io): Promise<void> {
  const k = await loadKubeconfig(args.file);
  const cluster = clusterFor(k, args);
  const password = await readPassword({ fromStdin: args.passwordStdin, prompt: `Password for ${args.username}: ` }, io);
  // No bearer token: the login endpoint needs none, and the current context's is someone else's.
  const client = new BerthClient(connectionTo(k, cluster));
  let answer: LoginAnswer;
  try {
    answer = await client.request<LoginAnswer>("POST", "/berth/v1/login", { body: { username: args.username, password } });
  } catch (e) {
    if (e instanceof ApiCallError && e.code === 401) throw new CommandError(`error: login as "${args.username}" failed: wrong username or password (${serverMessage(e).split("\n")[0]}); ${k.file} is unchanged`);
    if (e instanceof ApiCallError) throw new CommandError(`${serverMessage(e)}\n${k.file} is unchanged`);
    throw e;
  } finally {
    client.close();
  }
  const context = args.context ?? `${answer.user}@${cluster.name}`;
  setCluster(k, cluster);
  setTokenContext(k, context, cluster.name, answer.token);
  await saveKubeconfig(k);
  io.out(`Logged in as ${answer.user} (${answer.role}). Context "${context}" is current.`);
}

export interface IssueArgs {
  user: string;
  output?: string;
  name?: string;
  expiresInDays?: string;
}

/** Days as the API takes them: a whole number (the server checks the range). */
export function days(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new CommandError(`error: --expires-in-days ${text}: a whole number of days`, EXIT_USAGE);
  return Number(text);
}

/** `berth kubeconfig --user U`: a new token for U (admins), in a kubeconfig of the current cluster. */
export async function issueKubeconfigCommand(client: BerthClient, kubeconfigPath: string, args: IssueArgs, io: Io): Promise<void> {
  const k = await loadKubeconfig(kubeconfigPath);
  const cluster = currentCluster(k);
  if (!cluster) throw new CommandError(`error: kubeconfig ${kubeconfigPath}: current-context is not set`);
  const name = args.name ?? `kubeconfig-${Date.now().toString(36)}`;
  const answer = await client.request<{ token: string; user: string; expiresAt: string | null }>("POST", "/berth/v1/tokens", { body: { user: args.user, name, expiresInDays: days(args.expiresInDays) } });
  const c = selfContained(k, cluster);
  const context = `${answer.user}@${c.name}`;
  const out: KubeconfigDoc = { file: args.output ?? kubeconfigPath, json: true, doc: { apiVersion: "v1", kind: "Config", clusters: [], users: [], contexts: [], preferences: {} } };
  setCluster(out, c);
  setTokenContext(out, context, c.name, answer.token);
  const text = await kubeconfigText(out);
  if (!args.output) {
    io.out(text.trimEnd());
    return;
  }
  writePrivate(args.output, text);
  io.err(`Wrote ${args.output} (mode 0600) for user ${answer.user}: token "${name}"${answer.expiresAt ? `, expires ${answer.expiresAt}` : ", no expiry"}. It holds a bearer token: hand it over privately.`);
}

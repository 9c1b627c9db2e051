/**
 * Fetches one ref of a Sync's repository with the real `git` binary (ADR 0013): a bare cache
 * repository per Sync, a shallow fetch, then the manifest files of `path` read from the commit
 * without a work tree. Always async spawn: the API server shares this event loop.
 */
import { spawn } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

export interface GitRef {
  url: string;
  branch?: string;
  tag?: string;
  commit?: string;
  path?: string;
}

export interface FetchedRevision {
  revision: string;
  /** Manifest files under path (.yaml/.yml), repository-relative, with their text. */
  files: { file: string; text: string }[];
}

/** git's words, with anything that looks like a credential in a URL removed. */
export class GitError extends Error {}

const scrub = (s: string): string => s.replace(/(\w+:\/\/)[^/@\s]+@/g, "$1***@");

/** Credentials for an HTTPS remote: git asks GIT_ASKPASS, which reads them from its environment. */
export interface GitAuth {
  token?: string;
}

/**
 * The askpass program: it holds no secret itself, it prints what the environment of this one git
 * process carries. So the token is never in argv, the URL, the cache's config or a file.
 */
const ASKPASS = `#!/bin/sh
case "$1" in
  Username*) printf '%s\n' "\${BERTH_GIT_USERNAME:-x-access-token}" ;;
  *) printf '%s\n' "$BERTH_GIT_TOKEN" ;;
esac
`;

async function askpass(cacheDir: string): Promise<string> {
  const file = path.join(path.dirname(cacheDir), "berth-askpass.sh");
  await writeFile(file, ASKPASS, { mode: 0o700 });
  await chmod(file, 0o700);
  return file;
}

interface GitRun {
  cwd: string;
  timeoutMs: number;
  env?: Record<string, string>;
  secrets?: string[];
}

function git(args: string[], run: GitRun): Promise<string> {
  const { cwd, timeoutMs } = run;
  const clean = (text: string): string => (run.secrets ?? []).reduce((t, s) => (s ? t.split(s).join("<redacted>") : t), scrub(text));
  return new Promise((resolve, reject) => {
    // No prompt may wait on a terminal, and no user or system config changes what is fetched.
    const env = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", ...(run.env ?? {}) };
    const child = spawn("git", args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => reject(new GitError(clean(e.message))));
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
      else reject(new GitError(clean(`git ${args[0]}: ${Buffer.concat(err).toString("utf8").trim() || `exit ${code}`}`)));
    });
  });
}

function refspec(ref: GitRef): string {
  if (ref.commit) return ref.commit;
  if (ref.tag) return `refs/tags/${ref.tag}`;
  return `refs/heads/${ref.branch ?? "main"}`;
}

const isManifest = (f: string): boolean => /\.ya?ml$/i.test(f);

/** Shallow-fetches the ref into `cacheDir` (a bare repository, made on first use) and reads path's manifests. */
export async function fetchRevision(ref: GitRef, cacheDir: string, timeoutMs = 60_000, auth: GitAuth = {}): Promise<FetchedRevision> {
  await mkdir(cacheDir, { recursive: true });
  const local: GitRun = { cwd: cacheDir, timeoutMs };
  await git(["init", "--bare", "--quiet"], local);
  const remote: GitRun = auth.token ? { ...local, env: { GIT_ASKPASS: await askpass(cacheDir), BERTH_GIT_TOKEN: auth.token }, secrets: [auth.token] } : local;
  // The URL goes in as an argument of fetch, never stored in the cache's config.
  await git(["fetch", "--depth", "1", "--quiet", "--no-tags", ref.url, refspec(ref)], remote);
  const revision = (await git(["rev-parse", "FETCH_HEAD^{commit}"], local)).trim();
  const dir = (ref.path ?? "").replace(/^\/+|\/+$/g, "");
  const listing = await git(["ls-tree", "-r", "--name-only", "-z", revision, ...(dir ? ["--", dir] : [])], local);
  const names = listing.split("\0").filter((f) => f && isManifest(f)).sort();
  const files = await Promise.all(names.map(async (file) => ({ file, text: await git(["show", `${revision}:${file}`], local) })));
  return { revision, files };
}

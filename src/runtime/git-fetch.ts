/**
 * Fetches one ref of a Sync's repository with the real `git` binary (ADR 0013): a bare cache
 * repository per Sync, a shallow fetch, then the manifest files of `path` read from the commit
 * without a work tree. Always async spawn: the API server shares this event loop.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { PassThrough, type Readable } from "node:stream";

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
  /** The HTTPS username that goes with the token (default x-access-token, which GitHub takes). */
  username?: string;
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
  // The remote's default branch (an Application's git source without a branch).
  if (ref.branch === "HEAD") return "HEAD";
  return `refs/heads/${ref.branch ?? "main"}`;
}

const isManifest = (f: string): boolean => /\.ya?ml$/i.test(f);

async function remoteRun(local: GitRun, cacheDir: string, auth: GitAuth): Promise<GitRun> {
  if (!auth.token) return local;
  const env: Record<string, string> = { GIT_ASKPASS: await askpass(cacheDir), BERTH_GIT_TOKEN: auth.token, ...(auth.username ? { BERTH_GIT_USERNAME: auth.username } : {}) };
  return { ...local, env, secrets: [auth.token] };
}

/** Shallow-fetches the ref into the bare cache repository `cacheDir` (made on first use); the fetched commit. */
export async function fetchCommit(ref: GitRef, cacheDir: string, timeoutMs = 60_000, auth: GitAuth = {}): Promise<string> {
  await mkdir(cacheDir, { recursive: true });
  const local: GitRun = { cwd: cacheDir, timeoutMs };
  if (!existsSync(path.join(cacheDir, "HEAD"))) await git(["init", "--bare", "--quiet"], local);
  // The URL goes in as an argument of fetch, never stored in the cache's config.
  await git(["fetch", "--depth", "1", "--quiet", "--no-tags", ref.url, refspec(ref)], await remoteRun(local, cacheDir, auth));
  // FETCH_HEAD's first line names the commit fetched (a tag is peeled by rev-parse only when it is not one).
  const head = /^([0-9a-f]{40})\t/.exec(await readFile(path.join(cacheDir, "FETCH_HEAD"), "utf8"))?.[1];
  return head && !ref.tag ? head : (await git(["rev-parse", "FETCH_HEAD^{commit}"], local)).trim();
}

/** The text of `file` at `commit` in the cache repository; undefined when the commit has no such file. */
export async function readAt(cacheDir: string, commit: string, file: string): Promise<string | undefined> {
  const p = file.replace(/^\.?\/+/, "");
  return git(["show", `${commit}:${p}`], { cwd: cacheDir, timeoutMs: 30_000 }).catch(() => undefined);
}

/** Whether the cache repository already holds `commit` (fetched when its ref was resolved). */
export async function hasCommit(cacheDir: string, commit: string): Promise<boolean> {
  if (!existsSync(path.join(cacheDir, "HEAD"))) return false;
  return git(["cat-file", "-e", `${commit}^{commit}`], { cwd: cacheDir, timeoutMs: 10_000 }).then(
    () => true,
    () => false,
  );
}

/**
 * A tar of `dir` of `commit` in the cache repository, streamed from `git archive` (no work tree):
 * the build context sent to the engine. The stream errors if git fails.
 */
export function archiveTree(cacheDir: string, commit: string, dir: string): Readable {
  const sub = dir.replace(/^\.?\/+|\/+$/g, "").replace(/^\.$/, "");
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
  const child = spawn("git", ["archive", "--format=tar", sub ? `${commit}:${sub}` : commit], { cwd: cacheDir, env, stdio: ["ignore", "pipe", "pipe"] });
  const out = new PassThrough();
  const err: Buffer[] = [];
  child.stderr.on("data", (b: Buffer) => err.push(b));
  child.stdout.pipe(out, { end: false });
  child.on("error", (e) => out.destroy(new GitError(scrub(e.message))));
  child.on("close", (code) => {
    if (code === 0) out.end();
    else out.destroy(new GitError(scrub(`git archive: ${Buffer.concat(err).toString("utf8").trim() || `exit ${code}`}`)));
  });
  return out;
}

/** Shallow-fetches the ref into `cacheDir` (a bare repository, made on first use) and reads path's manifests. */
export async function fetchRevision(ref: GitRef, cacheDir: string, timeoutMs = 60_000, auth: GitAuth = {}): Promise<FetchedRevision> {
  const local: GitRun = { cwd: cacheDir, timeoutMs };
  const revision = await fetchCommit(ref, cacheDir, timeoutMs, auth);
  const dir = (ref.path ?? "").replace(/^\/+|\/+$/g, "");
  const listing = await git(["ls-tree", "-r", "--name-only", "-z", revision, ...(dir ? ["--", dir] : [])], local);
  const names = listing.split("\0").filter((f) => f && isManifest(f)).sort();
  const files = await Promise.all(names.map(async (file) => ({ file, text: await git(["show", `${revision}:${file}`], local) })));
  return { revision, files };
}

/**
 * Real git for the Sync tests (issue 15): a bare repository on local disk, a work clone that
 * commits and pushes to it, and `git daemon` serving it on 127.0.0.1 so a Sync fetches over
 * the git:// protocol as it would from a real remote.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { freePort } from "../../src/store/embedded.js";
import { tempDir, removeDir } from "./berth.js";

export function git(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.test", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.test", GIT_CONFIG_GLOBAL: "/dev/null" };
    const c = spawn("git", args, { cwd, env });
    let out = "";
    let err = "";
    c.stdout.on("data", (b: Buffer) => (out += b.toString()));
    c.stderr.on("data", (b: Buffer) => (err += b.toString()));
    c.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`git ${args.join(" ")}: ${err}`))));
  });
}

export interface TestRepo {
  /** git://127.0.0.1:PORT/infra.git, served by git daemon. */
  url: string;
  dir: string;
  /** Writes (or with null deletes) files in the clone, commits and pushes; the new sha. */
  commit(files: Record<string, string | null>, message: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startGitRepo(): Promise<TestRepo> {
  const dir = tempDir("berth-git-");
  const bare = path.join(dir, "infra.git");
  const clone = path.join(dir, "clone");
  await git(["init", "--bare", "-q", "-b", "main", bare], dir);
  await git(["clone", "-q", bare, clone], dir);
  await git(["checkout", "-q", "-b", "main"], clone);
  const port = await freePort();
  const daemon: ChildProcess = spawn("git", ["daemon", "--reuseaddr", "--export-all", `--base-path=${dir}`, "--listen=127.0.0.1", `--port=${port}`, dir], { stdio: ["ignore", "ignore", "pipe"] });
  await waitListening(port);
  return {
    url: `git://127.0.0.1:${port}/infra.git`,
    dir,
    commit: async (files, message) => {
      for (const [f, text] of Object.entries(files)) {
        const p = path.join(clone, f);
        if (text === null) rmSync(p, { force: true });
        else {
          mkdirSync(path.dirname(p), { recursive: true });
          writeFileSync(p, text);
        }
      }
      await git(["add", "-A"], clone);
      await git(["commit", "-q", "--allow-empty", "-m", message], clone);
      await git(["push", "-q", "origin", "HEAD:main"], clone);
      return (await git(["rev-parse", "HEAD"], clone)).trim();
    },
    stop: async () => {
      daemon.kill();
      removeDir(dir);
    },
  };
}

async function waitListening(port: number): Promise<void> {
  const net = await import("node:net");
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => (s.end(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`git daemon did not listen on 127.0.0.1:${port}`);
}

/**
 * The repository over smart HTTP (git http-backend as CGI behind a Node server on 127.0.0.1)
 * that wants HTTP Basic auth with `token` as the password, as GitHub or Gitea take a token.
 */
export async function serveGitHttp(repoDir: string, token: string): Promise<{ url: string; users: string[]; close: () => Promise<void> }> {
  const http = await import("node:http");
  const users: string[] = [];
  const server = http.createServer((req, res) => {
    const [scheme, encoded] = (req.headers.authorization ?? "").split(" ");
    const [user, password] = Buffer.from(encoded ?? "", "base64").toString("utf8").split(":");
    if (scheme !== "Basic" || password !== token) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' }).end();
      return;
    }
    users.push(user);
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const env = { ...process.env, GIT_PROJECT_ROOT: repoDir, GIT_HTTP_EXPORT_ALL: "1", PATH_INFO: url.pathname, QUERY_STRING: url.search.slice(1), REQUEST_METHOD: req.method ?? "GET", CONTENT_TYPE: req.headers["content-type"] ?? "", REMOTE_USER: user, GIT_CONFIG_GLOBAL: "/dev/null" };
    const cgi = spawn("git", ["http-backend"], { env });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let sent = false;
    cgi.stdout.on("data", (chunk: Buffer) => {
      if (sent) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.subarray(0, end).toString("utf8").split("\r\n")) {
        const i = line.indexOf(":");
        const [k, v] = [line.slice(0, i).trim(), line.slice(i + 1).trim()];
        if (k.toLowerCase() === "status") status = Number(v.split(" ")[0]);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      sent = true;
      res.write(head.subarray(end + 4));
    });
    cgi.on("close", () => res.end());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/infra.git`, users, close: () => new Promise((r) => server.close(() => r())) };
}

import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, existsSync, readFileSync } from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import winston from "winston";
import { startBerth, type Berth } from "../../src/main.js";
import { freePort } from "../../src/store/embedded.js";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BERTH_BIN = path.join(REPO, "bin", "berth.js");

/** A temporary directory the embedded Postgres (user "postgres" when we are root) can enter. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(dir, 0o711);
  return dir;
}

export function quietLogger(): winston.Logger {
  return winston.createLogger({ level: process.env.BERTH_TEST_LOG_LEVEL ?? "error", transports: [new winston.transports.Console({ silent: !process.env.BERTH_TEST_LOGS })] });
}

/** An in-process Berth on a temporary data dir; with no URL it starts its embedded Postgres. */
export async function startTestBerth(opts: { databaseUrl?: string; dataDir?: string; controllers?: boolean; resyncMs?: number; logger?: winston.Logger } = {}): Promise<Berth & { dataDir: string; cleanup(): Promise<void> }> {
  const dataDir = opts.dataDir ?? tempDir("berth-test-");
  // API-only unless a suite asks for controllers, so API tests never touch Docker.
  const berth = await startBerth({ dataDir, listen: "127.0.0.1:0", databaseUrl: opts.databaseUrl, logger: opts.logger ?? quietLogger(), controllers: opts.controllers ?? false, resyncMs: opts.resyncMs });
  return {
    ...berth,
    dataDir,
    cleanup: async () => {
      await berth.stop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A reply body as JSON when it is JSON, else its text. */
export function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

/** A raw HTTPS request to a Berth API, trusting its CA; `token: null` sends none. */
export async function call(berth: { url: string; caPem: string; token: string }, method: string, urlPath: string, body?: unknown, opts: { contentType?: string; token?: string | null; accept?: string } = {}): Promise<HttpReply> {
  const url = new URL(urlPath, berth.url);
  const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  const headers: Record<string, string> = { Accept: opts.accept ?? "application/json" };
  const token = opts.token === undefined ? berth.token : opts.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (payload !== undefined) headers["Content-Type"] = opts.contentType ?? "application/json";
  // Node sends a DELETE body with neither length nor chunking, which no server can frame.
  if (payload !== undefined) headers["Content-Length"] = String(Buffer.byteLength(payload));
  return await new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca: berth.caPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const parsed = jsonOrText(text);
        // A 500 is a bug of the server's, whatever a test expected: every suite fails on one.
        if (res.statusCode === 500) reject(new Error(`the server answered 500 to ${method} ${urlPath}: ${text.slice(0, 500)}`));
        else resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
      });
    });
    req.on("error", reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** `berth serve` as a real child process, the way a user starts it. */
export interface ServeProcess {
  child: ChildProcess;
  dataDir: string;
  kubeconfig: string;
  url: string;
  caPem: string;
  token: string;
  logs: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function spawnServe(opts: { dataDir?: string; databaseUrl?: string; port?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ServeProcess> {
  const dataDir = opts.dataDir ?? tempDir("berth-serve-");
  const port = opts.port ?? (await freePort());
  const args = [BERTH_BIN, "--data-dir", dataDir, "serve", "--listen", `127.0.0.1:${port}`];
  if (opts.databaseUrl) args.push("--database-url", opts.databaseUrl);
  const child = spawn(process.execPath, args, { env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  let logs = "";
  child.stdout!.on("data", (c: Buffer) => (logs += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (logs += c.toString()));
  const kubeconfig = path.join(dataDir, "kubeconfig.yaml");
  const deadline = Date.now() + 60_000;
  while (!/berth is serving on/.test(logs)) {
    if (child.exitCode !== null) throw new Error(`berth serve exited with ${child.exitCode}:\n${logs}`);
    if (Date.now() > deadline) throw new Error(`berth serve did not start in 60 s:\n${logs}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const token = readFileSync(path.join(dataDir, "admin.token"), "utf8").trim();
  const caPem = readFileSync(path.join(dataDir, "tls", "ca.crt"), "utf8");
  return {
    child,
    dataDir,
    kubeconfig,
    url: `https://127.0.0.1:${port}`,
    caPem,
    token,
    logs: () => logs,
    stop: async (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill(signal);
        await exited;
      }
      // Whoever sent it (kubectl, client-node, a raw socket): a 500 the server logged fails the suite.
      const failed = logs.split("\n").filter((l) => l.includes('"request failed"'));
      if (failed.length) throw new Error(`berth serve answered 500 ${failed.length} time(s):\n${failed.slice(0, 3).join("\n")}`);
    },
  };
}

/** Ends every server of a suite however it was left (a frozen one is thawed first) and removes its data dir. */
export async function killServes(servers: ServeProcess[]): Promise<void> {
  for (const s of servers.splice(0)) {
    s.child.kill("SIGCONT");
    await s.stop("SIGKILL").catch(() => undefined);
    removeDir(s.dataDir);
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `berth` CLI as a user would. */
export async function runBerth(args: string[], opts: { kubeconfig?: string; stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  const full = [BERTH_BIN, ...(opts.kubeconfig ? ["--kubeconfig", opts.kubeconfig] : []), ...args];
  const child = spawn(process.execPath, full, { env: { ...process.env, ...opts.env }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(opts.stdin ?? "");
  const code: number = await new Promise((r) => child.on("close", (c) => r(c ?? -1)));
  return { code, stdout, stderr };
}

export function removeDir(dir: string): void {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

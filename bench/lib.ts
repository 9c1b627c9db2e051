/**
 * Small helpers shared by the benchmarks: /proc readers, an HTTPS client for the Berth API,
 * a `berth serve` launcher that times its start, and table/statistics printing.
 * Kept separate from test/helpers so a benchmark does not change when a test helper does.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const BERTH_BIN = path.join(REPO, "bin", "berth.js");
export const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A temporary directory the embedded Postgres (user "postgres" when we are root) can enter. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(dir, 0o711);
  return dir;
}

export function removeDir(dir: string): void {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- /proc

interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** user + system CPU of this process alone, in clock ticks */
  ticks: number;
  /** user + system CPU of its children that have exited and been waited for (cutime + cstime) */
  childTicks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = text.lastIndexOf(")");
    const comm = text.slice(text.indexOf("(") + 1, close);
    const f = text.slice(close + 2).split(" ");
    // f[0] = state (field 3); ppid is field 4, utime 14, stime 15
    return { pid, comm, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), childTicks: Number(f[13]) + Number(f[14]) };
  } catch {
    return undefined;
  }
}

function allStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const s = readStat(Number(d));
    if (s) out.push(s);
  }
  return out;
}

/** `root` and every process below it (by parent pid), root first. */
export function processTree(root: number): ProcStat[] {
  const stats = allStats();
  const byParent = new Map<number, ProcStat[]>();
  for (const s of stats) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
  const rootStat = stats.find((s) => s.pid === root);
  if (!rootStat) return [];
  const out: ProcStat[] = [];
  const stack = [rootStat];
  while (stack.length) {
    const s = stack.pop()!;
    out.push(s);
    stack.push(...(byParent.get(s.pid) ?? []));
  }
  return out;
}

/** The postmaster of a cluster directory (first line of postmaster.pid) and its children. */
export function postgresTree(pgdata: string): ProcStat[] {
  const file = path.join(pgdata, "postmaster.pid");
  if (!existsSync(file)) return [];
  const pid = Number(readFileSync(file, "utf8").split("\n")[0]);
  return pid ? processTree(pid) : [];
}

function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Resident set size in KiB. */
export function rssKb(pid: number): number {
  return statusKb(pid, "VmRSS");
}

/** Proportional set size in KiB: shared pages (Postgres shared buffers, libraries) split between their users. */
export function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export interface Memory {
  processes: number;
  rssMb: number;
  pssMb: number;
}

export function memoryOf(pids: number[]): Memory {
  const rss = pids.reduce((n, p) => n + rssKb(p), 0);
  const pss = pids.reduce((n, p) => n + pssKb(p), 0);
  return { processes: pids.length, rssMb: rss / 1024, pssMb: pss / 1024 };
}

/** CPU seconds (user + system) consumed so far by the given processes. */
export function cpuSeconds(pids: number[]): number {
  return pids.reduce((n, p) => n + (readStat(p)?.ticks ?? 0), 0) / CLK_TCK;
}

/**
 * CPU seconds consumed so far by a process tree, counting children that already exited (a
 * Postgres backend ends when its connection closes): it only grows, unlike a sum over live pids.
 */
export function treeCpuSeconds(tree: ProcStat[]): number {
  return tree.reduce((n, p) => n + p.ticks + p.childTicks, 0) / CLK_TCK;
}

/** CPU seconds of this process's children that have exited and been waited for. */
export function waitedChildrenCpuSeconds(): number {
  return (readStat(process.pid)?.childTicks ?? 0) / CLK_TCK;
}

export function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(" ");
}

// ---------------------------------------------------------------- HTTP

export interface Endpoint {
  url: string;
  caPem?: string;
  token?: string;
}

export interface Reply {
  status: number;
  text: string;
  body: any;
}

/** One HTTPS request; with no CA the server's certificate is not verified (for /readyz before the CA exists). */
export async function call(ep: Endpoint, method: string, urlPath: string, body?: unknown, contentType = "application/json"): Promise<Reply> {
  const url = new URL(urlPath, ep.url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { Accept: "application/json" };
  if (ep.token) headers.Authorization = `Bearer ${ep.token}`;
  if (payload !== undefined) headers["Content-Type"] = contentType;
  return await new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ...(ep.caPem ? { ca: ep.caPem } : { rejectUnauthorized: false }), agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, text, body: parsed });
      });
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Sum of every sample of a Prometheus counter whose labels contain all of `match`. */
export function metricSum(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    const labels = /\{([^}]*)\}/.exec(line)?.[1] ?? "";
    if (!Object.entries(match).every(([k, v]) => labels.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

// ---------------------------------------------------------------- berth serve

export interface Serve {
  child: ChildProcess;
  pid: number;
  dataDir: string;
  port: number;
  url: string;
  caPem: string;
  token: string;
  /** ms from spawn to the first 200 from /readyz */
  readyMs: number;
  /** CPU seconds the process tree had used by then (node, initdb, postgres, exited children included) */
  readyCpuS: number;
  /** ms from spawn to each interesting log line (migrated, serving); startServe returns after "serving" */
  marks: Record<string, number>;
  logs(): string;
  stop(): Promise<void>;
}

/** Starts `node bin/berth.js serve` on `dataDir` and polls /readyz every 10 ms until it answers 200. */
export async function startServe(dataDir: string, port: number, env: NodeJS.ProcessEnv = {}): Promise<Serve> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BERTH_BIN, "--data-dir", dataDir, "serve", "--listen", `127.0.0.1:${port}`], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let logs = "";
  const marks: Record<string, number> = {};
  const onData = (c: Buffer) => {
    logs += c.toString();
    const now = performance.now() - t0;
    if (marks.migrated === undefined && /migrations applied/.test(logs)) marks.migrated = now;
    if (marks.serving === undefined && /"berth is serving"/.test(logs)) marks.serving = now;
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const url = `https://127.0.0.1:${port}`;
  let readyMs: number;
  let readyCpuS: number;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`berth serve exited with ${child.exitCode}:\n${logs}`);
    if (performance.now() - t0 > 120_000) throw new Error(`berth serve did not answer /readyz in 120 s:\n${logs}`);
    const r = await call({ url }, "GET", "/readyz").catch(() => undefined);
    if (r?.status === 200) {
      readyMs = performance.now() - t0;
      readyCpuS = treeCpuSeconds(processTree(child.pid!));
      break;
    }
    await sleep(10);
  }
  // /readyz answers as soon as the API listens; the controllers start after it. Wait for both.
  while (marks.serving === undefined) {
    if (child.exitCode !== null) throw new Error(`berth serve exited with ${child.exitCode}:\n${logs}`);
    if (performance.now() - t0 > 120_000) throw new Error(`berth serve did not log "berth is serving" in 120 s:\n${logs}`);
    await sleep(10);
  }
  const token = readFileSync(path.join(dataDir, "admin.token"), "utf8").trim();
  const caPem = readFileSync(path.join(dataDir, "tls", "ca.crt"), "utf8");
  return {
    child,
    pid: child.pid!,
    dataDir,
    port,
    url,
    caPem,
    token,
    readyMs,
    readyCpuS,
    marks,
    logs: () => logs,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** Where a data dir's embedded cluster lives (see src/store/embedded.ts clusterRoot). */
export function pgdataOf(dataDir: string): string {
  const loc = path.join(dataDir, "postgres.location");
  const root = existsSync(loc) ? readFileSync(loc, "utf8").trim() : path.join(dataDir, "postgres");
  return path.join(root, "data");
}

// ---------------------------------------------------------------- statistics and output

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

export function ratio(a: number, b: number): string {
  return b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(2)}×` : "n/a";
}

/** A plain-text table (also valid Markdown). */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (c ?? "").padEnd(widths[i])).join(" | ")} |`;
  return [line(headers), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

export function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

export function machine(): string {
  let docker = "unknown";
  try {
    docker = execFileSync("docker", ["version", "--format", "{{.Server.Version}}"], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    // no docker CLI
  }
  return `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, Docker ${docker}, load average ${loadAverage()}`;
}

/**
 * Samples the 1-minute load average every 5 s while a benchmark runs: this machine is shared,
 * and a figure taken at load 20 on 2 CPUs is not one taken at load 1.
 */
export function loadSampler(): { summary(): string } {
  const samples: number[] = [os.loadavg()[0]];
  const timer = setInterval(() => samples.push(os.loadavg()[0]), 5000);
  timer.unref();
  return {
    summary: () => `1-min load average during the run: min ${Math.min(...samples).toFixed(1)}, median ${median(samples).toFixed(1)}, max ${Math.max(...samples).toFixed(1)} (${samples.length} samples, ${os.cpus().length} CPUs)`,
  };
}

/**
 * The Projects' networks outlive a data dir that is simply removed, and the engine's default
 * address pools hold only ~30 networks: a bench that leaves its Projects' networks behind makes
 * the next run (or test) fail to create one.
 */
export function removeProjectNetworks(projects: string[]): void {
  for (const p of projects) {
    try {
      execFileSync("docker", ["network", "rm", `berth-${p}`], { stdio: "ignore" });
    } catch {
      // not there (never created, or already removed)
    }
  }
}

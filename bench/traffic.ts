/**
 * Requests through a real Caddy while Berth rolls an Application, against the same load with
 * no rollout, in one run:
 *   a steady open-loop load (GETs at BENCH_RATE/s on keep-alive connections, plus slow POSTs —
 *   300 ms each, never retried by Caddy or the client — at a fifth of that) goes through a
 *   Domain to a 3-replica Application (maxSurge 1, maxUnavailable 0); rounds alternate between
 *   a quiet window and a rolling update of all 3 replicas. Printed: failed requests (target 0),
 *   p50/p99 latency, and the rollout's p99 as a ratio of the quiet p99.
 *
 *   npx tsx bench/traffic.ts
 *   (BENCH_ROUNDS=3, BENCH_RATE=100, BENCH_QUIET_SECONDS=10; BENCH_MIGRATE_REQ=both measures
 *   with net.ipv4.tcp_migrate_req off, then on, as root; BENCH_CADDY_DEBUG=1 shows the upstream
 *   of each failed request)
 */
import { writeFileSync } from "node:fs";
import { Writable } from "node:stream";
import winston from "winston";
import { startBerth, type Berth } from "../src/main.js";
import { MIGRATE_REQ_PATH, reloadSafety } from "../src/router/reload-safety.js";
import { startCaddy, type TestCaddy } from "../test/helpers/caddy.js";
import { cleanupProject, ensureSlowHttpImage, handOverSpec } from "../test/helpers/docker.js";
import { startLoad, type LoadResult } from "../test/helpers/load.js";
import { call, fmt, loadSampler, log, machine, median, ratio, removeDir, sleep, table, tempDir } from "./lib.js";

const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const RATE = Number(process.env.BENCH_RATE ?? 100);
const QUIET_S = Number(process.env.BENCH_QUIET_SECONDS ?? 10);
const G = "/apis/berth.dev/v1alpha1";
const P = `bench-traffic-${process.pid}`;
const HOST = `web.${P}.test`;

interface Window {
  kind: "quiet" | "rollout";
  /** net.ipv4.tcp_migrate_req while it ran. */
  migrate: string;
  seconds: number;
  gets: LoadResult;
  posts: LoadResult;
}

type Ep = { url: string; caPem: string; token: string };

async function must(r: Promise<{ status: number; text: string }>, want: number, what: string): Promise<void> {
  const x = await r;
  if (x.status !== want) throw new Error(`${what}: ${x.status} ${x.text}`);
}

async function readyAt(ep: Ep, generation: number): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const a = (await call(ep, "GET", `${G}/namespaces/${P}/applications/web`)).body as any;
    const ready = a?.status?.conditions?.find((c: any) => c.type === "Ready");
    if (ready?.status === "True" && a.status.observedGeneration >= generation && a.status.readyReplicas === 3) return;
    if (Date.now() > deadline) throw new Error(`web not Ready at generation ${generation}: ${JSON.stringify(a?.status?.conditions)}`);
    await sleep(100);
  }
}

async function setUp(ep: Ep): Promise<void> {
  await must(call(ep, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} }), 201, "project");
  const spec = handOverSpec({ ROUND: "0" });
  await must(call(ep, "POST", `${G}/namespaces/${P}/applications`, { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "web", namespace: P }, spec }), 201, "application");
  await must(call(ep, "POST", `${G}/namespaces/${P}/domains`, { apiVersion: "berth.dev/v1alpha1", kind: "Domain", metadata: { name: "web", namespace: P }, spec: { host: HOST, target: { application: "web", port: 8080 } } }), 201, "domain");
  await readyAt(ep, 1);
  await sleep(2000);
}

/** Load for the length of `during` (a fixed quiet window, or a rollout until Ready). */
async function measure(caddy: TestCaddy, kind: Window["kind"], during: () => Promise<void>): Promise<Window> {
  const t0 = Date.now();
  const gets = startLoad({ port: caddy.httpPort, host: HOST, rate: RATE, maxMs: 600_000 });
  const posts = startLoad({ port: caddy.httpPort, host: HOST, path: "/cgi-bin/slow", method: "POST", keepAlive: false, rate: Math.max(1, RATE / 5), maxMs: 600_000 });
  await during();
  await sleep(500);
  const w = { kind, migrate: reloadSafety(), seconds: (Date.now() - t0) / 1000, gets: await gets.stop(), posts: await posts.stop() };
  log(`${kind}: ${w.seconds.toFixed(1)} s, GET ${w.gets.failed}/${w.gets.sent} failed (p99 ${w.gets.p99} ms), POST ${w.posts.failed}/${w.posts.sent} failed (p99 ${w.posts.p99} ms)`);
  for (const f of [...w.gets.failures, ...w.posts.failures]) log(`  failed: ${f}`);
  return w;
}

function row(label: string, ws: Window[]): string[] {
  const sum = (f: (w: Window) => number): number => ws.reduce((n, w) => n + f(w), 0);
  return [
    label,
    String(ws.length),
    fmt(median(ws.map((w) => w.seconds)), 1),
    `${sum((w) => w.gets.failed)} / ${sum((w) => w.gets.sent)}`,
    String(sum((w) => w.gets.retried)),
    fmt(median(ws.map((w) => w.gets.p50))),
    fmt(median(ws.map((w) => w.gets.p99))),
    `${sum((w) => w.posts.failed)} / ${sum((w) => w.posts.sent)}`,
    fmt(median(ws.map((w) => w.posts.p99))),
  ];
}

function report(windows: Window[]): string {
  const rows: string[][] = [];
  const settings = [...new Set(windows.map((w) => w.migrate))];
  for (const m of settings) {
    const of = (kind: Window["kind"]): Window[] => windows.filter((w) => w.kind === kind && w.migrate === m);
    rows.push(row(`no rollout (${QUIET_S} s windows), tcp_migrate_req ${m}`, of("quiet")));
    rows.push(row(`rolling update of 3 replicas, tcp_migrate_req ${m}`, of("rollout")));
  }
  const q = (f: (w: Window) => number): number => median(windows.filter((w) => w.kind === "quiet").map(f));
  const r = (f: (w: Window) => number): number => median(windows.filter((w) => w.kind === "rollout").map(f));
  return [
    table(["window", "rounds", "median s", "GET failed / sent", "GET retried (keep-alive close)", "GET p50 ms", "GET p99 ms", "slow POST failed / sent", "POST p99 ms"], rows),
    "",
    `rollout p99 / quiet p99: GET ${ratio(r((w) => w.gets.p99), q((w) => w.gets.p99))}, slow POST ${ratio(r((w) => w.posts.p99), q((w) => w.posts.p99))}`,
  ].join("\n");
}

/**
 * The kernel settings to measure under: as the machine has it, or (BENCH_MIGRATE_REQ=both, as
 * root) off then on, to show what the setting is worth; the original value is put back.
 */
function migrateVariants(): string[] {
  return process.env.BENCH_MIGRATE_REQ === "both" ? ["0", "1"] : [""];
}

function setMigrate(value: string): void {
  if (value) writeFileSync(MIGRATE_REQ_PATH, value);
}

/** Berth's info log kept in memory, so a failed request can be shown beside what Berth did then. */
function memoryLogger(lines: string[]): winston.Logger {
  const sink = new Writable({ write: (chunk: Buffer, _enc, done): void => (lines.push(chunk.toString().trim()), done()) });
  return winston.createLogger({ level: "info", format: winston.format.combine(winston.format.timestamp(), winston.format.json()), transports: [new winston.transports.Stream({ stream: sink })] });
}

/** For each failed request: Berth's log and Caddy's errors in the second before it. */
function explainFailures(w: Window, berthLog: string[], caddyLog: string): void {
  const failed = [...w.gets.samples, ...w.posts.samples].filter((s) => s.status !== 200);
  if (!failed.length) return;
  const from = Math.min(...failed.map((s) => s.at)) - 1000;
  const to = Math.max(...failed.map((s) => s.at + s.ms)) + 200;
  const within = (line: string): boolean => {
    const m = /"(?:timestamp|ts)":\s*"?([0-9T:.\-Z]+)"?/.exec(line);
    const t = m ? (m[1].includes("T") ? Date.parse(m[1]) : Number(m[1]) * 1000) : NaN;
    return t >= from && t <= to;
  };
  for (const l of berthLog.filter(within)) log(`  berth: ${l.slice(0, 400)}`);
  const interesting = (x: string): boolean => x.includes('"error"') || (process.env.BENCH_CADDY_DEBUG !== undefined && /upstream|dial|roundtrip/.test(x));
  for (const l of caddyLog.split("\n").filter((x) => interesting(x) && within(x))) log(`  caddy: ${l.slice(0, 1200)}`);
}

async function main(): Promise<void> {
  const load = loadSampler();
  const originalMigrate = reloadSafety() === "on" ? "1" : "0";
  log(machine());
  log(`net.ipv4.tcp_migrate_req: ${reloadSafety()} (scripts/tune-host.sh; off, a Caddy load can reset an arriving connection)`);
  await ensureSlowHttpImage();
  const caddy = await startCaddy();
  // Caddy's debug log names the upstream of every proxied request; the failures are shown with it.
  if (process.env.BENCH_CADDY_DEBUG) await fetch(`${caddy.adminUrl}/config/logging`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ logs: { default: { level: "DEBUG" } } }) });
  const dataDir = tempDir("berth-bench-traffic-");
  let berth: Berth | undefined;
  const berthLog: string[] = [];
  try {
    berth = await startBerth({ dataDir, listen: "127.0.0.1:0", logger: memoryLogger(berthLog), controllers: true, router: { adminUrl: caddy.adminUrl, httpPort: caddy.httpPort, httpsPort: caddy.httpsPort, bindHost: "127.0.0.1" } });
    const ep = berth;
    await setUp(ep);
    const windows: Window[] = [];
    let round = 0;
    for (const m of migrateVariants()) {
      setMigrate(m);
      for (let i = 1; i <= ROUNDS; i++) {
        round++;
        windows.push(await measure(caddy, "quiet", () => sleep(QUIET_S * 1000)));
        const w = await measure(caddy, "rollout", async () => {
          const r = await call(ep, "PATCH", `${G}/namespaces/${P}/applications/web`, { spec: { env: { ROUND: String(round) } } }, "application/merge-patch+json");
          await readyAt(ep, (r.body as any).metadata.generation);
        });
        explainFailures(w, berthLog, caddy.logs());
        windows.push(w);
      }
    }
    console.log(`\n${machine()}, net.ipv4.tcp_migrate_req ${reloadSafety()}\n${load.summary()}\n\n${report(windows)}\n`);
  } finally {
    if (process.env.BENCH_MIGRATE_REQ === "both") setMigrate(originalMigrate);
    await berth?.stop();
    await caddy.stop();
    await cleanupProject(P).catch(() => undefined);
    removeDir(dataDir);
  }
}

await main();

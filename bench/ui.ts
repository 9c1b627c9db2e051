/**
 * Issue 19's benchmark: the dashboard's first screen and what an open dashboard costs the server.
 * One `berth serve` (embedded defaults, `dist/`), 50 Projects of 20 suspended Applications each
 * (1,000 objects, no containers), Debian's chromium through playwright-core.
 *   (a) first screen: a fresh browser context with the session cookie opens /ui/ → all 50 tiles
 *       rendered with their counts (the four lists the screen reads, then their watches). Medians
 *       of BENCH_ROUNDS (default 7). Goal ≤ 1 s. Beside it, in the same run: `kubectl get
 *       applications -A` (the same 1,000 objects as a table) and the four lists fetched directly.
 *   (b) idle memory of berth serve (node + its Postgres, RSS and PSS) after 10 s idle, without and
 *       then with one dashboard open on the first screen (its four watches). Goal: within the
 *       footprint issue's 200 MB.
 *
 *   npx tsx bench/ui.ts
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser } from "playwright-core";
import { freePort } from "../src/store/embedded.js";
import { call, fmt, log, loadSampler, machine, median, memoryOf, pgdataOf, postgresTree, processTree, removeDir, removeProjectNetworks, sleep, startServe, table, tempDir, type Serve } from "./lib.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const PROJECTS = 50;
const PER_PROJECT = 20;
const G = "/apis/berth.dev/v1alpha1";
const run = promisify(execFile);

function chromiumPath(): string {
  const exe = [process.env.BERTH_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p): p is string => !!p && existsSync(p));
  if (!exe) throw new Error("no chromium: apt-get install chromium (scripts/install-system-deps.sh)");
  return exe;
}

async function populate(srv: Serve): Promise<void> {
  for (let p = 0; p < PROJECTS; p++) {
    const ns = `ui-${String(p).padStart(2, "0")}`;
    const r = await call(srv, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: ns }, spec: {} });
    if (r.status !== 201) throw new Error(`project: ${r.status}`);
    const items = Array.from({ length: PER_PROJECT }, (_, i) => ({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: `app-${i}`, namespace: ns }, spec: { source: { image: "berth-test/busybox:1" }, suspend: true } }));
    const a = await call(srv, "POST", "/berth/v1/apply", { items });
    if (a.status !== 200) throw new Error(`apply: ${a.status}`);
  }
}

/** The cookies a login with the installation token sets (the browser then carries them). */
async function sessionCookie(srv: Serve): Promise<{ name: string; value: string }[]> {
  const body = JSON.stringify({ token: srv.token });
  return new Promise((resolve, reject) => {
    const req = https.request(new URL("/ui/session", srv.url), { method: "POST", ca: srv.caPem, headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), Origin: srv.url } }, (res) => {
      res.resume();
      const all = ([] as string[]).concat(res.headers["set-cookie"] ?? []).map((c) => c.split(";")[0]!);
      if (!all.some((c) => c.startsWith("berth_session="))) return reject(new Error(`login answered ${res.statusCode} without a session cookie`));
      resolve(all.map((c) => ({ name: c.slice(0, c.indexOf("=")), value: c.slice(c.indexOf("=") + 1) })));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function firstScreen(browser: Browser, srv: Serve, cookies: { name: string; value: string }[]): Promise<number> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  await context.addCookies(cookies.map((c) => ({ ...c, url: srv.url })));
  const page = await context.newPage();
  const t0 = performance.now();
  await page.goto(`${srv.url}/ui/`);
  await page.waitForFunction((n) => document.querySelectorAll("li.tile").length === n && [...document.querySelectorAll("li.tile")].every((t) => /\d+\/\d+ replicas ready/.test(t.textContent ?? "")), PROJECTS, { polling: "raf", timeout: 30_000 });
  const ms = performance.now() - t0;
  await context.close();
  return ms;
}

function serverMemory(srv: Serve): { rssMb: number; pssMb: number; nodeRssMb: number } {
  const tree = processTree(srv.pid).map((p) => p.pid);
  const pg = postgresTree(pgdataOf(srv.dataDir)).map((p) => p.pid);
  const all = [...new Set([...tree, ...pg])];
  const m = memoryOf(all);
  return { rssMb: m.rssMb, pssMb: m.pssMb, nodeRssMb: memoryOf(all.filter((p) => !pg.includes(p))).rssMb };
}

async function main(): Promise<void> {
  const dataDir = tempDir("berth-bench-ui-");
  const load = loadSampler();
  let srv = await startServe(dataDir, await freePort());
  let browser: Browser | undefined;
  try {
    log(`populating: ${PROJECTS} Projects × ${PER_PROJECT} Applications`);
    await populate(srv);
    await sleep(3000);
    const kubeconfig = path.join(dataDir, "kubeconfig.yaml");
    const cookie = await sessionCookie(srv);
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox", "--disable-dev-shm-usage"] });
    await firstScreen(browser, srv, cookie); // warm-up: JIT, caches
    const screen: number[] = [];
    const kubectl: number[] = [];
    const lists: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      screen.push(await firstScreen(browser, srv, cookie));
      let t = performance.now();
      await run("kubectl", ["--kubeconfig", kubeconfig, "get", "applications", "-A", "--no-headers"], { maxBuffer: 64 * 1024 * 1024 });
      kubectl.push(performance.now() - t);
      t = performance.now();
      await Promise.all(["projects", "applications", "databases", "domains"].map((k) => call(srv, "GET", `${G}/${k}`)));
      lists.push(performance.now() - t);
      log(`round ${r + 1} of ${ROUNDS}: first screen ${fmt(screen[r]!)} ms`);
    }

    await browser.close();
    browser = undefined;
    // As the footprint benchmark measures "restarted with 1,000 objects stored": a fresh process, 10 s idle.
    await srv.stop();
    srv = await startServe(dataDir, await freePort());
    const session = await sessionCookie(srv);
    await sleep(10_000);
    const closed = serverMemory(srv);
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox", "--disable-dev-shm-usage"] });
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    await context.addCookies(session.map((c) => ({ ...c, url: srv.url })));
    const page = await context.newPage();
    await page.goto(`${srv.url}/ui/`);
    await page.waitForFunction((n) => document.querySelectorAll("li.tile").length === n, PROJECTS, { timeout: 30_000 });
    await sleep(10_000);
    const open = serverMemory(srv);

    const rows = [
      ["first screen: /ui/ → 50 tiles with counts (goal ≤ 1000 ms)", `${fmt(median(screen))} ms`, screen.map((x) => fmt(x)).join(", ")],
      ["`kubectl get applications -A` (1,000 rows), same run", `${fmt(median(kubectl))} ms`, kubectl.map((x) => fmt(x)).join(", ")],
      ["the screen's four lists fetched directly, in parallel", `${fmt(median(lists))} ms`, lists.map((x) => fmt(x)).join(", ")],
    ];
    console.log(`\nDashboard, ${ROUNDS} rounds, ${PROJECTS} Projects / ${PROJECTS * PER_PROJECT} Applications:\n`);
    console.log(table(["", "median", "runs"], rows));
    console.log(`\nIdle berth serve (node + Postgres), restarted with the 1,000 objects stored, 10 s after (goal: the footprint issue's ≤ 250 MB RSS):\n`);
    console.log(
      table(
        ["", "RSS MB", "PSS MB", "node RSS MB"],
        [
          ["no dashboard open", fmt(closed.rssMb, 1), fmt(closed.pssMb, 1), fmt(closed.nodeRssMb, 1)],
          ["one dashboard open (4 watches)", fmt(open.rssMb, 1), fmt(open.pssMb, 1), fmt(open.nodeRssMb, 1)],
        ],
      ),
    );
    console.log(`\nMachine: ${machine()}\n${load.summary()}`);
  } finally {
    await browser?.close();
    await srv.stop();
    removeDir(dataDir);
    removeProjectNetworks(Array.from({ length: PROJECTS }, (_, p) => `ui-${String(p).padStart(2, "0")}`));
  }
}

await main();

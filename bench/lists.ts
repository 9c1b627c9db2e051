/**
 * Lists and watches at scale against `berth serve` on its embedded defaults:
 *   (a) a list of BENCH_OBJECTS (10,000) Applications in pages of `limit=500`: time per page and
 *       the server's RSS growth, against the whole list in one request (the baseline: what every
 *       list cost before pages, and what a client without `limit` still gets), and against
 *       `kubectl get applications -A` (pages of 500 by default) printing all of them;
 *   (c) BENCH_CONCURRENT_LISTS (20) such lists at once, whole and paged: the server's peak RSS growth;
 *   (b) watch delivery latency with BENCH_WATCHERS (100) concurrent watchers, against one watcher,
 *       over BENCH_CHANGES (50) label changes: from the PATCH being sent to each event arriving.
 *
 *   npx tsx bench/lists.ts
 *
 * The Applications are suspended (no containers: this measures the API, not Docker); the bench
 * waits until the controllers have written their status before measuring.
 */
import { spawn } from "node:child_process";
import https from "node:https";
import { freePort } from "../src/store/embedded.js";
import { call, fmt, log, loadSampler, machine, median, ratio, removeDir, removeProjectNetworks, rssKb, sleep, startServe, table, tempDir, type Serve } from "./lib.js";

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 10_000);
const WATCHERS = Number(process.env.BENCH_WATCHERS ?? 100);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 50);
const LIMIT = 500;
const CONCURRENT = Number(process.env.BENCH_CONCURRENT_LISTS ?? 20);
const G = "/apis/berth.dev/v1alpha1";
const NS = ["lists-a", "lists-b", "lists-c", "lists-d"];

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
}

/** The peak RSS (MB) of `pid` above its level at the start, sampled every 10 ms while `fn` runs. */
async function rssGrowth<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; growthMb: number }> {
  const base = rssKb(pid);
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, rssKb(pid))), 10);
  try {
    const value = await fn();
    peak = Math.max(peak, rssKb(pid));
    return { value, growthMb: (peak - base) / 1024 };
  } finally {
    clearInterval(timer);
  }
}

async function populate(srv: Serve): Promise<void> {
  for (const ns of NS) await call(srv, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: ns }, spec: {} });
  const per = Math.ceil(OBJECTS / 500);
  for (let b = 0; b < per; b++) {
    const items = Array.from({ length: Math.min(500, OBJECTS - b * 500) }, (_, i) => {
      const n = b * 500 + i;
      return { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: `app-${String(n).padStart(5, "0")}`, namespace: NS[n % NS.length], labels: { tier: n % 2 ? "web" : "worker" } }, spec: { source: { image: "berth-test/busybox:1" }, suspend: true } };
    });
    const r = await call(srv, "POST", "/berth/v1/apply", { items });
    if (r.status !== 200) throw new Error(`apply failed: ${r.status} ${r.text.slice(0, 300)}`);
    if (b % 5 === 4) log(`stored ${(b + 1) * 500} of ${OBJECTS}`);
  }
}

/** Until every Application has a status from its controller (then the server is idle again). */
async function settle(srv: Serve): Promise<void> {
  for (let i = 0; ; i++) {
    const r = await call(srv, "GET", `${G}/applications?limit=${LIMIT}`);
    const pages = [r.body];
    let unsettled = 0;
    for (;;) {
      unsettled += pages[pages.length - 1].items.filter((a: any) => !a.status?.phase).length;
      const token = pages[pages.length - 1].metadata.continue;
      if (!token) break;
      pages.push((await call(srv, "GET", `${G}/applications?limit=${LIMIT}&continue=${encodeURIComponent(token)}`)).body);
    }
    if (unsettled === 0) return;
    if (i % 5 === 0) log(`waiting for the controllers: ${unsettled} Applications without status`);
    await sleep(2000);
  }
}

async function pagedList(srv: Serve): Promise<{ pageMs: number[]; items: number }> {
  const pageMs: number[] = [];
  let items = 0;
  let token: string | undefined;
  do {
    const t0 = performance.now();
    const r = await call(srv, "GET", `${G}/applications?limit=${LIMIT}${token ? `&continue=${encodeURIComponent(token)}` : ""}`);
    pageMs.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`list failed: ${r.status} ${r.text.slice(0, 300)}`);
    items += r.body.items.length;
    token = r.body.metadata.continue;
  } while (token);
  return { pageMs, items };
}

async function wholeList(srv: Serve): Promise<{ ms: number; items: number }> {
  const t0 = performance.now();
  const r = await call(srv, "GET", `${G}/applications`);
  return { ms: performance.now() - t0, items: r.body.items.length };
}

async function kubectlGet(kubeconfig: string): Promise<{ ms: number; lines: number }> {
  const t0 = performance.now();
  const child = spawn("kubectl", ["get", "applications", "-A", "--no-headers"], { env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ["ignore", "pipe", "inherit"] });
  let lines = 0;
  child.stdout.on("data", (c: Buffer) => (lines += c.toString().split("\n").length - 1));
  await new Promise((r) => child.on("close", r));
  return { ms: performance.now() - t0, lines };
}

/** One open watch of namespace NS[0]'s Applications; `arrived` maps rv → arrival time. */
function openWatch(srv: Serve, fromRv: string): Promise<{ arrived: Map<string, number>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const arrived = new Map<string, number>();
    const req = https.request(new URL(`${G}/namespaces/${NS[0]}/applications?watch=true&resourceVersion=${fromRv}`, srv.url), { headers: { Authorization: `Bearer ${srv.token}` }, ca: srv.caPem, agent: false }, (res) => {
      let buf = "";
      res.on("data", (c: Buffer) => {
        const now = performance.now();
        buf += c.toString();
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const rv = JSON.parse(line).object?.metadata?.resourceVersion;
          if (rv) arrived.set(rv, now);
        }
      });
      resolve({ arrived, close: () => req.destroy() });
    });
    req.on("error", (e) => (e.message.includes("socket hang up") ? undefined : reject(e)));
    req.end();
  });
}

/**
 * Latencies (ms) from sending each of CHANGES PATCHes to its event reaching each of `n` watchers,
 * and the PATCHes' own round trips (the part of the latency that is the write itself).
 */
async function watchLatency(srv: Serve, n: number): Promise<{ latencies: number[]; afterAnswer: number[]; patchMs: number[] }> {
  const from = (await call(srv, "GET", `${G}/namespaces/${NS[0]}/applications?limit=1`)).body.metadata.resourceVersion;
  const watches = await Promise.all(Array.from({ length: n }, () => openWatch(srv, from)));
  await sleep(500);
  const sent = new Map<string, number>();
  const patchMs: number[] = [];
  const answered = new Map<string, number>();
  for (let i = 0; i < CHANGES; i++) {
    const t0 = performance.now();
    const r = await call(srv, "PATCH", `${G}/namespaces/${NS[0]}/applications/app-00000`, { metadata: { labels: { round: `${n}-${i}` } } }, "application/merge-patch+json");
    patchMs.push(performance.now() - t0);
    sent.set(r.body.metadata.resourceVersion, t0);
    answered.set(r.body.metadata.resourceVersion, performance.now());
    await sleep(20);
  }
  await sleep(1000);
  const latencies: number[] = [];
  const afterAnswer: number[] = [];
  let missing = 0;
  for (const w of watches) {
    for (const [rv, t0] of sent) {
      const t = w.arrived.get(rv);
      if (t === undefined) missing++;
      else {
        latencies.push(t - t0);
        afterAnswer.push(t - answered.get(rv)!);
      }
    }
    w.close();
  }
  if (missing) log(`${missing} of ${sent.size * n} events did not arrive within 1 s`);
  return { latencies, afterAnswer, patchMs };
}

async function main(): Promise<void> {
  const load = loadSampler();
  const dataDir = tempDir("berth-bench-lists-");
  const srv = await startServe(dataDir, await freePort());
  try {
    log(`storing ${OBJECTS} suspended Applications`);
    const t0 = performance.now();
    await populate(srv);
    log(`stored in ${fmt((performance.now() - t0) / 1000, 1)} s; waiting for their status`);
    await settle(srv);
    await sleep(2000);

    // Pages first: V8 keeps the heap a load grew, so whatever runs second starts with more.
    const paged20 = await rssGrowth(srv.pid, () => Promise.all(Array.from({ length: CONCURRENT }, () => pagedList(srv))));
    await sleep(5000);
    const whole20 = await rssGrowth(srv.pid, () => Promise.all(Array.from({ length: CONCURRENT }, () => wholeList(srv))));
    await sleep(5000);
    const whole = await rssGrowth(srv.pid, () => wholeList(srv));
    const paged = await rssGrowth(srv.pid, () => pagedList(srv));
    const kubectl = await kubectlGet(`${dataDir}/kubeconfig.yaml`);
    const p = paged.value.pageMs;
    console.log(`\n${machine()}\n${load.summary()}\n`);
    console.log(`(a) list of ${OBJECTS} Applications`);
    console.log(
      table(
        ["", "requests", "objects", "time per request (median / p95 / max)", "total", "server RSS growth"],
        [
          ["whole list, one request (baseline)", "1", String(whole.value.items), `${fmt(whole.value.ms)} ms`, `${fmt(whole.value.ms)} ms`, `${fmt(whole.growthMb, 1)} MB`],
          [`pages of limit=${LIMIT}`, String(p.length), String(paged.value.items), `${fmt(median(p))} / ${fmt(percentile(p, 95))} / ${fmt(Math.max(...p))} ms`, `${fmt(p.reduce((a, b) => a + b, 0))} ms`, `${fmt(paged.growthMb, 1)} MB`],
          ["kubectl get applications -A (pages of 500)", "-", String(kubectl.lines), "-", `${fmt(kubectl.ms)} ms`, "-"],
        ],
      ),
    );
    console.log(`slowest page vs the whole list: ${ratio(Math.max(...p), whole.value.ms)}; RSS growth paged vs whole: ${ratio(paged.growthMb, whole.growthMb)}; targets: ≤ 300 ms per page, ≤ 50 MB growth`);

    const wall = (runs: { ms: number }[] | { pageMs: number[] }[]): number => Math.max(...runs.map((r) => ("ms" in r ? r.ms : r.pageMs.reduce((a, b) => a + b, 0))));
    console.log(`\n(c) ${CONCURRENT} concurrent lists of all ${OBJECTS} (pages measured first)`);
    console.log(
      table(
        ["", "server RSS growth (peak)", "per list", "slowest list"],
        [
          [`${CONCURRENT} × whole list (before pages: every list)`, `${fmt(whole20.growthMb, 1)} MB`, `${fmt(whole20.growthMb / CONCURRENT, 1)} MB`, `${fmt(wall(whole20.value))} ms`],
          [`${CONCURRENT} × pages of ${LIMIT}`, `${fmt(paged20.growthMb, 1)} MB`, `${fmt(paged20.growthMb / CONCURRENT, 1)} MB`, `${fmt(wall(paged20.value))} ms`],
        ],
      ),
    );
    console.log(`RSS growth paged vs whole: ${ratio(paged20.growthMb, whole20.growthMb)}`);

    const w1 = await watchLatency(srv, 1);
    const wn = await watchLatency(srv, WATCHERS);
    const [one, many] = [w1.latencies, wn.latencies];
    console.log(`\n(b) watch delivery latency, PATCH sent → event received, ${CHANGES} changes`);
    console.log(
      table(
        ["watchers", "deliveries", "p50", "p99", "max", "the PATCH's own round trip (median / p99)", "event after the PATCH's answer (p50 / p99)"],
        [
          ["1 (baseline)", String(one.length), `${fmt(percentile(one, 50), 1)} ms`, `${fmt(percentile(one, 99), 1)} ms`, `${fmt(Math.max(...one), 1)} ms`, `${fmt(median(w1.patchMs), 1)} / ${fmt(percentile(w1.patchMs, 99), 1)} ms`, `${fmt(percentile(w1.afterAnswer, 50), 1)} / ${fmt(percentile(w1.afterAnswer, 99), 1)} ms`],
          [String(WATCHERS), String(many.length), `${fmt(percentile(many, 50), 1)} ms`, `${fmt(percentile(many, 99), 1)} ms`, `${fmt(Math.max(...many), 1)} ms`, `${fmt(median(wn.patchMs), 1)} / ${fmt(percentile(wn.patchMs, 99), 1)} ms`, `${fmt(percentile(wn.afterAnswer, 50), 1)} / ${fmt(percentile(wn.afterAnswer, 99), 1)} ms`],
        ],
      ),
    );
    console.log(`p99 with ${WATCHERS} watchers vs one: ${ratio(percentile(many, 99), percentile(one, 99))}; target: p99 ≤ 50 ms`);
  } finally {
    await srv.stop();
    removeDir(dataDir);
    removeProjectNetworks(NS);
  }
}

await main();

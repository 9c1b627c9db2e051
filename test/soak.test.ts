/**
 * A bounded soak of `berth serve` (a real process on its embedded Postgres, 127.0.0.1 only):
 * 1,000 watch connects and disconnects, 200 idle TLS connections and 20 concurrent large lists
 * (paged as kubectl pages them), while /healthz is probed every 20 ms. Afterwards the server's
 * timers, open file descriptors and RSS must be back within 10 % of where they started, and
 * /healthz must have answered throughout. Its p99 (goal < 50 ms) is printed and recorded in
 * docs/benchmarks.md: a speed goal, not a timed test.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import https from "node:https";
import tls from "node:tls";
import { DEFAULT_POOL_SIZE } from "../src/store/data-source.js";
import { call, removeDir, spawnServe, type ServeProcess } from "./helpers/berth.js";

/** Timers that idle pool connections may hold beyond the start's (see the assertion). */
const POOL_IDLE_TIMERS = DEFAULT_POOL_SIZE;

const G = "/apis/berth.dev/v1alpha1";
const NS = "soak";

function fds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function timers(srv: ServeProcess): Promise<number> {
  const text = (await call(srv, "GET", "/metrics")).text;
  const line = text.split("\n").find((l) => l.startsWith('nodejs_active_resources{type="Timeout"} '));
  return line ? Number(line.split(" ").pop()) : 0;
}

interface Levels {
  timers: number;
  fds: number;
  rssMb: number;
}

async function levels(srv: ServeProcess): Promise<Levels> {
  return { timers: await timers(srv), fds: fds(srv.child.pid!), rssMb: rssMb(srv.child.pid!) };
}

/**
 * Probes /healthz every 20 ms from a separate process (so the soak's own clients, in this
 * process, do not delay the probe) until stopped; returns the latencies in ms.
 */
function healthProbe(srv: ServeProcess): { stop(): Promise<number[]> } {
  const script = `
    const https = require("node:https");
    const agent = new https.Agent({ keepAlive: true, ca: process.env.CA });
    const ms = [];
    let running = true;
    process.on("SIGTERM", () => (running = false));
    (async () => {
      while (running) {
        const t0 = performance.now();
        const status = await new Promise((resolve) => https.get(process.env.URL + "/healthz", { agent }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode)); }).on("error", () => resolve(0)));
        if (status !== 200) ms.push(-1); else ms.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 20));
      }
      process.stdout.write(JSON.stringify(ms));
      process.exit(0);
    })();`;
  const child = spawn(process.execPath, ["-e", script], { env: { ...process.env, URL: srv.url, CA: srv.caPem }, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  return {
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      const ms = JSON.parse(out) as number[];
      if (ms.includes(-1)) throw new Error(`/healthz failed ${ms.filter((m) => m < 0).length} times`);
      return ms;
    },
  };
}

/** A watch that is dropped after `afterMs` (0: as soon as the request is written, during the initial list). */
function watchAndLeave(srv: ServeProcess, afterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const req = https.request(new URL(`${G}/namespaces/${NS}/applications?watch=true&allowWatchBookmarks=true`, srv.url), { headers: { Authorization: `Bearer ${srv.token}` }, ca: srv.caPem, agent: false });
    req.on("error", () => undefined);
    req.on("close", () => resolve());
    req.on("response", (res) => {
      res.resume();
      setTimeout(() => req.destroy(), afterMs);
    });
    req.end(() => afterMs === 0 && req.destroy());
  });
}

/** Opens a TLS connection that completes the handshake and never sends a request. */
function idleConnection(srv: ServeProcess): Promise<tls.TLSSocket> {
  const { port } = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port: Number(port), ca: srv.caPem, servername: "localhost" }, () => resolve(s));
    s.on("error", reject);
  });
}

/** All pages of the Applications list, 500 at a time, as kubectl reads it. */
async function pagedList(srv: ServeProcess): Promise<number> {
  let n = 0;
  let token: string | undefined;
  do {
    const r = await call(srv, "GET", `${G}/applications?limit=500${token ? `&continue=${encodeURIComponent(token)}` : ""}`);
    if (r.status !== 200) throw new Error(`list answered ${r.status}: ${r.text.slice(0, 200)}`);
    n += r.body.items.length;
    token = r.body.metadata.continue;
  } while (token);
  return n;
}

async function soakRound(srv: ServeProcess, watches: number): Promise<void> {
  for (let i = 0; i < watches; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => watchAndLeave(srv, (i + j) % 2 ? 0 : 30)));
}

/** 200 idle TLS connections held while 20 paged lists and 1,000 watches come and go. */
async function soakOnce(srv: ServeProcess): Promise<void> {
  const idle = await Promise.all(Array.from({ length: 200 }, () => idleConnection(srv)));
  const [counts] = await Promise.all([Promise.all(Array.from({ length: 20 }, () => pagedList(srv))), soakRound(srv, 1000)]);
  for (const s of idle) s.destroy();
  expect(counts.every((n) => n === 2000), "every list saw all 2,000").to.equal(true);
}

function within(before: number, after: number, share: number): boolean {
  return after <= before * (1 + share);
}

describe("soak: watches, idle connections and large lists leave the server as they found it", function () {
  this.timeout(240_000);
  let srv: ServeProcess;

  before(async () => {
    srv = await spawnServe({ env: { BERTH_FIRST_REQUEST_TIMEOUT_SECONDS: "10" } });
    const r = await call(srv, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: NS }, spec: {} });
    expect(r.status, r.text).to.equal(201);
    // 2,000 Applications of ~2 KB each: a whole list is ~5 MB.
    const note = "n".repeat(2000);
    for (let b = 0; b < 4; b++) {
      const items = Array.from({ length: 500 }, (_, i) => ({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: `s-${b}-${i}`, namespace: NS, annotations: { note } }, spec: { source: { image: "berth-test/busybox:1" }, suspend: true } }));
      const a = await call(srv, "POST", "/berth/v1/apply", { items });
      expect(a.status, a.text.slice(0, 300)).to.equal(200);
    }
  });

  after(async () => {
    await srv?.stop();
    if (srv) removeDir(srv.dataDir);
  });

  it("1,000 watch connects/disconnects, 200 idle TLS connections, 20 concurrent large lists: timers, fds and RSS back within 10 %, /healthz answered throughout", async () => {
    // A whole round first: pools, JIT and the heap grow to what this load needs (V8 keeps
    // that), so what a second, identical round leaves on top of it is a leak.
    await soakOnce(srv);
    // RSS moves with V8's own decisions (an idle GC may hand pages back, or not): the level
    // before is the highest reading of a 12 s idle spell, the level after the lowest of up to
    // 30 s. A leak keeps memory however the collector decides; noise does not.
    let highest = 0;
    for (let i = 0; i < 24; i++) {
      await new Promise((r) => setTimeout(r, 500));
      highest = Math.max(highest, rssMb(srv.child.pid!));
    }
    const start = await levels(srv);
    start.rssMb = Math.max(start.rssMb, highest);

    const probe = healthProbe(srv);
    await soakOnce(srv);
    const health = await probe.stop();

    // Pooled Postgres connections close after 10 s idle; the server's silent-connection timer is 10 s.
    let end = await levels(srv);
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
      const now = await levels(srv);
      end = { ...now, rssMb: Math.min(end.rssMb, now.rssMb) };
      if (now.timers <= start.timers + POOL_IDLE_TIMERS && within(start.fds, now.fds, 0.1) && within(start.rssMb, end.rssMb, 0.1)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const sorted = [...health].sort((a, b) => a - b);
    const p99 = sorted[Math.ceil(sorted.length * 0.99) - 1];
    console.log(`      start ${JSON.stringify(start)}, end ${JSON.stringify({ ...end, rssMb: Math.round(end.rssMb) })}; /healthz ${health.length} probes, p50 ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
    // Each idle pooled Postgres connection holds one (ref'd) idle timer, and how many are idle at
    // a moment depends on how the 1 s pollers overlapped: up to the pool's size more than at the
    // start (a CI run saw 3 → 5). A leak is hundreds (issue 21: 3 → 1603).
    expect(end.timers, "timers").to.be.at.most(start.timers + POOL_IDLE_TIMERS);
    expect(end.fds, "open file descriptors").to.be.at.most(Math.max(Math.floor(start.fds * 1.1), start.fds + 1));
    expect(end.rssMb, "RSS (MB)").to.be.at.most(start.rssMb * 1.1);
    // The p99 goal (< 50 ms) is a speed figure: bench/soak figures in docs/benchmarks.md. Here,
    // every probe was answered 200 (healthProbe throws otherwise) and none waited 2 s.
    expect(sorted[sorted.length - 1], "slowest /healthz (ms)").to.be.below(2000);
  });
});

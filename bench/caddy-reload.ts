/**
 * What a Caddy config load does to connections arriving at that instant, with the kernel's
 * net.ipv4.tcp_migrate_req off and on, in one run (as root; the original value is put back).
 * Caddy alone, no Berth: a real Caddy serves a static answer, a client opens a new connection
 * for every POST (BENCH_CONN_RATE/s), and the route table is loaded BENCH_RELOADS times per
 * setting. Printed: failed requests per setting and per 100 loads. Berth loads Caddy once per
 * replica hand-over (ADR 0008), so this is the failure rate a rollout inherits from the kernel.
 *
 *   npx tsx bench/caddy-reload.ts     (BENCH_RELOADS=200, BENCH_CONN_RATE=400)
 */
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { CaddyAdmin } from "../src/router/caddy-admin.js";
import { MIGRATE_REQ_PATH } from "../src/router/reload-safety.js";
import { startCaddy, type TestCaddy } from "../test/helpers/caddy.js";
import { fmt, log, machine, sleep, table } from "./lib.js";

const RELOADS = Number(process.env.BENCH_RELOADS ?? 200);
const CONN_RATE = Number(process.env.BENCH_CONN_RATE ?? 400);

interface Result {
  setting: string;
  sent: number;
  failed: number;
  kinds: Record<string, number>;
  seconds: number;
}

function config(caddy: TestCaddy, n: number): unknown {
  const server = { listen: [`127.0.0.1:${caddy.httpPort}`], routes: [{ handle: [{ handler: "static_response", status_code: 200, body: `table ${n}\n` }] }] };
  return { admin: { listen: `127.0.0.1:${caddy.adminPort}` }, apps: { http: { http_port: caddy.httpPort, https_port: caddy.httpsPort, servers: { berth_http: server } } } };
}

/** Through Berth's own admin client, which tries once more when the admin endpoint restarts under it. */
async function load(caddy: TestCaddy, n: number): Promise<void> {
  await new CaddyAdmin(caddy.adminUrl).load(config(caddy, n) as Record<string, unknown>);
}

/** POSTs on new connections while `during` runs; every error or non-200 answer counts. */
async function traffic(caddy: TestCaddy, during: () => Promise<void>): Promise<Omit<Result, "setting" | "seconds">> {
  const agent = new http.Agent({ keepAlive: false, maxSockets: 256 });
  const kinds: Record<string, number> = {};
  let sent = 0;
  let failed = 0;
  const pending = new Set<Promise<void>>();
  const fail = (kind: string): void => {
    failed++;
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  };
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      sent++;
      const req = http.request({ method: "POST", host: "127.0.0.1", port: caddy.httpPort, path: "/", agent, headers: { "Content-Type": "text/plain" }, timeout: 10_000 }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode !== 200 && fail(`HTTP ${res.statusCode}`), resolve()));
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (e: NodeJS.ErrnoException) => (fail(`${e.code ?? e.message} on ${(e as { syscall?: string }).syscall ?? "?"}`), resolve()));
      req.end("ping");
    });
  let on = true;
  const generator = (async (): Promise<void> => {
    const interval = 1000 / CONN_RATE;
    let next = Date.now();
    while (on) {
      while (next <= Date.now()) {
        next += interval;
        const p = one().finally(() => pending.delete(p));
        pending.add(p);
      }
      await sleep(Math.max(1, next - Date.now()));
    }
  })();
  await during();
  on = false;
  await generator;
  await Promise.all(pending);
  agent.destroy();
  return { sent, failed, kinds };
}

async function measure(caddy: TestCaddy, setting: string, from: number): Promise<Result> {
  writeFileSync(MIGRATE_REQ_PATH, setting);
  const t0 = Date.now();
  const r = await traffic(caddy, async () => {
    for (let i = 0; i < RELOADS; i++) {
      await load(caddy, from + i);
      await sleep(20);
    }
  });
  const res = { setting, ...r, seconds: (Date.now() - t0) / 1000 };
  log(`tcp_migrate_req ${setting}: ${res.failed} of ${res.sent} requests failed over ${RELOADS} loads ${JSON.stringify(res.kinds)}`);
  return res;
}

async function main(): Promise<void> {
  const original = readFileSync(MIGRATE_REQ_PATH, "utf8").trim();
  log(`${machine()}, kernel setting ${MIGRATE_REQ_PATH} = ${original}`);
  const caddy = await startCaddy();
  const results: Result[] = [];
  try {
    await load(caddy, 0);
    results.push(await measure(caddy, "0", 1));
    results.push(await measure(caddy, "1", 1 + RELOADS));
  } finally {
    writeFileSync(MIGRATE_REQ_PATH, original);
    await caddy.stop();
  }
  const rows = results.map((r) => [r.setting, String(RELOADS), fmt(r.seconds, 1), String(r.sent), String(r.failed), fmt((r.failed / RELOADS) * 100, 1), Object.entries(r.kinds).map(([k, n]) => `${n}× ${k}`).join(", ") || "—"]);
  console.log(`\n${machine()}\nnew connections at ${CONN_RATE}/s while Caddy loads a route table every 20 ms\n\n${table(["tcp_migrate_req", "loads", "s", "requests", "failed", "failed per 100 loads", "how"], rows)}\n`);
}

await main();

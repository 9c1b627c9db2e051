/**
 * Issue 17's benchmark: what authorization costs on list, watch and apply. The same requests,
 * in the same run, against the same `berth serve`, as:
 *   - super_admin: the installation token (no scope lookup, no per-object decision), and
 *   - a developer: an API token of a user in a team that manages 5 of the 10 Projects (token
 *     lookup by hash, the Project scope, the per-object decision of the batch, the list filter).
 * 200 Applications across 10 Projects (20 each, suspended: no containers). Requests:
 *   (a) list -A          GET /apis/berth.dev/v1alpha1/applications (admin sees 200, the developer 100;
 *                        and, for the same 200 items, a second developer whose teams manage all ten)
 *   (b) list in Project  GET …/namespaces/authz-0/applications (both see the same 20)
 *   (c) watch start      GET …/namespaces/authz-0/applications?watch=true until the 20 initial ADDED events
 *   (d) batch apply      POST /berth/v1/apply of the Project's 20 Applications, a label changed (20 real writes)
 * BENCH_ROUNDS rounds (default 15), the order of the two callers alternating each round; each
 * figure is a median; the ratio is developer / super_admin (target ≤ 1.1×). Connections are kept
 * alive (one agent per caller) so that a TLS handshake per request does not hide the difference.
 *
 *   npx tsx bench/authz.ts      (BENCH_ROUNDS=15)
 */
import https from "node:https";
import { freePort } from "../src/store/embedded.js";
import { call, fmt, log, loadSampler, machine, median, ratio, removeDir, removeProjectNetworks, sleep, startServe, table, tempDir, type Serve } from "./lib.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const BACK_TO_BACK = Number(process.env.BENCH_BACK_TO_BACK ?? 100);
const PROJECTS = 10;
const PER_PROJECT = 20;
const G = "/apis/berth.dev/v1alpha1";
const NS = (i: number) => `authz-${i}`;
const PASSWORD = "Bench-passw0rd";

interface Caller {
  name: string;
  token: string;
  agent: https.Agent;
}

interface Timed {
  ms: number;
  status: number;
  body: any;
}

/** One request on the caller's kept-alive connection; the time is from sending to the whole answer. */
function request(srv: Serve, who: Caller, method: string, path: string, body?: unknown): Promise<Timed> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { Accept: "application/json", Authorization: `Bearer ${who.token}` };
  if (payload) Object.assign(headers, { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(payload)) });
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, srv.url), { method, headers, ca: srv.caPem, agent: who.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const ms = performance.now() - t0;
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ ms, status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on("error", reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/** ms from opening a watch of one Project to its `n` initial ADDED events; the watch is then closed. */
function watchStart(srv: Serve, who: Caller, n: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    // A watch holds its connection: its own, not the caller's kept-alive one.
    const req = https.request(new URL(`${G}/namespaces/${NS(0)}/applications?watch=true`, srv.url), { headers: { Authorization: `Bearer ${who.token}` }, ca: srv.caPem, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`watch as ${who.name}: ${res.statusCode}`));
      let buf = "";
      let seen = 0;
      res.on("data", (c: Buffer) => {
        buf += c.toString();
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          buf = buf.slice(nl + 1);
          if (++seen === n) {
            resolve(performance.now() - t0);
            req.destroy();
          }
        }
      });
    });
    req.on("error", (e) => (e.message.includes("socket hang up") || e.message.includes("aborted") ? undefined : reject(e)));
    req.end();
  });
}

const app = (ns: string, i: number, round: string) => ({
  apiVersion: "berth.dev/v1alpha1",
  kind: "Application",
  metadata: { name: `app-${String(i).padStart(3, "0")}`, namespace: ns, labels: { round } },
  spec: { source: { image: "berth-test/busybox:1" }, suspend: true },
});

async function must(r: Promise<{ status: number; text?: string; body: any }>, what: string, status = [200, 201]): Promise<any> {
  const x = await r;
  if (!status.includes(x.status)) throw new Error(`${what}: ${x.status} ${JSON.stringify(x.body).slice(0, 300)}`);
  return x.body;
}

/**
 * Ten Projects of 20 Applications; bench-dev in the team of Projects 0–4 (bench-team), bench-all
 * in both teams (all ten: its list -A returns what the super_admin's does).
 */
async function populate(srv: Serve): Promise<{ dev: string; all: string }> {
  const tokens: Record<string, string> = {};
  for (const username of ["bench-dev", "bench-all"]) {
    await must(call(srv, "POST", "/berth/v1/users", { username, email: `${username}@example.test`, password: PASSWORD, role: "developer" }), "user");
    tokens[username] = (await must(call(srv, "POST", "/berth/v1/tokens", { user: username, name: "bench" }), "token")).token as string;
  }
  await must(call(srv, "POST", "/berth/v1/teams", { name: "bench-team", owner: "bench-dev" }), "team");
  await must(call(srv, "POST", "/berth/v1/teams", { name: "bench-other", owner: "bench-all" }), "team");
  await must(call(srv, "POST", "/berth/v1/teams/bench-team/members", { user: "bench-all", role: "member" }), "member");
  for (let p = 0; p < PROJECTS; p++) {
    await must(call(srv, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: NS(p) }, spec: { team: p < PROJECTS / 2 ? "bench-team" : "bench-other" } }), "project");
    await must(call(srv, "POST", "/berth/v1/apply", { items: Array.from({ length: PER_PROJECT }, (_, i) => app(NS(p), i, "initial")) }), "apply");
  }
  return { dev: tokens["bench-dev"], all: tokens["bench-all"] };
}

/** Until every Application has a status from its controller (then the server is idle again). */
async function settle(srv: Serve): Promise<void> {
  for (let i = 0; ; i++) {
    const r = await call(srv, "GET", `${G}/applications`);
    const unsettled = r.body.items.filter((a: any) => !a.status?.phase).length;
    if (unsettled === 0) return;
    if (i % 5 === 0) log(`waiting for the controllers: ${unsettled} Applications without status`);
    await sleep(1000);
  }
}

type Op = "listAll" | "listOne" | "watch" | "apply";
const OPS: { op: Op; label: string }[] = [
  { op: "listAll", label: "list -A (200 Applications, 10 Projects)" },
  { op: "listOne", label: "list in one Project (20)" },
  { op: "watch", label: "watch start → 20 initial events" },
  { op: "apply", label: "batch apply, 20 changed Applications" },
];

async function runOp(srv: Serve, who: Caller, op: Op, round: number): Promise<{ ms: number; items: number }> {
  if (op === "watch") return { ms: await watchStart(srv, who, PER_PROJECT), items: PER_PROJECT };
  if (op === "apply") {
    const r = await request(srv, who, "POST", "/berth/v1/apply", { items: Array.from({ length: PER_PROJECT }, (_, i) => app(NS(0), i, `${who.name}-${round}`)) });
    if (r.status !== 200) throw new Error(`apply as ${who.name}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    return { ms: r.ms, items: r.body.items?.length ?? PER_PROJECT };
  }
  const r = await request(srv, who, "GET", op === "listAll" ? `${G}/applications` : `${G}/namespaces/${NS(0)}/applications`);
  if (r.status !== 200) throw new Error(`${op} as ${who.name}: ${r.status}`);
  return { ms: r.ms, items: r.body.items.length };
}

async function main(): Promise<void> {
  const dataDir = tempDir("berth-bench-authz-");
  const load = loadSampler();
  const srv = await startServe(dataDir, await freePort());
  try {
    log("populating: 10 Projects, 200 Applications, a developer in a team of 5 of them");
    const devTokens = await populate(srv);
    await settle(srv);
    const callers: Caller[] = [
      { name: "super_admin", token: srv.token, agent: new https.Agent({ keepAlive: true, maxSockets: 1 }) },
      { name: "developer", token: devTokens.dev, agent: new https.Agent({ keepAlive: true, maxSockets: 1 }) },
    ];
    const allTen: Caller = { name: "developer-all", token: devTokens.all, agent: new https.Agent({ keepAlive: true, maxSockets: 1 }) };
    const ms: Record<string, number[]> = {};
    const items: Record<string, number> = {};
    // One warm-up round (JIT, caches, the developer's scope), not counted.
    for (const who of callers) for (const { op } of OPS) await runOp(srv, who, op, -1);
    await runOp(srv, allTen, "listAll", -1);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? [...callers].reverse() : callers;
      for (const { op } of OPS) {
        for (const who of order) {
          const r = await runOp(srv, who, op, round);
          (ms[`${op}/${who.name}`] ??= []).push(r.ms);
          items[`${op}/${who.name}`] = r.items;
        }
      }
      // The same list -A with the same 200 items: a developer who sees all ten Projects.
      for (const who of round % 2 ? [allTen, callers[0]] : [callers[0], allTen]) {
        const r = await runOp(srv, who, "listAll", round);
        (ms[`listAllSame/${who.name}`] ??= []).push(r.ms);
        items[`listAllSame/${who.name}`] = r.items;
      }
      if (round % 5 === 4) log(`round ${round + 1} of ${ROUNDS}`);
    }
    const rows = OPS.map(({ op, label }) => {
      const a = median(ms[`${op}/super_admin`]);
      const d = median(ms[`${op}/developer`]);
      return [label, `${fmt(a, 2)} (${items[`${op}/super_admin`]})`, `${fmt(d, 2)} (${items[`${op}/developer`]})`, ratio(d, a)];
    });
    // The rounds' same-200 pair runs right after an apply whose reconciles still load the server;
    // back-to-back pairs once the controllers are idle measure the authorization path alone.
    await settle(srv);
    for (let i = 0; i < BACK_TO_BACK; i++) {
      for (const who of i % 2 ? [allTen, callers[0]] : [callers[0], allTen]) (ms[`b2b/${who.name}`] ??= []).push((await runOp(srv, who, "listAll", i)).ms);
    }
    const sa = median(ms["listAllSame/super_admin"]);
    const sd = median(ms["listAllSame/developer-all"]);
    rows.splice(1, 0, ["list -A, developer in all 10 Projects (same 200)", `${fmt(sa, 2)} (${items["listAllSame/super_admin"]})`, `${fmt(sd, 2)} (${items["listAllSame/developer-all"]})`, ratio(sd, sa)]);
    const ba = median(ms["b2b/super_admin"]);
    const bd = median(ms["b2b/developer-all"]);
    rows.splice(2, 0, [`same, ${BACK_TO_BACK} back-to-back pairs, controllers idle`, `${fmt(ba, 2)} (200)`, `${fmt(bd, 2)} (200)`, ratio(bd, ba)]);
    console.log(`\nAuthorization overhead, ${ROUNDS} rounds, medians in ms (items returned):\n`);
    console.log(table(["request", "super_admin (installation token)", "developer (5 of 10 Projects)", "developer / super_admin"], rows));
    console.log(`\nMachine: ${machine()}\n${load.summary()}`);
  } finally {
    await srv.stop();
    removeDir(dataDir);
    removeProjectNetworks(Array.from({ length: PROJECTS }, (_, i) => NS(i)));
  }
}

await main();

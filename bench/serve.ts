/**
 * `berth serve` start time and idle memory, on a fresh data dir (initdb, migrations, TLS keys)
 * and on a second start of the same data dir, against baselines measured in the same run:
 * a bare `node` start, the CLI loaded through tsx, TLS key generation alone, the embedded
 * Postgres alone, and an idle bare node process.
 *
 *   npx tsx bench/serve.ts            (BENCH_RUNS=3 rounds, BENCH_IDLE_SECONDS=10)
 */
import { spawn } from "node:child_process";
import { freePort, startEmbeddedPostgres } from "../src/store/embedded.js";
import { ensureServingCerts } from "../src/api/tls.js";
import { BERTH_BIN, REPO, fmt, loadSampler, treeCpuSeconds, waitedChildrenCpuSeconds, log, machine, median, memoryOf, pgdataOf, postgresTree, processTree, ratio, removeDir, sleep, startServe, table, tempDir, type Memory } from "./lib.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const IDLE_MS = Number(process.env.BENCH_IDLE_SECONDS ?? 10) * 1000;
const GOAL_MS = 5000;

/** Wall time of a process from spawn to exit; its CPU time goes to `cpu[key]`. */
async function timeProcess(args: string[], key: string): Promise<number> {
  const c0 = waitedChildrenCpuSeconds();
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: "ignore", cwd: REPO });
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  if (code !== 0) throw new Error(`node ${args.join(" ")} exited with ${code}`);
  const ms = performance.now() - t0;
  await sleep(50); // let libuv reap the child so its CPU shows in cutime
  note(cpu, key, (waitedChildrenCpuSeconds() - c0) * 1000);
  return ms;
}

/**
 * Wall time from spawn to exit of a node process that imports `spec` (through tsx with `tsx`),
 * and the RSS it reports right after the import: what loading a part of Berth costs.
 */
async function importProbe(spec: string, tsx: boolean): Promise<{ ms: number; cpuMs: number; rssMb: number }> {
  const c0 = waitedChildrenCpuSeconds();
  const script = `${spec ? `await import(${JSON.stringify(spec)});` : ""} process.stdout.write(String(process.memoryUsage().rss));`;
  const args = [...(tsx ? ["--import", "tsx/esm"] : []), "--input-type=module", "-e", script];
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "ignore"], cwd: REPO });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  if (code !== 0) throw new Error(`import of ${spec} exited with ${code}`);
  const ms = performance.now() - t0;
  await sleep(50);
  return { ms, cpuMs: (waitedChildrenCpuSeconds() - c0) * 1000, rssMb: Number(out) / 2 ** 20 };
}

const startup: Record<string, number[]> = {};
/** CPU ms of the same measurements: unlike wall time, barely changed by other load on the machine */
const cpu: Record<string, number[]> = {};
const memory: Record<string, Memory[]> = {};
const note = (bucket: Record<string, any[]>, key: string, v: any) => (bucket[key] ??= []).push(v);

function medMem(list: Memory[] | undefined): Memory {
  const l = list ?? [];
  return { processes: median(l.map((m) => m.processes)), rssMb: median(l.map((m) => m.rssMb)), pssMb: median(l.map((m) => m.pssMb)) };
}

log(`machine: ${machine()}`);
const load = loadSampler();

// ---- baselines
for (let i = 0; i < 5; i++) note(startup, "node", await timeProcess(["-e", "require('https')"], "node"));
for (let i = 0; i < 3; i++) note(startup, "cli", await timeProcess([BERTH_BIN, "--help"], "cli").catch(() => NaN));
log(`bare node start ${fmt(median(startup.node))} ms, berth --help ${fmt(median(startup.cli))} ms`);

// Where a start's time and memory go: each import in a fresh process (3 each, median).
const probes: [string, string, boolean][] = [
  ["node, nothing imported", "", false],
  ["node + tsx loader", "", true],
  ["@kubernetes/client-node alone (plain node)", "@kubernetes/client-node", false],
  ["typeorm alone (plain node)", "typeorm", false],
  ["src/main.ts through tsx (server: store, API, controllers)", "./src/main.ts", true],
  ["src/cli/shared/client.ts through tsx (kubeconfig client)", "./src/cli/shared/client.ts", true],
];
const probeResults: { what: string; ms: number; cpuMs: number; rssMb: number }[] = [];
for (const [what, spec, tsx] of probes) {
  const runs: { ms: number; cpuMs: number; rssMb: number }[] = [];
  for (let i = 0; i < 3; i++) runs.push(await importProbe(spec, tsx));
  probeResults.push({ what, ms: median(runs.map((r) => r.ms)), cpuMs: median(runs.map((r) => r.cpuMs)), rssMb: median(runs.map((r) => r.rssMb)) });
  log(`import probe ${what}: ${fmt(probeResults.at(-1)!.ms)} ms, ${fmt(probeResults.at(-1)!.rssMb, 1)} MB RSS`);
}

for (let i = 0; i < 3; i++) {
  const dir = tempDir("berth-bench-tls-");
  const t0 = performance.now();
  const u0 = process.cpuUsage();
  await ensureServingCerts(dir, ["127.0.0.1", "localhost", "::1"]);
  note(startup, "tls", performance.now() - t0);
  const du = process.cpuUsage(u0);
  note(cpu, "tls", (du.user + du.system) / 1000);
  removeDir(dir);
}
log(`TLS CA + serving key generation ${fmt(median(startup.tls))} ms`);

{
  const bare = spawn(process.execPath, ["-e", "require('https'); setInterval(() => {}, 1 << 30)"], { stdio: "ignore" });
  await sleep(IDLE_MS);
  note(memory, "node", memoryOf([bare.pid!]));
  const exited = new Promise((r) => bare.once("exit", r));
  bare.kill("SIGTERM");
  await exited;
  log(`idle bare node: ${fmt(medMem(memory.node).rssMb, 1)} MB RSS`);
}

for (let i = 0; i < RUNS; i++) {
  const dir = tempDir("berth-bench-pg-");
  try {
    for (const phase of ["pgFresh", "pgSecond"]) {
      const t0 = performance.now();
      const c0 = waitedChildrenCpuSeconds() + process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
      const db = await startEmbeddedPostgres(dir);
      note(startup, phase, performance.now() - t0);
      const pgNow = treeCpuSeconds(postgresTree(pgdataOf(dir)));
      note(cpu, phase, (waitedChildrenCpuSeconds() + process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6 + pgNow - c0) * 1000);
      await sleep(IDLE_MS);
      note(memory, phase, memoryOf(postgresTree(pgdataOf(dir)).map((p) => p.pid)));
      await db.stop();
    }
  } finally {
    removeDir(dir);
  }
  log(`embedded Postgres alone: first start ${fmt(startup.pgFresh.at(-1)!)} ms, second ${fmt(startup.pgSecond.at(-1)!)} ms, idle ${fmt(memory.pgFresh.at(-1)!.rssMb, 1)} MB RSS`);
}

// ---- berth serve
for (let i = 0; i < RUNS; i++) {
  const dir = tempDir("berth-bench-serve-");
  try {
    for (const phase of ["serveFresh", "serveSecond"]) {
      const server = await startServe(dir, await freePort());
      try {
        note(startup, phase, server.readyMs);
        note(cpu, phase, server.readyCpuS * 1000);
        if (server.marks.migrated !== undefined) note(startup, `${phase}.migrated`, server.marks.migrated);
        if (server.marks.serving !== undefined) note(startup, `${phase}.serving`, server.marks.serving);
        await sleep(IDLE_MS);
        const tree = processTree(server.pid).map((p) => p.pid);
        const pg = postgresTree(pgdataOf(dir)).map((p) => p.pid);
        const missing = pg.filter((p) => !tree.includes(p));
        const all = [...tree, ...missing];
        note(memory, `${phase}.total`, memoryOf(all));
        note(memory, `${phase}.node`, memoryOf(all.filter((p) => !pg.includes(p))));
        note(memory, `${phase}.pg`, memoryOf(pg));
        log(`${phase}: /readyz after ${fmt(server.readyMs)} ms; idle tree ${all.length} processes ${fmt(memory[`${phase}.total`].at(-1)!.rssMb, 1)} MB RSS (node ${fmt(memory[`${phase}.node`].at(-1)!.rssMb, 1)}, postgres ${pg.length} processes ${fmt(memory[`${phase}.pg`].at(-1)!.rssMb, 1)})`);
      } finally {
        await server.stop();
      }
    }
  } finally {
    removeDir(dir);
  }
}

// ---- report
const nodeMs = median(startup.node);
const nodeCpu = median(cpu.node);
const row = (what: string, key: string, baseline?: number, goal?: boolean) => {
  const v = median(startup[key] ?? []);
  const all = (startup[key] ?? []).map((x) => fmt(x)).join(", ");
  const c = median(cpu[key] ?? []);
  return [what, fmt(v), all, baseline === undefined ? "" : ratio(v, baseline), fmt(c), baseline === undefined || !cpu[key] ? "" : ratio(c, nodeCpu), goal ? (v < GOAL_MS ? "yes" : "NO") : ""];
};
console.log(`\nberth serve start (${RUNS} rounds, median; ratio against a bare \`node -e "require('https')"\` start of ${fmt(nodeMs)} ms)\n`);
console.log(
  table(
    ["start", "median ms", "runs ms", "× bare node", "CPU ms", "CPU × bare node", `< ${GOAL_MS} ms`],
    [
      row("bare node -e \"require('https')\"", "node"),
      row("berth --help (bin/berth.js: dist/ when built)", "cli", nodeMs),
      row("TLS CA + serving key generation (in-process)", "tls"),
      row("embedded Postgres alone, fresh (initdb + start + createdb)", "pgFresh", nodeMs),
      row("embedded Postgres alone, second start", "pgSecond", nodeMs),
      row("berth serve, fresh data dir → /readyz 200", "serveFresh", nodeMs, true),
      row("  … 'migrations applied' logged at", "serveFresh.migrated"),
      row("  … 'berth is serving' logged at", "serveFresh.serving"),
      row("berth serve, second start → /readyz 200", "serveSecond", nodeMs, true),
      row("  … 'berth is serving' logged at", "serveSecond.serving"),
    ],
  ),
);
console.log(`\nwhat loading costs: a fresh node process that imports one thing and exits (median of 3; RSS right after the import)\n`);
console.log(table(["import", "ms to exit", "× bare node", "CPU ms", "RSS MB"], probeResults.map((p) => [p.what, fmt(p.ms), ratio(p.ms, nodeMs), fmt(p.cpuMs), fmt(p.rssMb, 1)])));
const nodeMem = medMem(memory.node);
const memRow = (what: string, key: string) => {
  const m = medMem(memory[key]);
  return [what, fmt(m.processes), fmt(m.rssMb, 1), fmt(m.pssMb, 1), ratio(m.rssMb, nodeMem.rssMb)];
};
console.log(`\nidle memory after ${IDLE_MS / 1000} s (median of ${RUNS}; RSS counts shared pages once per process, PSS splits them)\n`);
console.log(
  table(
    ["process set", "processes", "RSS MB", "PSS MB", "RSS × bare node"],
    [
      memRow("bare idle node (require('https'))", "node"),
      memRow("embedded Postgres alone, no clients (fresh)", "pgFresh"),
      memRow("embedded Postgres alone, no clients (second start)", "pgSecond"),
      memRow("berth serve fresh: node + postgres", "serveFresh.total"),
      memRow("  … node process", "serveFresh.node"),
      memRow("  … postgres processes", "serveFresh.pg"),
      memRow("berth serve second start: node + postgres", "serveSecond.total"),
      memRow("  … node process", "serveSecond.node"),
      memRow("  … postgres processes", "serveSecond.pg"),
    ],
  ),
);
console.log(`\n${machine()}\n${load.summary()}`);

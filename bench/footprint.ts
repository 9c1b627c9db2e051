/**
 * Issue 13's figures, each against the tool people would pick instead, measured in the same run:
 *   (a) CLI: `berth --help`, `berth get app -A` vs `kubectl get applications -A` against the
 *       same server (and, for reference, a bare node process making the same HTTPS request);
 *   (b) apply → Ready of 20 one-replica web services with a published port: `berth apply
 *       --wait` vs `docker-compose up -d` of the equivalent compose file vs 20 parallel
 *       `docker run -d` (the floor), alternating, several rounds;
 *   (c) idle memory of `berth serve` (node + embedded Postgres, RSS summed over every
 *       process) 10 s after a fresh start, a second start, and a start with 1,000 objects;
 *   (d) start to /readyz, fresh data dir and second start.
 *
 *   npx tsx bench/footprint.ts      (BENCH_ROUNDS=3, BENCH_CLI_RUNS=11, BENCH_IDLE_SECONDS=10,
 *                                    BENCH_PARTS=memory,apply,cli)
 * Needs a Docker engine and Debian's docker-compose (apt-get install docker-compose).
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { freePort } from "../src/store/embedded.js";
import { BUSYBOX_IMAGE, ensureBusyboxImage } from "../test/helpers/docker.js";
import { BERTH_BIN, REPO, fmt, loadSampler, log, machine, median, memoryOf, pgdataOf, postgresTree, processTree, ratio, removeDir, sleep, startServe, table, tempDir, type Memory, type Serve } from "./lib.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLI_RUNS = Number(process.env.BENCH_CLI_RUNS ?? 11);
const IDLE_MS = Number(process.env.BENCH_IDLE_SECONDS ?? 10) * 1000;
const N = 20;
/** BENCH_PARTS=memory,apply,cli (default all) runs some of the figures only. */
const PARTS = new Set((process.env.BENCH_PARTS ?? "memory,apply,cli").split(","));
const PREFIX = `fp${process.pid}`;
const COMMAND = ["httpd", "-f", "-p", "8080", "-h", "/www"];

interface Run {
  code: number | null;
  ms: number;
  out: string;
}

/** Wall time of a command from spawn to exit. */
async function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const t0 = performance.now();
  const child = spawn(cmd, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  return { code, ms: performance.now() - t0, out };
}

async function must(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const r = await timed(cmd, args, env);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.code}:\n${r.out}`);
  return r;
}

const figures: Record<string, number[]> = {};
const note = (key: string, v: number): void => void (figures[key] ??= []).push(v);
const med = (key: string): number => median(figures[key] ?? []);

// ---------------------------------------------------------------- manifests

function berthManifest(project: string): string {
  const docs = [`apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: ${project}}\nspec: {}\n`];
  for (let i = 0; i < N; i++) {
    docs.push(`apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata: {name: web${i}, namespace: ${project}}\nspec:\n  source: {image: "${BUSYBOX_IMAGE}"}\n  replicas: 1\n  command: ${JSON.stringify(COMMAND)}\n  ports: [{containerPort: 8080}]\n`);
  }
  return docs.join("---\n");
}

function composeFile(): string {
  const services = Array.from({ length: N }, (_, i) => `  web${i}:\n    image: "${BUSYBOX_IMAGE}"\n    command: ${JSON.stringify(COMMAND)}\n    ports: ["127.0.0.1::8080"]\n`);
  return `version: "3.8"\nservices:\n${services.join("")}`;
}

function manyObjects(): string {
  const docs: string[] = [];
  for (let p = 0; p < 20; p++) docs.push(`apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: ${PREFIX}-m${p}}\nspec: {}\n`);
  for (let i = 0; i < 980; i++) {
    docs.push(`apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata: {name: app${i}, namespace: ${PREFIX}-m${i % 20}, labels: {tier: web}}\nspec:\n  suspend: true\n  source: {image: "${BUSYBOX_IMAGE}"}\n  command: ${JSON.stringify(COMMAND)}\n  env: {INDEX: "${i}"}\n`);
  }
  return docs.join("---\n");
}

// ---------------------------------------------------------------- (b) apply → Ready

async function dockerRunFloor(round: number): Promise<number> {
  const names = Array.from({ length: N }, (_, i) => `${PREFIX}-run${round}-${i}`);
  const t0 = performance.now();
  await Promise.all(names.map((n) => must("docker", ["run", "-d", "--name", n, "-p", "127.0.0.1::8080", BUSYBOX_IMAGE, ...COMMAND])));
  const ms = performance.now() - t0;
  await must("docker", ["rm", "-f", ...names]);
  return ms;
}

async function compose(work: string, round: number): Promise<number> {
  const file = path.join(work, "docker-compose.yml");
  writeFileSync(file, composeFile());
  const project = `${PREFIX}c${round}`;
  const r = await must("docker-compose", ["-f", file, "-p", project, "up", "-d"]);
  await must("docker-compose", ["-f", file, "-p", project, "down", "-t", "1"]);
  return r.ms;
}

async function berthApply(work: string, server: Serve, kubeconfig: string, round: number): Promise<number> {
  const file = path.join(work, `berth-${round}.yaml`);
  writeFileSync(file, berthManifest(`${PREFIX}-b${round}`));
  const r = await must(process.execPath, [BERTH_BIN, "--kubeconfig", kubeconfig, "apply", "-f", file, "--wait", "--timeout", "3m"]);
  if (!r.out.includes(`${N + 1} of ${N + 1} object(s) ready`)) throw new Error(`apply --wait did not report every object ready:\n${r.out}`);
  await must(process.execPath, [BERTH_BIN, "--kubeconfig", kubeconfig, "delete", "-f", file, "--wait", "--timeout", "3m"]);
  void server;
  return r.ms;
}

async function applyRounds(work: string, server: Serve, kubeconfig: string): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    // Alternating, so a slow moment of the machine does not land on one tool only.
    note("run", await dockerRunFloor(round));
    note("compose", await compose(work, round));
    note("berth", await berthApply(work, server, kubeconfig, round));
    log(`apply round ${round + 1}: docker run ×${N} ${fmt(figures.run.at(-1)!)} ms, docker-compose up -d ${fmt(figures.compose.at(-1)!)} ms, berth apply --wait ${fmt(figures.berth.at(-1)!)} ms`);
  }
}

// ---------------------------------------------------------------- (a) CLI

const RAW_REQUEST = `
const https = require("node:https"); const fs = require("node:fs");
const kc = JSON.parse(fs.readFileSync(process.env.KUBECONFIG, "utf8"));
const ca = Buffer.from(kc.clusters[0].cluster["certificate-authority-data"], "base64");
https.request(kc.clusters[0].cluster.server + "/apis/berth.dev/v1alpha1/applications", { ca, headers: { Authorization: "Bearer " + kc.users[0].user.token, Accept: "application/json;as=Table;v=v1;g=meta.k8s.io" } }, (r) => r.resume()).end();`;

async function cliRounds(kubeconfig: string): Promise<void> {
  const env = { KUBECONFIG: kubeconfig };
  for (let i = 0; i < CLI_RUNS; i++) {
    note("help", (await must(process.execPath, [BERTH_BIN, "--help"])).ms);
    note("get", (await must(process.execPath, [BERTH_BIN, "get", "app", "-A"], env)).ms);
    note("kubectl", (await must("kubectl", ["get", "applications", "-A"], env)).ms);
    note("raw", (await must(process.execPath, ["-e", RAW_REQUEST], env)).ms);
  }
  log(`CLI: berth --help ${fmt(med("help"))} ms, berth get app -A ${fmt(med("get"))} ms, kubectl ${fmt(med("kubectl"))} ms, bare node request ${fmt(med("raw"))} ms`);
}

// ---------------------------------------------------------------- (c, d) memory and start

const memory: Record<string, Memory[]> = {};

function idleMemory(server: Serve): { total: Memory; node: Memory; pg: Memory } {
  const tree = processTree(server.pid).map((p) => p.pid);
  const pg = postgresTree(pgdataOf(server.dataDir)).map((p) => p.pid);
  const all = [...new Set([...tree, ...pg])];
  return { total: memoryOf(all), node: memoryOf(all.filter((p) => !pg.includes(p))), pg: memoryOf(pg) };
}

async function measureIdle(phase: string, server: Serve): Promise<void> {
  await sleep(IDLE_MS);
  const m = idleMemory(server);
  (memory[phase] ??= []).push(m.total);
  (memory[`${phase}.node`] ??= []).push(m.node);
  (memory[`${phase}.pg`] ??= []).push(m.pg);
  log(`${phase}: ${m.total.processes} processes ${fmt(m.total.rssMb, 1)} MB RSS (node ${fmt(m.node.rssMb, 1)}, postgres ${m.pg.processes} processes ${fmt(m.pg.rssMb, 1)})`);
}

async function memoryRound(work: string): Promise<void> {
  const dir = tempDir("berth-bench-fp-");
  try {
    let server = await startServe(dir, await freePort());
    note("startFresh", server.readyMs);
    await measureIdle("fresh", server);
    await server.stop();
    server = await startServe(dir, await freePort());
    note("startSecond", server.readyMs);
    await measureIdle("second", server);
    const file = path.join(work, "1000.yaml");
    writeFileSync(file, manyObjects());
    await must(process.execPath, [BERTH_BIN, "--kubeconfig", path.join(dir, "kubeconfig.yaml"), "apply", "-f", file]);
    await measureIdle("objects1000", server);
    await server.stop();
    server = await startServe(dir, await freePort());
    note("start1000", server.readyMs);
    await measureIdle("restart1000", server);
    await server.stop();
  } finally {
    removeDir(dir);
    await removeNetworks(`${PREFIX}-m`);
  }
}

/** The Projects' networks outlive a data dir that is simply removed. */
async function removeNetworks(fragment: string): Promise<void> {
  const ids = (await must("docker", ["network", "ls", "-q", "--filter", `name=${fragment}`])).out.split("\n").filter(Boolean);
  if (ids.length) await must("docker", ["network", "rm", ...ids]);
}

// ---------------------------------------------------------------- report

function medMem(key: string): Memory {
  const l = memory[key] ?? [];
  return { processes: median(l.map((m) => m.processes)), rssMb: median(l.map((m) => m.rssMb)), pssMb: median(l.map((m) => m.pssMb)) };
}

const verdict = (ok: boolean): string => (ok ? "met" : "MISSED");

/** The single runs of one figure, or nothing when its part was not measured. */
const runs = (key: keyof typeof figures): string => (figures[key] ?? []).map((x) => fmt(x)).join(", ");

/** Only the parts that ran (BENCH_PARTS) are reported. */
function report(): void {
  if (PARTS.has("cli")) reportCli();
  if (PARTS.has("apply")) reportApply();
  if (PARTS.has("memory")) reportMemory();
}

function reportCli(): void {
  const kubectl = med("kubectl");
  console.log(`\n(a) CLI, ${CLI_RUNS} alternating runs each, median ms\n`);
  console.log(
    table(
      ["command", "median ms", "× kubectl", "goal", ""],
      [
        ["kubectl get applications -A", fmt(kubectl), "1.00×", "", ""],
        ["bare node: one HTTPS request (reference)", fmt(med("raw")), ratio(med("raw"), kubectl), "", ""],
        ["berth get app -A", fmt(med("get")), ratio(med("get"), kubectl), "≤ 2× kubectl", verdict(med("get") <= 2 * kubectl)],
        ["berth --help", fmt(med("help")), "", "≤ 150 ms", verdict(med("help") <= 150)],
      ],
    ),
  );
}

function reportApply(): void {
  const floor = med("run");
  const comp = med("compose");
  const b = med("berth");
  console.log(`\n(b) ${N} one-replica web services with a published port → running/Ready, ${ROUNDS} alternating rounds, median ms\n`);
  console.log(
    table(
      ["tool", "median ms", "runs", "× compose", "× docker run floor", "goal", ""],
      [
        [`${N} × docker run -d in parallel (floor)`, fmt(floor), runs("run"), ratio(floor, comp), "1.00×", "", ""],
        ["docker-compose up -d", fmt(comp), runs("compose"), "1.00×", ratio(comp, floor), "", ""],
        ["berth apply --wait", fmt(b), runs("berth"), ratio(b, comp), ratio(b, floor), "≤ 1.0× compose, ≤ 1.25× floor", verdict(b <= comp && b <= 1.25 * floor)],
      ],
    ),
  );
}

function reportMemory(): void {
  const memRow = (what: string, key: string, goal?: number): string[] => {
    const m = medMem(key);
    return [what, fmt(m.processes), fmt(m.rssMb, 1), fmt(m.pssMb, 1), goal ? `≤ ${goal} MB` : "", goal ? verdict(m.rssMb <= goal) : ""];
  };
  console.log(`\n(c) idle memory ${IDLE_MS / 1000} s after the event, median of ${ROUNDS}; RSS summed over every process (shared pages counted once per process), PSS splits them\n`);
  console.log(
    table(
      ["berth serve (node + embedded Postgres)", "processes", "RSS MB", "PSS MB", "goal", ""],
      [
        memRow("fresh data dir, no objects", "fresh", 200),
        memRow("  … node", "fresh.node"),
        memRow("  … postgres", "fresh.pg"),
        memRow("second start, no objects", "second", 200),
        memRow("1,000 objects just applied", "objects1000", 250),
        memRow("restarted with 1,000 objects stored", "restart1000", 250),
        memRow("  … node", "restart1000.node"),
        memRow("  … postgres", "restart1000.pg"),
      ],
    ),
  );
  console.log(`\n(d) start → /readyz 200, median of ${ROUNDS}\n`);
  console.log(
    table(
      ["start", "median ms", "runs", "goal", ""],
      [
        ["fresh data dir (initdb, migrations, TLS keys)", fmt(med("startFresh")), runs("startFresh"), "≤ 3500 ms", verdict(med("startFresh") <= 3500)],
        ["second start", fmt(med("startSecond")), runs("startSecond"), "≤ 2000 ms", verdict(med("startSecond") <= 2000)],
        ["start with 1,000 objects stored", fmt(med("start1000")), runs("start1000"), "", ""],
      ],
    ),
  );
}

async function main(): Promise<void> {
  log(`machine: ${machine()}`);
  await ensureBusyboxImage();
  const load = loadSampler();
  const work = tempDir("berth-bench-fp-work-");
  try {
    if (PARTS.has("memory")) for (let i = 0; i < ROUNDS; i++) await memoryRound(work);
    const dir = tempDir("berth-bench-fp-apply-");
    const server = await startServe(dir, await freePort());
    try {
      const kubeconfig = path.join(dir, "kubeconfig.yaml");
      if (PARTS.has("apply")) await applyRounds(work, server, kubeconfig);
      writeFileSync(path.join(work, "cli.yaml"), berthManifest(`${PREFIX}-cli`).replace(/\n {2}source:/g, "\n  suspend: true\n  source:"));
      await must(process.execPath, [BERTH_BIN, "--kubeconfig", kubeconfig, "apply", "-f", path.join(work, "cli.yaml")]);
      if (PARTS.has("cli")) await cliRounds(kubeconfig);
      await must(process.execPath, [BERTH_BIN, "--kubeconfig", kubeconfig, "delete", "-f", path.join(work, "cli.yaml"), "--wait", "--timeout", "2m"]);
    } finally {
      await server.stop();
      removeDir(dir);
    }
  } finally {
    removeDir(work);
  }
  report();
  console.log(`\n${machine()}\n${load.summary()}`);
}

await main();

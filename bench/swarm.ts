/**
 * Issue 18's benchmark: 20 one-replica web services on a one-node swarm, from nothing to
 * running, in the same run and alternating:
 *   - `berth apply --wait` of a Project with `spec.runtime: swarm` and 20 Applications → Ready;
 *   - 20 × `docker service create --detach` in parallel, timed until every service runs 1/1
 *     (the floor; the CLI's default `--detach=false` would add its own 5 s "verify" wait per
 *     service after the task runs, which is no work of the engine's);
 *   - `docker stack deploy` of the equivalent compose file, timed until every service runs 1/1.
 * Services are published the way Berth publishes them on this kernel (no IPVS, so no routing
 * mesh): `--endpoint-mode dnsrr`, host-mode ports chosen by the engine (ADR 0025).
 *
 *   npx tsx bench/swarm.ts      (BENCH_ROUNDS=3)
 * Inits a one-node swarm when the engine has none and leaves it afterwards.
 */
import { execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { freePort } from "../src/store/embedded.js";
import { BUSYBOX_IMAGE, ensureBusyboxImage } from "../test/helpers/docker.js";
import { BERTH_BIN, REPO, fmt, loadSampler, log, machine, median, ratio, removeDir, sleep, startServe, table, tempDir } from "./lib.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = 20;
const PREFIX = `sw${process.pid}`;
const COMMAND = ["httpd", "-f", "-p", "8080", "-h", "/www"];

interface Run {
  code: number | null;
  ms: number;
  out: string;
}

async function timed(cmd: string, args: string[]): Promise<Run> {
  const t0 = performance.now();
  const child = spawn(cmd, args, { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  return { code, ms: performance.now() - t0, out };
}

async function must(cmd: string, args: string[]): Promise<Run> {
  const r = await timed(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.code}:\n${r.out}`);
  return r;
}

const docker = (...args: string[]): string => execFileSync("docker", args, { encoding: "utf8" }).trim();

const figures: Record<string, number[]> = {};
const note = (key: string, v: number): void => void (figures[key] ??= []).push(v);
const med = (key: string): number => median(figures[key] ?? []);

/** Waits until none of the engine's services (or none with `fragment` in the name) remain, and their tasks' containers are gone. */
async function waitServicesGone(fragment: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const left = docker("service", "ls", "--format", "{{.Name}}").split("\n").filter((n) => n.includes(fragment));
    const containers = docker("ps", "-aq", "--filter", `name=${fragment}`);
    if (left.length === 0 && containers === "") return;
    await sleep(100);
  }
  throw new Error(`services of ${fragment} still there after 60 s`);
}

/** Every service whose name has `fragment` runs its one task. */
function allRunning(fragment: string): boolean {
  const lines = docker("service", "ls", "--filter", `name=${fragment}`, "--format", "{{.Replicas}}").split("\n").filter(Boolean);
  return lines.length === N && lines.every((r) => r.startsWith("1/1"));
}

async function serviceCreateFloor(round: number): Promise<number> {
  const names = Array.from({ length: N }, (_, i) => `${PREFIX}-sc${round}-${i}`);
  const t0 = performance.now();
  await Promise.all(
    names.map((n) => must("docker", ["service", "create", "--detach", "--quiet", "--name", n, "--endpoint-mode", "dnsrr", "--publish", "mode=host,target=8080", "--no-resolve-image", BUSYBOX_IMAGE, ...COMMAND])),
  );
  while (!allRunning(`${PREFIX}-sc${round}-`)) {
    if (performance.now() - t0 > 180_000) throw new Error(`services of round ${round} not running after 180 s`);
    await sleep(50);
  }
  const ms = performance.now() - t0;
  await must("docker", ["service", "rm", ...names]);
  await waitServicesGone(`${PREFIX}-sc${round}-`);
  return ms;
}

function stackFile(): string {
  const services = Array.from(
    { length: N },
    (_, i) => `  web${i}:\n    image: "${BUSYBOX_IMAGE}"\n    command: ${JSON.stringify(COMMAND)}\n    deploy: {replicas: 1, endpoint_mode: dnsrr}\n    ports: [{target: 8080, mode: host}]\n`,
  );
  return `version: "3.8"\nservices:\n${services.join("")}`;
}

/** Every service of the stack runs its one task. */
function stackRunning(stack: string): boolean {
  const lines = docker("stack", "services", stack, "--format", "{{.Replicas}}").split("\n").filter(Boolean);
  return lines.length === N && lines.every((r) => r.startsWith("1/1"));
}

async function stackDeploy(work: string, round: number): Promise<number> {
  const file = path.join(work, "stack.yml");
  writeFileSync(file, stackFile());
  const stack = `${PREFIX}st${round}`;
  const t0 = performance.now();
  await must("docker", ["stack", "deploy", "--resolve-image", "never", "-c", file, stack]);
  while (!stackRunning(stack)) {
    if (performance.now() - t0 > 180_000) throw new Error(`stack ${stack} not running after 180 s`);
    await sleep(50);
  }
  const ms = performance.now() - t0;
  await must("docker", ["stack", "rm", stack]);
  await waitServicesGone(stack);
  return ms;
}

function berthManifest(project: string): string {
  const docs = [`apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: ${project}}\nspec: {runtime: swarm}\n`];
  for (let i = 0; i < N; i++) {
    docs.push(`apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata: {name: web${i}, namespace: ${project}}\nspec:\n  source: {image: "${BUSYBOX_IMAGE}"}\n  replicas: 1\n  command: ${JSON.stringify(COMMAND)}\n  ports: [{containerPort: 8080}]\n`);
  }
  return docs.join("---\n");
}

async function berthApply(work: string, kubeconfig: string, round: number): Promise<number> {
  const file = path.join(work, `berth-${round}.yaml`);
  writeFileSync(file, berthManifest(`${PREFIX}-b${round}`));
  const r = await must(process.execPath, [BERTH_BIN, "--kubeconfig", kubeconfig, "apply", "-f", file, "--wait", "--timeout", "3m"]);
  if (!r.out.includes(`${N + 1} of ${N + 1} object(s) ready`)) throw new Error(`apply --wait did not report every object ready:\n${r.out}`);
  await must(process.execPath, [BERTH_BIN, "--kubeconfig", kubeconfig, "delete", "-f", file, "--wait", "--timeout", "3m"]);
  await waitServicesGone(`${PREFIX}-b${round}`);
  return r.ms;
}

/** Inits a one-node swarm unless the engine is in one; answers whether this run made it. */
function ensureSwarm(): boolean {
  if (docker("info", "--format", "{{.Swarm.LocalNodeState}}") === "active") return false;
  docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--default-addr-pool", "10.231.0.0/16");
  return true;
}

function leaveSwarm(): void {
  docker("swarm", "leave", "--force");
  try {
    docker("network", "rm", "docker_gwbridge");
  } catch {
    // still in use or already gone
  }
}

function report(): void {
  const floor = med("create");
  const stack = med("stack");
  const b = med("berth");
  const runs = (k: string): string => (figures[k] ?? []).map((x) => fmt(x)).join(", ");
  console.log(`\n${N} one-replica web services on a one-node swarm → running/Ready, ${ROUNDS} alternating rounds, median ms\n`);
  console.log(
    table(
      ["tool", "median ms", "runs", "× service create floor", "× stack deploy", "goal", ""],
      [
        [`${N} × docker service create in parallel (floor)`, fmt(floor), runs("create"), "1.00×", ratio(floor, stack), "", ""],
        ["docker stack deploy → all 1/1", fmt(stack), runs("stack"), ratio(stack, floor), "1.00×", "", ""],
        ["berth apply --wait (spec.runtime: swarm)", fmt(b), runs("berth"), ratio(b, floor), ratio(b, stack), "≤ 1.25× floor", b <= 1.25 * floor ? "met" : "MISSED"],
      ],
    ),
  );
}

async function main(): Promise<void> {
  log(`machine: ${machine()}`);
  await ensureBusyboxImage();
  const made = ensureSwarm();
  const load = loadSampler();
  const work = tempDir("berth-bench-swarm-work-");
  const dir = tempDir("berth-bench-swarm-");
  const server = await startServe(dir, await freePort());
  try {
    const kubeconfig = path.join(dir, "kubeconfig.yaml");
    for (let round = 0; round < ROUNDS; round++) {
      // Alternating, so a slow moment of the machine does not land on one tool only.
      note("create", await serviceCreateFloor(round));
      note("stack", await stackDeploy(work, round));
      note("berth", await berthApply(work, kubeconfig, round));
      log(`round ${round + 1}: docker service create ×${N} ${fmt(figures.create.at(-1)!)} ms, docker stack deploy ${fmt(figures.stack.at(-1)!)} ms, berth apply --wait ${fmt(figures.berth.at(-1)!)} ms`);
    }
  } finally {
    await server.stop();
    removeDir(dir);
    removeDir(work);
    if (made) leaveSwarm();
  }
  report();
  console.log(`\n${machine()}\n${load.summary()}`);
}

await main();

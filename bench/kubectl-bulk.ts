/**
 * kubectl in bulk against `berth serve` (issue 14), each figure next to a baseline measured in
 * the same run:
 *   (a) `kubectl apply -f` of N Applications (one file) vs. `kubectl apply --dry-run=client -f`
 *       of the same file (kubectl's own parsing, discovery and OpenAPI validation; no writes);
 *       target ≤ 10 s for N = 500;
 *   (b) `kubectl delete app --all -n NS` of the N (kubectl deletes one by one, then waits until
 *       every one is gone: the controller's finalizer work is inside the figure) vs. (a)'s create
 *       time; target ≤ 1.5×. The Application controller's reconcile-seconds during (b) over its
 *       wall time says how many finalizers ran at once;
 *   (c) the same N deleted by one deletecollection (`kubectl delete --raw` on the collection)
 *       until the last is gone, for comparison with (b).
 *
 * The Applications are `spec.suspend: true` (crds/application.yaml): the controller adds and
 * removes its finalizer and writes status, and starts no container, so Docker is only listed.
 *
 *   npx tsx bench/kubectl-bulk.ts          (BENCH_OBJECTS=500, BENCH_ROUNDS=1)
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { freePort } from "../src/store/embedded.js";
import { BUSYBOX_IMAGE } from "../test/helpers/docker.js";
import { call, fmt, loadSampler, log, machine, median, metricSum, ratio, removeDir, sleep, startServe, table, tempDir, type Serve } from "./lib.js";

const N = Number(process.env.BENCH_OBJECTS ?? 500);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1));
const G = "/apis/berth.dev/v1alpha1";
const NS = `bench-bulk-${process.pid}`;
const KUBECTL = "/usr/bin/kubectl";

interface Timed {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
  /** ms from start to the last line kubectl printed */
  lastLineMs: number;
}

function kubectl(srv: Serve, cache: string, args: string[]): Promise<Timed> {
  const t0 = performance.now();
  const child = spawn(KUBECTL, args, { env: { ...process.env, KUBECONFIG: path.join(srv.dataDir, "kubeconfig.yaml"), KUBECACHEDIR: cache }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let lastLineMs = 0;
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
    lastLineMs = performance.now() - t0;
  });
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ ms: performance.now() - t0, code, stdout, stderr, lastLineMs })));
}

function must(r: Timed, what: string): Timed {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
  return r;
}

function manifest(dir: string): string {
  const docs = Array.from({ length: N }, (_, i) => ({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: `app-${String(i).padStart(4, "0")}`, namespace: NS, labels: { bench: "bulk" } }, spec: { source: { image: BUSYBOX_IMAGE }, suspend: true } }));
  const file = path.join(dir, "apps.yaml");
  writeFileSync(file, docs.map((d) => YAML.stringify(d)).join("---\n"));
  return file;
}

async function appCount(srv: Serve): Promise<number> {
  return ((await call(srv, "GET", `${G}/namespaces/${NS}/applications`)).body.items as unknown[]).length;
}

/** Until every Application carries the controller's finalizer and its Suspended status: deletion then has finalizer work to do. */
async function settled(srv: Serve): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const items = (await call(srv, "GET", `${G}/namespaces/${NS}/applications`)).body.items as any[];
    const done = items.filter((o) => (o.metadata.finalizers ?? []).includes("berth.dev/runtime") && o.status?.observedGeneration === o.metadata.generation).length;
    if (done === N) return performance.now() - t0;
    if (performance.now() - t0 > 300_000) throw new Error(`only ${done} of ${N} settled in 300 s`);
    await sleep(100);
  }
}

async function gone(srv: Serve, t0: number): Promise<number> {
  for (;;) {
    if ((await appCount(srv)) === 0) return performance.now() - t0;
    if (performance.now() - t0 > 600_000) throw new Error("Applications not gone in 600 s");
    await sleep(50);
  }
}

/** Reconcile seconds and reconciles of the Application controller so far (from /metrics). */
async function appController(srv: Serve): Promise<{ seconds: number; count: number }> {
  const text = (await call(srv, "GET", "/metrics")).text;
  return { seconds: metricSum(text, "controller_runtime_reconcile_time_seconds_sum", { controller: "application" }), count: metricSum(text, "controller_runtime_reconcile_time_seconds_count", { controller: "application" }) };
}

/** Samples the Application controller's busy workers while `work` runs; the peak is returned. */
async function peakWorkers(srv: Serve, work: Promise<unknown>): Promise<number> {
  let peak = 0;
  let running = true;
  void work.finally(() => (running = false));
  while (running) {
    const text = (await call(srv, "GET", "/metrics")).text;
    peak = Math.max(peak, metricSum(text, "controller_runtime_active_workers", { controller: "application" }));
    await sleep(50);
  }
  return peak;
}

/** One way of deleting all N, timed until the last is gone, with the Application controller's work meanwhile. */
interface Deletion {
  /** ms until kubectl exits */
  kubectlMs: number;
  /** ms until kubectl printed its last line (for delete: the last DELETE answered) */
  lastLineMs: number;
  /** ms until every Application is gone from the store */
  goneMs: number;
  reconcileSeconds: number;
  reconciles: number;
  peakWorkers: number;
}

interface Round {
  dryRunMs: number;
  createMs: number;
  settleMs: number;
  deletions: Record<string, Deletion>;
}

const DELETIONS: Record<string, string[]> = {
  "kubectl delete app --all": ["delete", "app", "--all", "-n", NS, "--timeout=600s"],
  "kubectl delete app --all --wait=false": ["delete", "app", "--all", "-n", NS, "--wait=false"],
  "deletecollection (kubectl delete --raw)": ["delete", "--raw", `${G}/namespaces/${NS}/applications?labelSelector=bench%3Dbulk`],
};

async function deletion(srv: Serve, cache: string, args: string[]): Promise<Deletion> {
  const before = await appController(srv);
  const t0 = performance.now();
  // Sampled until the last object is gone: after a deletecollection the finalizers run only then.
  const until = kubectl(srv, cache, args).then(async (k) => ({ k: must(k, args.join(" ")), goneMs: await gone(srv, t0) }));
  const peak = await peakWorkers(srv, until);
  const { k, goneMs } = await until;
  const after = await appController(srv);
  return { kubectlMs: k.ms, lastLineMs: k.lastLineMs, goneMs, reconcileSeconds: after.seconds - before.seconds, reconciles: after.count - before.count, peakWorkers: peak };
}

async function round(srv: Serve, cache: string, file: string): Promise<Round> {
  const dry = must(await kubectl(srv, cache, ["apply", "--dry-run=client", "-f", file]), "apply --dry-run=client");
  const deletions: Record<string, Deletion> = {};
  let createMs = 0;
  let settleMs = 0;
  for (const [name, args] of Object.entries(DELETIONS)) {
    const create = must(await kubectl(srv, cache, ["apply", "-f", file]), "apply");
    // The first create of the round is the figure; the others only set up the next deletion.
    if (!createMs) createMs = create.ms;
    const s = await settled(srv);
    if (!settleMs) settleMs = s;
    deletions[name] = await deletion(srv, cache, args);
  }
  return { dryRunMs: dry.ms, createMs, settleMs, deletions };
}

/** kubectl's clients wait for each deleted object with one GET, limited by client-go's default 5 requests/s after a burst of 10. */
function throttleFloorMs(): number {
  return (Math.max(0, N - 10) / 5) * 1000;
}

function report(rounds: Round[]): string {
  const m = (f: (r: Round) => number): number => median(rounds.map(f));
  const create = m((r) => r.createMs);
  const dry = m((r) => r.dryRunMs);
  const rows = [
    ["(a) kubectl apply -f (create)", fmt(create), "", `${ratio(create, dry)} of --dry-run=client`, create <= 10_000 ? "≤ 10 s: met" : "≤ 10 s: MISSED"],
    ["    baseline: kubectl apply --dry-run=client -f", fmt(dry), "", "1.00×", ""],
    ["    controller settles all (finalizer + status)", fmt(m((r) => r.settleMs)), "", "", ""],
  ];
  for (const name of Object.keys(DELETIONS)) {
    const gone = m((r) => r.deletions[name].goneMs);
    const exit = m((r) => r.deletions[name].kubectlMs);
    const target = name === "kubectl delete app --all" ? (exit <= 1.5 * create ? "≤ 1.5× create: met" : "≤ 1.5× create: MISSED") : "";
    rows.push([`(b) ${name}`, fmt(gone), `${fmt(exit)} (last line ${fmt(m((r) => r.deletions[name].lastLineMs))})`, `${ratio(Math.max(gone, exit), create)} of create`, target]);
  }
  rows.push(["    floor of kubectl's wait: (N − 10) / 5 GETs/s", fmt(throttleFloorMs()), "", `${ratio(throttleFloorMs(), create)} of create`, ""]);
  const workers = Object.keys(DELETIONS).map((name) => {
    const d = rounds.map((r) => r.deletions[name]);
    return `- ${name}: ${d.map((x) => `${fmt(x.reconcileSeconds / (x.goneMs / 1000), 2)} reconcile-s per wall-s, ${x.reconciles} reconciles, peak ${x.peakWorkers} of 8 workers busy`).join("; ")}`;
  });
  return `${table([`${N} Applications, median of ${rounds.length}`, "ms until all gone", "ms until kubectl exits", "ratio", "target"], rows)}\n\nApplication controller while deleting:\n${workers.join("\n")}`;
}

async function main(): Promise<void> {
  const load = loadSampler();
  log(machine());
  const dataDir = tempDir("berth-bench-bulk-");
  const cache = path.join(dataDir, "kube-cache");
  const srv = await startServe(dataDir, await freePort());
  try {
    const p = await call(srv, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: NS }, spec: {} });
    if (p.status !== 201) throw new Error(`project: ${p.text}`);
    const file = manifest(dataDir);
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      rounds.push(await round(srv, cache, file));
      log(`round ${i + 1}: ${JSON.stringify(rounds[i], (_, v) => (typeof v === "number" ? Math.round(v * 100) / 100 : v))}`);
    }
    console.log(`\n${machine()}\n${load.summary()}\n\n${report(rounds)}\n`);
  } finally {
    await call(srv, "DELETE", `${G}/projects/${NS}`).catch(() => undefined);
    await srv.stop();
    removeDir(dataDir);
  }
}

await main();

/**
 * A manifest-reading CLI command against an API-only server (no Docker): `berth diff -f` of a
 * Project and 20 Applications already applied (so the diff is empty, exit 0), next to
 * `berth --help` and `berth get app -A`, which must not get slower. With BENCH_BASELINE set to
 * another checkout (built: `npm ci` or `npm run build` there), its bin/berth.js runs the same
 * commands, alternating with this one's, so both see the same machine.
 *
 *   npx tsx bench/cli-manifest.ts          (BENCH_RUNS=10, BENCH_BASELINE=/path/to/checkout)
 *
 * e.g. the baseline of docs/adr/0014's precompiled schemas:
 *   git worktree add --detach /tmp/berth-before 5e2e789 && (cd /tmp/berth-before && npm ci)
 *   BENCH_BASELINE=/tmp/berth-before npx tsx bench/cli-manifest.ts
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { startTestBerth } from "../test/helpers/berth.js";
import { BERTH_BIN, fmt, loadSampler, log, machine, median, ratio, table, tempDir, removeDir } from "./lib.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const BASELINE = process.env.BENCH_BASELINE;
const N = 20;

function manifest(project: string): string {
  const docs = [`apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: ${project}}\nspec: {}\n`];
  for (let i = 0; i < N; i++) {
    docs.push(
      `apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata: {name: web${i}, namespace: ${project}}\nspec:\n  suspend: true\n  source: {image: "berth-test/busybox:1"}\n  replicas: 1\n  command: ["httpd", "-f", "-p", "8080", "-h", "/www"]\n  ports: [{containerPort: 8080}]\n`,
    );
  }
  return docs.join("---\n");
}

/** Wall time from spawn to exit; asynchronous, since the server runs in this process. */
async function timed(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ ms: number; err: string }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  if (code !== 0) throw new Error(`${bin} ${args.join(" ")} exited with ${code}:\n${err}`);
  return { ms: performance.now() - t0, err };
}

async function main(): Promise<void> {
  log(`machine: ${machine()}`);
  const load = loadSampler();
  const work = tempDir("berth-bench-cli-manifest-");
  const berth = await startTestBerth();
  try {
    const file = path.join(work, "apps.yaml");
    writeFileSync(file, manifest("bench-cli"));
    const kc = ["--kubeconfig", berth.kubeconfigPath];
    await timed(BERTH_BIN, [...kc, "apply", "-f", file]);
    const bins: [string, string][] = [["this checkout", BERTH_BIN], ...(BASELINE ? [["baseline", path.join(BASELINE, "bin", "berth.js")] as [string, string]] : [])];
    for (const [who, bin] of bins) {
      const { err } = await timed(bin, ["--help"], { BERTH_DEBUG_ENTRY: "1" });
      log(`${who} (${bin}): ${err.trim()}`);
    }
    const commands: [string, string[]][] = [
      [`berth diff -f (1 Project + ${N} Applications)`, [...kc, "diff", "-f", file]],
      ["berth --help", ["--help"]],
      ["berth get app -A", [...kc, "get", "app", "-A"]],
    ];
    const times: Record<string, number[]> = {};
    for (let i = 0; i < RUNS + 1; i++) {
      for (const [name, args] of commands) {
        for (const [who, bin] of i % 2 ? [...bins].reverse() : bins) {
          const { ms } = await timed(bin, args);
          if (i > 0) (times[`${name}|${who}`] ??= []).push(ms); // run 0 warms the page cache
        }
      }
    }
    const rows = commands.flatMap(([name]) =>
      bins.map(([who]) => {
        const t = times[`${name}|${who}`];
        const base = BASELINE ? median(times[`${name}|baseline`]) : NaN;
        return [name, who, fmt(median(t)), fmt(Math.min(...t)), BASELINE ? ratio(median(t), base) : ""];
      }),
    );
    console.log(`\n${RUNS} alternating runs each, ms\n`);
    console.log(table(["command", "bin/berth.js of", "median ms", "min ms", "× baseline"], rows));
  } finally {
    await berth.cleanup();
    removeDir(work);
  }
  console.log(`\n${machine()}\n${load.summary()}`);
}

await main();

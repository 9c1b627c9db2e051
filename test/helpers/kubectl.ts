import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import pg from "pg";
import { LEADER_LOCK_KEY } from "../../src/controller/leader.js";

/** The real kubectl; it picks its bundled v1.32 from the server's /version. */
export const KUBECTL = "/usr/bin/kubectl";

export interface KubectlRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface KubectlBackground {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  result: Promise<KubectlRun>;
}

const running = new Set<ChildProcess>();

/** Kills every kubectl still running (a suite's after hook). */
export function killKubectls(): void {
  for (const c of running) c.kill("SIGKILL");
}

/** Starts kubectl; it is SIGKILLed after `timeoutMs` so that no test can hang on it. */
export function startKubectl(kubeconfig: string, cacheDir: string, args: string[], timeoutMs = 30_000): KubectlBackground {
  const started = Date.now();
  const child = spawn(KUBECTL, args, { env: { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: cacheDir }, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => {
    stderr += `\n[test] kubectl ${args.join(" ")} killed after ${timeoutMs} ms`;
    child.kill("SIGKILL");
  }, timeoutMs);
  const result = new Promise<KubectlRun>((resolve) => {
    child.on("error", (e) => {
      stderr += String(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, result };
}

export function ok(r: KubectlRun): KubectlRun {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
  return r;
}

export function failed(r: KubectlRun): KubectlRun {
  expect(r.code, `expected a failure\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.be.a("number").and.not.equal(0);
  return r;
}

export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Holds the controllers' leader lock on a database, so a berth serve on it stays API-only. */
export async function holdLeaderLock(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`SELECT pg_advisory_lock($1::bigint)`, [LEADER_LOCK_KEY]);
  return client;
}

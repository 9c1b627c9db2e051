/**
 * Issue 15's benchmark: how long a one-Application change takes from the user's act to the
 * Application rolled and Ready, through a Sync, against the equivalent `berth apply -f FILE`
 * measured in the same run (the baseline). Four modes, each in its own Project, each round
 * changing env VERSION of one Application (busybox `sleep 3600`, 1 replica, stopGracePeriod 1s):
 *   (1) git + webhook: commit, `git push` returns → POST /hooks/sync/NAME signed like GitHub
 *       (X-Hub-Signature-256) → Ready; the Sync polls every 1h, so only the webhook can fetch;
 *   (2) git + polling (spec.interval BENCH_POLL_INTERVAL, 5s): `git push` returns → Ready.
 *       Bounded by the interval: expected ≈ interval/2 + the apply. The push waits a random
 *       0…interval first, so the rounds sample the poll phase evenly;
 *   (3) directory: the file written → Ready (chokidar, 150 ms debounce);
 *   (4) baseline: `node bin/berth.js apply -f FILE` (the real CLI, with the server's kubeconfig)
 *       spawned → Ready.
 * "Ready" = the Application's status.observedGeneration equals its generation, its Ready
 * condition is True, its spec carries the new VERSION, and (1–3) the Sync's lastAppliedRevision
 * is the commit (the content hash for the directory). Both are followed with watches (no polls);
 * a time is when the event arrived. The modes alternate (rotated each round) so a slow moment
 * of this shared machine does not land on one mode only.
 *
 *   npx tsx bench/sync.ts      (BENCH_ROUNDS=5, BENCH_POLL_INTERVAL=5s)
 * Needs a Docker engine and git (git daemon serves the two repositories on 127.0.0.1). Server
 * and CLI run bin/berth.js, which runs dist/ when `npm run build` is fresher than src/ and the
 * sources through tsx otherwise (≈ 1 s more per CLI start): the log says which.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import { parseDurationMs } from "../src/core/duration.js";
import { freePort } from "../src/store/embedded.js";
import { BUSYBOX_IMAGE, cleanupProject, ensureBusyboxImage } from "../test/helpers/docker.js";
import { BERTH_BIN, REPO, call, fmt, loadSampler, log, machine, median, ratio, removeDir, sleep, startServe, table, tempDir, type Serve } from "./lib.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const INTERVAL = process.env.BENCH_POLL_INTERVAL ?? "5s";
const INTERVAL_MS = parseDurationMs(INTERVAL, 5000);
const PREFIX = `bench-${process.pid}`;
const G = "/apis/berth.dev/v1alpha1";
const SECRET = randomBytes(24).toString("hex");
const TIMEOUT_MS = 90_000;

type Mode = "apply" | "hook" | "poll" | "dir";
const MODES: Mode[] = ["apply", "hook", "poll", "dir"];
const project = (m: Mode): string => `${PREFIX}-${m}`;
const syncName = (m: Mode): string => `${PREFIX}-${m}`;

function manifest(m: Mode, version: string): string {
  const p = project(m);
  return [
    `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: ${p}}\nspec: {}\n`,
    `apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata: {name: web, namespace: ${p}}\nspec:\n  source: {image: "${BUSYBOX_IMAGE}"}\n  command: [sleep, "3600"]\n  replicas: 1\n  stopGracePeriod: 1s\n  env: {VERSION: "${version}"}\n`,
  ].join("---\n");
}

/** The revision a directory Sync reports for these files (src/runtime/dir-source.ts). */
function dirRevision(files: { file: string; text: string }[]): string {
  const hash = createHash("sha256");
  for (const f of [...files].sort((a, b) => (a.file < b.file ? -1 : 1))) hash.update(`${f.file}\0${f.text}\0`);
  return `sha256:${hash.digest("hex").slice(0, 40)}`;
}

// ---------------------------------------------------------------- git: bare repos served by git daemon

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (b: Buffer) => (out += b.toString()));
    c.stderr.on("data", (b: Buffer) => (out += b.toString()));
    c.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}:\n${out}`))));
  });
}

const GIT_ENV = { GIT_AUTHOR_NAME: "bench", GIT_AUTHOR_EMAIL: "bench@example.test", GIT_COMMITTER_NAME: "bench", GIT_COMMITTER_EMAIL: "bench@example.test", GIT_CONFIG_GLOBAL: "/dev/null" };
const git = (args: string[], cwd: string): Promise<string> => run("git", args, cwd, GIT_ENV);

interface Repos {
  url(name: string): string;
  /** Writes the files in the clone, commits, then pushes; the sha and when the push returned. */
  commit(name: string, files: Record<string, string>, message: string): Promise<{ sha: string; pushed: number }>;
  stop(): void;
}

/** One bare repository per name (so one Sync's commits are no new revision for another), one git daemon. */
async function startRepos(names: string[]): Promise<Repos> {
  const dir = tempDir("berth-bench-sync-git-");
  for (const n of names) {
    await git(["init", "--bare", "-q", "-b", "main", `${n}.git`], dir);
    await git(["clone", "-q", `${n}.git`, `${n}-clone`], dir);
    await git(["checkout", "-q", "-b", "main"], path.join(dir, `${n}-clone`));
  }
  const port = await freePort();
  const daemon: ChildProcess = spawn("git", ["daemon", "--reuseaddr", "--export-all", `--base-path=${dir}`, "--listen=127.0.0.1", `--port=${port}`, dir], { stdio: ["ignore", "ignore", "ignore"] });
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, "127.0.0.1", () => (s.end(), r(true)));
      s.on("error", () => r(false));
    });
    if (ok) break;
    if (i > 100) throw new Error(`git daemon did not listen on 127.0.0.1:${port}`);
    await sleep(50);
  }
  return {
    url: (n) => `git://127.0.0.1:${port}/${n}.git`,
    commit: async (n, files, message) => {
      const clone = path.join(dir, `${n}-clone`);
      for (const [f, text] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
        writeFileSync(path.join(clone, f), text);
      }
      await git(["add", "-A"], clone);
      await git(["commit", "-q", "-m", message], clone);
      const sha = (await git(["rev-parse", "HEAD"], clone)).trim();
      await git(["push", "-q", "origin", "HEAD:main"], clone);
      return { sha, pushed: performance.now() };
    },
    stop: () => {
      daemon.kill();
      removeDir(dir);
    },
  };
}

// ---------------------------------------------------------------- watches of Applications and Syncs

interface Waiter {
  check: () => boolean;
  resolve: () => void;
}

/**
 * The latest Application and Sync objects as watch events bring them, and waits on them: a
 * waiter's condition is checked on every event, so a time is when the deciding event arrived.
 */
class Observer {
  readonly apps = new Map<string, any>();
  readonly syncs = new Map<string, any>();
  private waiters: Waiter[] = [];
  private requests: import("node:http").ClientRequest[] = [];
  private closed = false;

  constructor(private readonly srv: Serve) {}

  async start(): Promise<void> {
    await Promise.all([this.follow(`${G}/applications`, this.apps, (o) => o.metadata.namespace), this.follow(`${G}/syncs`, this.syncs, (o) => o.metadata.name)]);
  }

  /** Resolves at the first event after which `check` holds (or at once if it already does). */
  until(what: string, check: () => boolean, timeoutMs = TIMEOUT_MS): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter: Waiter = { check, resolve: () => (clearTimeout(timer), resolve(performance.now())) };
      if (check()) waiter.resolve();
      else this.waiters.push(waiter);
    });
  }

  close(): void {
    this.closed = true;
    for (const r of this.requests) r.destroy();
  }

  private changed(): void {
    const done = this.waiters.filter((w) => w.check());
    this.waiters = this.waiters.filter((w) => !done.includes(w));
    for (const w of done) w.resolve();
  }

  /** List, then watch from the list's resourceVersion; reopened from the last event's if the server ends it. */
  private async follow(url: string, into: Map<string, any>, key: (o: any) => string): Promise<void> {
    const ep = { url: this.srv.url, caPem: this.srv.caPem, token: this.srv.token };
    const list = await call(ep, "GET", url);
    if (list.status !== 200) throw new Error(`GET ${url}: ${list.status} ${list.text}`);
    for (const o of list.body.items ?? []) into.set(key(o), o);
    let rv: string = list.body.metadata.resourceVersion;
    const open = (): Promise<void> =>
      new Promise((resolve, reject) => {
        const req = https.request(new URL(`${url}?watch=true&allowWatchBookmarks=true&resourceVersion=${rv}`, this.srv.url), { headers: { Authorization: `Bearer ${this.srv.token}` }, ca: this.srv.caPem, agent: false }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`watch ${url}: ${res.statusCode}`));
          let buf = "";
          res.on("data", (c: Buffer) => {
            buf += c.toString();
            let nl;
            while ((nl = buf.indexOf("\n")) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (!line.trim()) continue;
              const ev = JSON.parse(line);
              if (ev.object?.metadata?.resourceVersion) rv = ev.object.metadata.resourceVersion;
              if (ev.type === "ADDED" || ev.type === "MODIFIED") into.set(key(ev.object), ev.object);
              else if (ev.type === "DELETED") into.delete(key(ev.object));
            }
            this.changed();
          });
          res.on("end", () => void (this.closed ? undefined : open().catch((e) => log(`watch ${url} not reopened: ${(e as Error).message}`))));
          resolve();
        });
        req.on("error", (e) => (this.closed ? undefined : reject(e)));
        req.end();
        this.requests.push(req);
      });
    await open();
  }
}

const readyCondition = (o: any): boolean => (o?.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
/** Rolled to `version` and Ready on it: spec, observedGeneration and the Ready condition agree. */
const appReady = (o: any, version: string): boolean => o?.spec?.env?.VERSION === version && o.status?.observedGeneration === (o.metadata.generation ?? 1) && readyCondition(o);

// ---------------------------------------------------------------- the modes

interface Sample {
  /** act → Application Ready on the new VERSION (and the Sync on the new revision) */
  total: number;
  /** act → the Application's spec carries the new VERSION (the write landed) */
  applied: number;
  /** act → the webhook's 202, or the CLI's exit */
  step?: number;
}

const samples: Record<Mode, Sample[]> = { apply: [], hook: [], poll: [], dir: [] };

interface Rig {
  srv: Serve;
  obs: Observer;
  repos: Repos;
  dir: string;
  work: string;
  kubeconfig: string;
}

function deliver(srv: Serve, name: string, body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(`/hooks/sync/${name}`, srv.url), { method: "POST", ca: srv.caPem, agent: false, headers: { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(body)), "User-Agent": "GitHub-Hookshot/bench", ...headers } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function change(rig: Rig, m: Mode, version: string): Promise<Sample> {
  const p = project(m);
  const app = (): any => rig.obs.apps.get(p);
  const sync = (): any => rig.obs.syncs.get(syncName(m));
  let t0: number;
  let step: number | undefined;
  let revision: string | undefined;
  let appliedAt: Promise<number>;
  const landed = (): Promise<number> => rig.obs.until(`${p}/web spec VERSION=${version}`, () => app()?.spec?.env?.VERSION === version);
  if (m === "apply") {
    const file = path.join(rig.work, "apply.yaml");
    writeFileSync(file, manifest(m, version));
    t0 = performance.now();
    appliedAt = landed();
    await run(process.execPath, [BERTH_BIN, "--kubeconfig", rig.kubeconfig, "apply", "-f", file], REPO);
    step = performance.now() - t0;
  } else if (m === "dir") {
    const text = manifest(m, version);
    revision = dirRevision([{ file: "app.yaml", text }]);
    t0 = performance.now();
    appliedAt = landed();
    writeFileSync(path.join(rig.dir, "app.yaml"), text);
  } else {
    if (m === "poll") await sleep(Math.random() * INTERVAL_MS);
    const c = await rig.repos.commit(m, { "prod/app.yaml": manifest(m, version) }, `VERSION ${version}`);
    t0 = c.pushed;
    revision = c.sha;
    appliedAt = landed();
    if (m === "hook") {
      const body = JSON.stringify({ ref: "refs/heads/main", before: "0".repeat(40), after: c.sha, repository: { full_name: "bench/hook" }, pusher: { name: "bench" } });
      const sig = createHmac("sha256", SECRET).update(body).digest("hex");
      const status = await deliver(rig.srv, syncName(m), body, { "X-GitHub-Event": "push", "X-GitHub-Delivery": randomBytes(16).toString("hex"), "X-Hub-Signature-256": `sha256=${sig}` });
      if (status !== 202) throw new Error(`webhook answered ${status}, not 202`);
      step = performance.now() - t0;
    }
  }
  const readyAt = await rig.obs.until(`${m}: ${p}/web Ready on VERSION=${version}`, () => appReady(app(), version) && (revision === undefined || (sync()?.status?.lastAppliedRevision === revision && readyCondition(sync()))));
  return { total: readyAt - t0, applied: (await appliedAt) - t0, ...(step !== undefined ? { step } : {}) };
}

// ---------------------------------------------------------------- set-up and clean-up

async function setUp(rig: Rig): Promise<void> {
  const ep = { url: rig.srv.url, caPem: rig.srv.caPem, token: rig.srv.token };
  const created = async (body: unknown): Promise<void> => {
    const r = await call(ep, "POST", `${G}/syncs`, body);
    if (r.status !== 201) throw new Error(`creating a Sync: ${r.status} ${r.text}`);
  };
  const hook = await rig.repos.commit("hook", { "prod/app.yaml": manifest("hook", "0") }, "VERSION 0");
  const poll = await rig.repos.commit("poll", { "prod/app.yaml": manifest("poll", "0") }, "VERSION 0");
  writeFileSync(path.join(rig.dir, "app.yaml"), manifest("dir", "0"));
  const sync = (m: Mode, spec: Record<string, unknown>): Record<string, unknown> => ({ apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name: syncName(m) }, spec });
  await created(sync("hook", { source: { git: { url: rig.repos.url("hook"), branch: "main", path: "prod" } }, interval: "1h", webhook: { secret: SECRET } }));
  await created(sync("poll", { source: { git: { url: rig.repos.url("poll"), branch: "main", path: "prod" } }, interval: INTERVAL }));
  await created(sync("dir", { source: { directory: { path: rig.dir } } }));
  const file = path.join(rig.work, "apply.yaml");
  writeFileSync(file, manifest("apply", "0"));
  await run(process.execPath, [BERTH_BIN, "--kubeconfig", rig.kubeconfig, "apply", "-f", file], REPO);
  const revisions: Partial<Record<Mode, string>> = { hook: hook.sha, poll: poll.sha, dir: dirRevision([{ file: "app.yaml", text: manifest("dir", "0") }]) };
  await Promise.all(
    MODES.map((m) =>
      rig.obs.until(`${m} first Ready`, () => {
        const s = rig.obs.syncs.get(syncName(m));
        return appReady(rig.obs.apps.get(project(m)), "0") && (!revisions[m] || s?.status?.lastAppliedRevision === revisions[m]);
      }, 120_000),
    ),
  );
}

/** Syncs first (their default deletionPolicy Retain leaves the objects), then the Projects and what they run. */
async function tearDown(srv: Serve): Promise<void> {
  const ep = { url: srv.url, caPem: srv.caPem, token: srv.token };
  for (const m of MODES) if (m !== "apply") await call(ep, "DELETE", `${G}/syncs/${syncName(m)}`).catch(() => undefined);
  for (const m of MODES) {
    for (let i = 0; i < 600 && m !== "apply"; i++) {
      if ((await call(ep, "GET", `${G}/syncs/${syncName(m)}`).catch(() => undefined))?.status === 404) break;
      await sleep(100);
    }
  }
  for (const m of MODES) await call(ep, "DELETE", `${G}/projects/${project(m)}`).catch(() => undefined);
  for (const m of MODES) {
    for (let i = 0; i < 600; i++) {
      if ((await call(ep, "GET", `${G}/projects/${project(m)}`).catch(() => undefined))?.status === 404) break;
      await sleep(100);
    }
  }
}

// ---------------------------------------------------------------- report

function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

const LABEL: Record<Mode, string> = {
  apply: "berth apply -f FILE spawned → Ready (baseline)",
  hook: "git push returned → webhook → Ready",
  poll: `git push returned → poll (interval ${INTERVAL}) → Ready`,
  dir: "directory: file written → Ready",
};

function report(): void {
  const base = median(samples.apply.map((s) => s.total));
  console.log(`\nOne-Application change (env VERSION; busybox sleep, 1 replica, stopGracePeriod 1s) → Ready, ${ROUNDS} rounds, ms\n`);
  console.log(
    table(
      ["mode", "median", "p90", "min", "max", "× apply", "runs"],
      MODES.map((m) => {
        const t = samples[m].map((s) => s.total);
        return [LABEL[m], fmt(median(t)), fmt(percentile(t, 90)), fmt(Math.min(...t)), fmt(Math.max(...t)), m === "apply" ? "1.00×" : ratio(median(t), base), t.map((x) => fmt(x)).join(", ")];
      }),
    ),
  );
  console.log(`\nWhere the time goes, medians, ms from the act\n`);
  console.log(
    table(
      ["mode", "webhook 202 / CLI exit", "spec written (watch event)", "written → Ready", "total"],
      MODES.map((m) => {
        const s = samples[m];
        const step = s.filter((x) => x.step !== undefined).map((x) => x.step!);
        return [m, step.length ? fmt(median(step)) : "", fmt(median(s.map((x) => x.applied))), fmt(median(s.map((x) => x.total - x.applied))), fmt(median(s.map((x) => x.total)))];
      }),
    ),
  );
  const hook = median(samples.hook.map((s) => s.total));
  const poll = samples.poll.map((s) => s.total);
  const mean = poll.reduce((a, b) => a + b, 0) / (poll.length || 1);
  console.log(`\nPolling is bounded by the interval: the push waits a random 0…${INTERVAL} first, so a round waits for the next poll 0…${INTERVAL} (mean ${fmt(INTERVAL_MS / 2)} ms), then fetches, applies and rolls as the webhook mode does. Expected ≈ interval/2 + webhook mode = ${fmt(INTERVAL_MS / 2)} + ${fmt(hook)} = ${fmt(INTERVAL_MS / 2 + hook)} ms (at most ≈ ${fmt(INTERVAL_MS + hook)}); measured mean ${fmt(mean)} ms, median ${fmt(median(poll))} ms over ${poll.length} rounds (few rounds: the median of a uniform wait is noisy, BENCH_ROUNDS raises them).`);
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  log(`machine: ${machine()}`);
  log((await run(process.execPath, [BERTH_BIN, "--help"], REPO, { BERTH_DEBUG_ENTRY: "1" })).split("\n")[0]);
  await ensureBusyboxImage();
  const load = loadSampler();
  const dataDir = tempDir("berth-bench-sync-");
  const dir = tempDir("berth-bench-sync-dir-");
  const work = tempDir("berth-bench-sync-work-");
  let srv: Serve | undefined;
  let obs: Observer | undefined;
  let repos: Repos | undefined;
  let cleaned = false;
  const cleanUp = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    obs?.close();
    if (srv) await tearDown(srv).catch((e) => log(`tear-down: ${(e as Error).message}`));
    await srv?.stop();
    for (const m of MODES) await cleanupProject(project(m)).catch(() => undefined);
    repos?.stop();
    for (const d of [dataDir, dir, work]) removeDir(d);
  };
  process.once("SIGINT", () => void cleanUp().finally(() => process.exit(130)));
  try {
    srv = await startServe(dataDir, await freePort());
    repos = await startRepos(["hook", "poll"]);
    obs = new Observer(srv);
    await obs.start();
    const rig: Rig = { srv, obs, repos, dir, work, kubeconfig: path.join(dataDir, "kubeconfig.yaml") };
    await setUp(rig);
    log("all four Projects Ready on VERSION 0");
    for (let round = 1; round <= ROUNDS; round++) {
      // Rotated each round, so no mode always follows the same one.
      const order = MODES.map((_, i) => MODES[(i + round - 1) % MODES.length]);
      const line: string[] = [];
      for (const m of order) {
        const s = await change(rig, m, String(round));
        samples[m].push(s);
        line.push(`${m} ${fmt(s.total)} ms (written at ${fmt(s.applied)})`);
      }
      log(`round ${round}: ${line.join(", ")}`);
    }
  } finally {
    await cleanUp();
  }
  report();
  console.log(`\n${machine()}\n${load.summary()}`);
}

await main();

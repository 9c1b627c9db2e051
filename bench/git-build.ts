/**
 * Issue 16's benchmark: a commit built and deployed by Berth from git against a plain
 * `docker build` + `docker run` of the same context, in the same run (the baseline).
 *   Berth:    the signed push webhook is delivered → the new commit's container answers its
 *             new version on its port (git fetch of the commit, `git archive` of the context into
 *             the engine's build API, tag, one-replica rolling update, the old one retired).
 *   baseline: `docker build -t … CONTEXT` starts → `docker run -d -p 127.0.0.1::8080 …` → the
 *             new container answers its new version (the old one removed after, as Berth does).
 * The Dockerfile has a slow cached step before the COPY, as real ones do (dependencies first),
 * so both reuse the layer cache across commits. Then a push of the same commit again: Berth
 * must build nothing (no new image, no new revision). Rounds alternate the order of the two.
 *
 *   npx tsx bench/git-build.ts      (BENCH_ROUNDS=5)
 * Needs a Docker engine and git (git daemon on 127.0.0.1).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import { freePort } from "../src/store/embedded.js";
import { BUSYBOX_IMAGE, cleanupProject, docker, ensureBusyboxImage } from "../test/helpers/docker.js";
import { call, fmt, loadSampler, log, machine, median, ratio, removeDir, sleep, startServe, table, tempDir, type Serve } from "./lib.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const P = `bench-gitb-${process.pid}`;
const G = "/apis/berth.dev/v1alpha1";
const SECRET = randomBytes(16).toString("hex");
const BASE_IMAGE = `bench-gitb-base-${process.pid}`;

const DOCKERFILE = `FROM ${BUSYBOX_IMAGE}\nRUN sleep 2 && mkdir -p /www\nCOPY www /www\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n`;

function run(cmd: string, args: string[], cwd: string): Promise<string> {
  const env = { ...process.env, GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: "b@example.test", GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: "b@example.test", GIT_CONFIG_GLOBAL: "/dev/null" };
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (b: Buffer) => (out += b.toString()));
    c.stderr.on("data", (b: Buffer) => (out += b.toString()));
    c.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")}: ${code}\n${out}`))));
  });
}

async function listening(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, "127.0.0.1", () => (s.end(), r(true)));
      s.on("error", () => r(false));
    });
    if (ok) return;
    await sleep(25);
  }
  throw new Error(`nothing listens on ${port}`);
}

/** GET / on 127.0.0.1:port until it answers `text` (every 20 ms). */
async function answers(port: number, text: string, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const body = await new Promise<string>((resolve) => {
      http.get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
        let t = "";
        res.on("data", (c: Buffer) => (t += c.toString()));
        res.on("end", () => resolve(t));
      }).on("error", () => resolve(""));
    });
    if (body === text) return;
    if (Date.now() > end) throw new Error(`127.0.0.1:${port} never answered ${JSON.stringify(text)}`);
    await sleep(20);
  }
}

async function webhook(serve: Serve, body: string): Promise<number> {
  const sig = `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
  return await new Promise((resolve, reject) => {
    const req = https.request(new URL(`/hooks/git/${P}/web`, serve.url), { method: "POST", ca: serve.caPem, headers: { "content-type": "application/json", "x-hub-signature-256": sig } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

interface Repo {
  url: string;
  ctx: string;
  commit(version: string): Promise<string>;
  stop(): void;
}

async function startRepo(): Promise<Repo> {
  const dir = tempDir("berth-bench-gitb-");
  const clone = path.join(dir, "clone");
  await run("git", ["init", "--bare", "-q", "-b", "main", "app.git"], dir);
  await run("git", ["clone", "-q", "app.git", "clone"], dir);
  await run("git", ["checkout", "-q", "-b", "main"], clone);
  const port = await freePort();
  const daemon: ChildProcess = spawn("git", ["daemon", "--reuseaddr", "--export-all", `--base-path=${dir}`, "--listen=127.0.0.1", `--port=${port}`, dir], { stdio: "ignore" });
  await listening(port);
  return {
    url: `git://127.0.0.1:${port}/app.git`,
    ctx: clone,
    commit: async (version) => {
      mkdirSync(path.join(clone, "www"), { recursive: true });
      writeFileSync(path.join(clone, "Dockerfile"), DOCKERFILE);
      writeFileSync(path.join(clone, "www", "index.html"), `version ${version}\n`);
      await run("git", ["add", "-A"], clone);
      await run("git", ["commit", "-q", "-m", version], clone);
      await run("git", ["push", "-q", "origin", "HEAD:main"], clone);
      return (await run("git", ["rev-parse", "HEAD"], clone)).trim();
    },
    stop: () => {
      daemon.kill();
      removeDir(dir);
    },
  };
}

/** The baseline: docker build of the work tree, docker run, until the new version answers; the old container goes after. */
async function baseline(ctx: string, version: string, previous: string | undefined): Promise<{ ms: number; id: string }> {
  const t0 = performance.now();
  await run("docker", ["build", "-q", "-t", `${BASE_IMAGE}:${version}`, ctx], ctx);
  const id = (await run("docker", ["run", "-d", "-p", "127.0.0.1::8080", `${BASE_IMAGE}:${version}`], ctx)).trim();
  const port = Number((await run("docker", ["port", id, "8080/tcp"], ctx)).trim().split(":").pop());
  await answers(port, `version ${version}\n`);
  const ms = performance.now() - t0;
  if (previous) await run("docker", ["rm", "-f", previous], ctx);
  return { ms, id };
}

async function berthApp(serve: Serve): Promise<any> {
  return (await call(serve, "GET", `${G}/namespaces/${P}/applications/web`)).body;
}

/** The host port of the container running the image of `sha`, once it is running. */
async function containerPort(sha: string): Promise<number | undefined> {
  const list = await docker.listContainers({ filters: { label: [`berth.dev/project=${P}`, "berth.dev/name=web"] } });
  const c = list.find((x) => x.Image === `berth.local/${P}/web:${sha.slice(0, 12)}` && x.State === "running");
  return c?.Ports.find((p) => p.PrivatePort === 8080 && p.PublicPort)?.PublicPort;
}

/**
 * Webhook → the container of `sha` answers `version` (the same moment the baseline measures),
 * and → the Application's status says Ready on `sha` (the old replica retired, status written).
 */
async function berthRound(serve: Serve, sha: string, version: string): Promise<{ answers: number; ready: number }> {
  const t0 = performance.now();
  const code = await webhook(serve, JSON.stringify({ ref: "refs/heads/main", after: sha }));
  if (code !== 202) throw new Error(`webhook answered ${code}`);
  let port: number | undefined;
  while (!(port = await containerPort(sha))) {
    if (performance.now() - t0 > 180_000) throw new Error(`no container of ${sha} runs: ${JSON.stringify((await berthApp(serve)).status?.conditions)}`);
    await sleep(20);
  }
  await answers(port, `version ${version}\n`);
  const answered = performance.now() - t0;
  for (;;) {
    const a = await berthApp(serve);
    if (a.status?.conditions?.find((c: any) => c.type === "Ready")?.status === "True" && a.status.commit === sha && a.status.replicas === 1) break;
    if (performance.now() - t0 > 180_000) throw new Error(`not Ready on ${sha}`);
    await sleep(20);
  }
  return { answers: answered, ready: performance.now() - t0 };
}

async function main(): Promise<void> {
  await ensureBusyboxImage();
  const load = loadSampler();
  const repo = await startRepo();
  const dataDir = tempDir("berth-bench-gitb-data-");
  const serve = await startServe(dataDir, await freePort());
  const results = { berth: [] as number[], ready: [] as number[], base: [] as number[] };
  let prevBase: string | undefined;
  try {
    await call(serve, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} });
    const first = await repo.commit("0");
    const created = await call(serve, "POST", `${G}/namespaces/${P}/applications`, {
      apiVersion: "berth.dev/v1alpha1",
      kind: "Application",
      metadata: { name: "web", namespace: P },
      spec: { source: { git: { repository: repo.url, branch: "main", interval: "1h", webhook: { secret: SECRET } } }, replicas: 1, ports: [{ containerPort: 8080 }], stopGracePeriod: "1s", strategy: { type: "RollingUpdate", maxSurge: 1, maxUnavailable: 0 } },
    });
    if (created.status !== 201) throw new Error(created.text);
    log("warm-up: the first build of each (fills the layer cache)");
    await berthRound(serve, first, "0");
    prevBase = (await baseline(repo.ctx, "0", undefined)).id;
    for (let i = 1; i <= ROUNDS; i++) {
      const version = String(i);
      const sha = await repo.commit(version);
      const order = i % 2 ? ["berth", "base"] : ["base", "berth"];
      for (const who of order) {
        if (who === "berth") {
          const r = await berthRound(serve, sha, version);
          results.berth.push(r.answers);
          results.ready.push(r.ready);
        }
        else {
          const b = await baseline(repo.ctx, version, prevBase);
          prevBase = b.id;
          results.base.push(b.ms);
        }
      }
      log(`round ${i}: berth ${fmt(results.berth.at(-1)!)} ms (Ready ${fmt(results.ready.at(-1)!)} ms), docker build + run ${fmt(results.base.at(-1)!)} ms`);
    }
    const same = await noChangePush(serve);
    const mb = median(results.berth);
    const mbase = median(results.base);
    console.log(`\n${machine()}\n${load.summary()}\n`);
    console.log(table(["", "median", "runs (ms)"], [
      ["`docker build` + `docker run` → new version answers (baseline)", `${fmt(mbase)} ms`, results.base.map((x) => fmt(x)).join(", ")],
      ["Berth: signed webhook → build → rollout → new version answers", `${fmt(mb)} ms`, results.berth.map((x) => fmt(x)).join(", ")],
      ["ratio (target ≤ 1.15×)", ratio(mb, mbase), ""],
      ["Berth: … → status Ready on the commit (old replica retired, 1 s grace)", `${fmt(median(results.ready))} ms`, results.ready.map((x) => fmt(x)).join(", ")],
      ["same commit pushed again: builds / new revisions", `${same.images} / ${same.revisions}`, `waited ${same.waitedMs} ms`],
    ]));
  } finally {
    await serve.stop();
    await cleanupProject(P).catch(() => undefined);
    if (prevBase) await run("docker", ["rm", "-f", prevBase], "/").catch(() => undefined);
    for (const i of await docker.listImages({ filters: { reference: [`berth.local/${P}/*`, `${BASE_IMAGE}:*`] } })) await docker.getImage(i.Id).remove({ force: true }).catch(() => undefined);
    repo.stop();
    removeDir(dataDir);
  }
}

/** The deployed commit pushed again: count images and revisions before and 5 s after. */
async function noChangePush(serve: Serve): Promise<{ images: number; revisions: number; waitedMs: number }> {
  const a = await berthApp(serve);
  const images = async (): Promise<number> => (await docker.listImages({ filters: { reference: [`berth.local/${P}/*`] } })).length;
  const revisions = async (): Promise<number> => (await call(serve, "GET", `/berth/v1/namespaces/${P}/applications/web/deployments`)).body.items.length;
  const [i0, r0] = [await images(), await revisions()];
  await webhook(serve, JSON.stringify({ ref: "refs/heads/main", after: a.status.commit }));
  await sleep(5000);
  return { images: (await images()) - i0, revisions: (await revisions()) - r0, waitedMs: 5000 };
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

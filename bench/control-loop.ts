/**
 * The control loop against a real Docker engine, each figure next to a floor measured in the
 * same run:
 *   (a) apply 20 one-replica Applications → all Ready, vs. creating and starting the same 20
 *       containers directly through dockerode in parallel;
 *   (b) drift repair: `docker rm -f` of one Application container → a new running container
 *       with the same name, vs. removing and re-creating a container directly;
 *   (c) a no-op resync of N running Applications: Docker API calls and CPU per pass, for
 *       20×1, 10×1 and 10×3 (Applications × replicas), vs. N direct list calls.
 *
 *   npx tsx bench/control-loop.ts
 *   (BENCH_ROUNDS=3, BENCH_DRIFT_TRIALS=10, BENCH_RESYNC_SECONDS=2, BENCH_PASSES=10)
 */
import Docker from "dockerode";
import { containerCreateOptions, type AppRuntimeSpec } from "../src/runtime/container-spec.js";
import { freePort } from "../src/store/embedded.js";
import { BUSYBOX_IMAGE, ensureBusyboxImage } from "../test/helpers/docker.js";
import { call, cpuSeconds, treeCpuSeconds, fmt, loadSampler, log, machine, median, metricSum, pgdataOf, postgresTree, ratio, removeDir, sleep, startServe, table, tempDir, type Reply, type Serve } from "./lib.js";

const N = 20;
const ROUNDS = Math.max(2, Number(process.env.BENCH_ROUNDS ?? 3));
const DRIFT_TRIALS = Number(process.env.BENCH_DRIFT_TRIALS ?? 10);
const RESYNC_S = Number(process.env.BENCH_RESYNC_SECONDS ?? 2);
const PASSES = Number(process.env.BENCH_PASSES ?? 10);
const G = "/apis/berth.dev/v1alpha1";
const PREFIX = `bench-${process.pid}`;
const RUN_LABEL = "bench.berth.dev/run";
const COMMAND = ["httpd", "-f", "-p", "8080", "-h", "/www"];

const docker = new Docker({ socketPath: process.env.DOCKER_SOCKET ?? "/var/run/docker.sock" });

// ---------------------------------------------------------------- Docker events

interface DockerEvent {
  action: string;
  id: string;
  name: string;
  labels: Record<string, string>;
  at: number;
}

/** One container event stream for the whole run; listeners see each event with its arrival time. */
class EventWatch {
  private stream: NodeJS.ReadableStream | undefined;
  private readonly listeners = new Set<(e: DockerEvent) => void>();

  async start(): Promise<void> {
    const filters = { type: ["container"] };
    this.stream = (await docker.getEvents({ filters: JSON.stringify(filters) } as never)) as unknown as NodeJS.ReadableStream;
    let buf = "";
    this.stream.on("data", (chunk: Buffer) => {
      const at = performance.now();
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.trim()) continue;
        try {
          const ev = JSON.parse(line) as { Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
          const attrs = ev.Actor?.Attributes ?? {};
          const e: DockerEvent = { action: ev.Action ?? "", id: ev.Actor?.ID ?? "", name: attrs.name ?? "", labels: attrs, at };
          for (const l of this.listeners) l(e);
        } catch {
          // partial line
        }
      }
    });
  }

  on(fn: (e: DockerEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves with the first event matching `pred`; register before causing the event. */
  next(pred: (e: DockerEvent) => boolean, timeoutMs = 60_000): Promise<DockerEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no matching Docker event in ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on((e) => {
        if (!pred(e)) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
    });
  }

  stop(): void {
    (this.stream as unknown as { destroy?: () => void })?.destroy?.();
  }
}

// ---------------------------------------------------------------- helpers

function appManifest(project: string, name: string, replicas = 1): Record<string, unknown> {
  return {
    apiVersion: "berth.dev/v1alpha1",
    kind: "Application",
    metadata: { name, namespace: project },
    spec: { source: { image: BUSYBOX_IMAGE }, replicas, command: COMMAND, ports: [{ containerPort: 8080 }] },
  };
}

/** The runtime spec Berth derives from appManifest (src/reconcilers/application/reconciler.ts runtimeSpec). */
function runtimeSpec(project: string, name: string): AppRuntimeSpec {
  return { project, name, uid: "00000000-0000-4000-8000-000000000000", image: BUSYBOX_IMAGE, command: COMMAND, env: {}, ports: [{ containerPort: 8080 }], volumes: [] };
}

/** Berth's exact create options for replica 0, but labelled as the benchmark's so Berth never sees them. */
function floorCreateOptions(project: string, name: string, run: string): Docker.ContainerCreateOptions {
  return { ...containerCreateOptions(runtimeSpec(project, name), 0, "floor", { replicas: 1, graceSeconds: 10 }), Labels: { [RUN_LABEL]: run } };
}

async function removeFloor(run: string, network?: string): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${run}`] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  if (network) await docker.getNetwork(network).remove().catch(() => undefined);
}

function isReady(app: any): boolean {
  return app?.status?.observedGeneration === app?.metadata?.generation && app?.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");
}

async function readyCount(server: Serve, project: string): Promise<{ ready: number; total: number }> {
  const r = await call(server, "GET", `${G}/namespaces/${project}/applications`);
  const items: any[] = r.body?.items ?? [];
  return { ready: items.filter(isReady).length, total: items.length };
}

async function waitAllReady(server: Serve, project: string, n: number, timeoutMs = 180_000, everyMs = 50): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const c = await readyCount(server, project).catch(() => ({ ready: -1, total: -1 }));
    if (c.ready === n && c.total === n) return performance.now();
    if (performance.now() - t0 > timeoutMs) throw new Error(`only ${c.ready}/${n} Applications of ${project} Ready after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

async function mustOk(r: Promise<Reply>, what: string): Promise<Reply> {
  const reply = await r;
  if (reply.status >= 300) throw new Error(`${what}: HTTP ${reply.status} ${reply.text.slice(0, 500)}`);
  return reply;
}

async function deleteProject(server: Serve, project: string): Promise<void> {
  await call(server, "DELETE", `${G}/projects/${project}`);
  const t0 = performance.now();
  while ((await call(server, "GET", `${G}/projects/${project}`)).status !== 404) {
    if (performance.now() - t0 > 180_000) throw new Error(`project ${project} not deleted in 180 s`);
    await sleep(250);
  }
}

async function projectContainers(project: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`berth.dev/project=${project}`] } });
}

/** Every container, network and volume this run created (Berth's and the floors'). */
async function cleanupDocker(): Promise<void> {
  const all = await docker.listContainers({ all: true });
  const mine = all.filter((c) => (c.Labels?.["berth.dev/project"] ?? "").startsWith(PREFIX) || (c.Labels?.[RUN_LABEL] ?? "").startsWith(PREFIX));
  await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  const nets = await docker.listNetworks({ filters: { name: [`berth-${PREFIX}`] } });
  await Promise.all(nets.filter((n) => n.Name.startsWith(`berth-${PREFIX}`)).map((n) => docker.getNetwork(n.Id).remove().catch(() => undefined)));
  const vols = await docker.listVolumes();
  await Promise.all((vols.Volumes ?? []).filter((v) => v.Name.startsWith(`berth-${PREFIX}`)).map((v) => docker.getVolume(v.Name).remove().catch(() => undefined)));
}

interface Snapshot {
  t: number;
  /** /metrics scrapes made so far by this process, this one included */
  scrapes: number;
  calls: number;
  byOp: Record<string, number>;
  appReconciles: number;
  projectReconciles: number;
  reconcileSeconds: number;
  nodeCpu: number;
  pgCpu: number;
}

let scrapes = 0;

async function snapshot(server: Serve): Promise<Snapshot> {
  const text = (await call(server, "GET", "/metrics")).text;
  scrapes++;
  const byOp: Record<string, number> = {};
  for (const m of text.matchAll(/^berth_docker_api_calls_total\{([^}]*)\} (\S+)/gm)) {
    const op = /operation="([^"]*)"/.exec(m[1])?.[1] ?? "?";
    byOp[op] = (byOp[op] ?? 0) + Number(m[2]);
  }
  return {
    t: performance.now(),
    scrapes,
    calls: metricSum(text, "berth_docker_api_calls_total"),
    byOp,
    appReconciles: metricSum(text, "controller_runtime_reconcile_total", { controller: "application" }),
    projectReconciles: metricSum(text, "controller_runtime_reconcile_total", { controller: "project" }),
    reconcileSeconds: metricSum(text, "controller_runtime_reconcile_time_seconds_sum", { controller: "application" }),
    nodeCpu: cpuSeconds([server.pid]),
    pgCpu: treeCpuSeconds(postgresTree(pgdataOf(server.dataDir))),
  };
}

/** A snapshot taken between resync passes: no Docker call and no reconcile for 300 ms. */
async function quietSnapshot(server: Serve): Promise<Snapshot> {
  let prev = await snapshot(server);
  for (;;) {
    await sleep(300);
    const cur = await snapshot(server);
    if (cur.calls === prev.calls && cur.appReconciles === prev.appReconciles && cur.projectReconciles === prev.projectReconciles) return cur;
    prev = cur;
  }
}

function diffOps(a: Snapshot, b: Snapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.byOp)) if (v - (a.byOp[k] ?? 0) > 0) out[k] = v - (a.byOp[k] ?? 0);
  return out;
}

const opsText = (ops: Record<string, number>, per = 1) =>
  Object.entries(ops)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${fmt(v / per, Number.isInteger(v / per) ? 0 : 1)}`)
    .join(", ");

// ---------------------------------------------------------------- (a) apply 20 → Ready

interface ApplyResult {
  ms: number;
  startedMs: number;
  applyMs: number;
  calls: Record<string, number>;
}

/** The network, then N × (create, start), `concurrency` at a time (N = all in parallel). */
async function floorApply(tag: string, concurrency = N): Promise<number> {
  const project = `${PREFIX}-floor-${tag}`;
  const network = `berth-${project}`;
  const run = `${PREFIX}-floor-${tag}`;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < N; i = next++) {
      const c = await docker.createContainer(floorCreateOptions(project, `svc-${i}`, run));
      await c.start();
    }
  };
  const t0 = performance.now();
  await docker.createNetwork({ Name: network, Driver: "bridge", Labels: { [RUN_LABEL]: run }, CheckDuplicate: true });
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = performance.now() - t0;
  const running = (await docker.listContainers({ filters: { label: [`${RUN_LABEL}=${run}`] } })).filter((c) => c.State === "running").length;
  if (running !== N) throw new Error(`floor: only ${running}/${N} containers running`);
  await removeFloor(run, network);
  return ms;
}

async function berthApply(server: Serve, events: EventWatch, project: string): Promise<ApplyResult> {
  const items = [{ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: project }, spec: {} }, ...Array.from({ length: N }, (_, i) => appManifest(project, `svc-${i}`))];
  const before = await snapshot(server);
  const started = new Set<string>();
  let startedAt = NaN;
  const off = events.on((e) => {
    if (e.action !== "start" || e.labels["berth.dev/project"] !== project) return;
    started.add(e.name);
    if (started.size === N && Number.isNaN(startedAt)) startedAt = e.at;
  });
  const t0 = performance.now();
  await mustOk(call(server, "POST", "/berth/v1/apply", { items }), "apply");
  const applyMs = performance.now() - t0;
  const readyAt = await waitAllReady(server, project, N);
  off();
  const after = await snapshot(server);
  return { ms: readyAt - t0, startedMs: startedAt - t0, applyMs, calls: diffOps(before, after) };
}

// ---------------------------------------------------------------- (b) drift repair

/** A container created with Berth's options, outside Berth: the floor's replacement target. */
class FloorDrift {
  private readonly project = `${PREFIX}-floor-drift`;
  private readonly network = `berth-${this.project}`;
  private id = "";

  async setup(): Promise<void> {
    await docker.createNetwork({ Name: this.network, Driver: "bridge", Labels: { [RUN_LABEL]: this.project }, CheckDuplicate: true });
    const c = await docker.createContainer(floorCreateOptions(this.project, "svc", this.project));
    await c.start();
    this.id = c.id;
  }

  /** rm -f, then create + start at once: the same Docker work as a repair, with no detection or bookkeeping. */
  async trial(events: EventWatch): Promise<DriftTrial> {
    const name = `${this.project}-svc-0`;
    const old = this.id;
    const seen = driftEvents(events, name, old);
    const t0 = performance.now();
    await docker.getContainer(old).remove({ force: true });
    const c = await docker.createContainer(floorCreateOptions(this.project, "svc", this.project));
    await c.start();
    this.id = c.id;
    return await seen(t0);
  }

  async teardown(): Promise<void> {
    await removeFloor(this.project, this.network);
  }
}

/** One drift trial: the whole delay, and the part between the old container's end and the new one's create. */
interface DriftTrial {
  /** rm -f called → 'start' event of the replacement. */
  ms: number;
  /** 'destroy' event of the old container → 'create' event of the replacement: detection and decision. */
  reactionMs: number;
}

/** Arms the three events of a replacement of container `old` named `name`; call with the time rm -f was called. */
function driftEvents(events: EventWatch, name: string, old: string): (t0: number) => Promise<DriftTrial> {
  const destroyed = events.next((e) => e.action === "destroy" && e.id === old);
  const created = events.next((e) => e.action === "create" && e.name === name && e.id !== old);
  const started = events.next((e) => e.action === "start" && e.name === name && e.id !== old);
  return async (t0) => {
    const [d, c, s] = await Promise.all([destroyed, created, started]);
    return { ms: s.at - t0, reactionMs: c.at - d.at };
  };
}

/** rm -f of replica 0 of svc-<i> → the 'start' event of a new container with the same name. */
async function berthDrift(server: Serve, events: EventWatch, project: string, i: number): Promise<DriftTrial> {
  const name = `${project}-svc-${i % N}-0`;
  const [victim] = await docker.listContainers({ filters: { name: [`^/${name}$`] } });
  if (!victim) throw new Error(`no container ${name}`);
  const seen = driftEvents(events, name, victim.Id);
  const t0 = performance.now();
  await docker.getContainer(victim.Id).remove({ force: true });
  const trial = await seen(t0);
  await waitAllReady(server, project, N, 60_000, 100);
  return trial;
}

// ---------------------------------------------------------------- (c) no-op resync

interface ResyncResult {
  label: string;
  apps: number;
  containers: number;
  passes: number;
  /** Application reconciles per pass per Application: 1 unless something else woke them */
  appReconcilesPerApp: number;
  windowMs: number;
  callsPerPass: number;
  opsPerPass: Record<string, number>;
  /** node CPU per pass, less the /metrics scrapes the measurement itself made in the window */
  nodeCpuMsPerPass: number;
  scrapeCpuMs: number;
  pgCpuMsPerPass: number;
  reconcileMsPerPass: number;
  /** container events of other Berth installations on this engine during the window */
  foreignEvents: number;
}

/** node CPU of one /metrics scrape: the least of 3 batches of 20 (a batch may overlap a pass). */
async function scrapeCost(server: Serve): Promise<number> {
  const batches: number[] = [];
  for (let b = 0; b < 3; b++) {
    const c0 = cpuSeconds([server.pid]);
    for (let i = 0; i < 20; i++) await call(server, "GET", "/metrics");
    batches.push(((cpuSeconds([server.pid]) - c0) * 1000) / 20);
  }
  return Math.min(...batches);
}

async function measureResync(server: Serve, events: EventWatch, instance: string, label: string, apps: number, containers: number): Promise<ResyncResult> {
  // Let anything left from the setup settle for two periods, then measure between passes.
  await sleep(2 * RESYNC_S * 1000);
  const scrapeCpuMs = await scrapeCost(server);
  const a = await quietSnapshot(server);
  let foreignEvents = 0;
  const off = events.on((e) => {
    if (e.labels["berth.dev/managed-by"] === "berth" && e.labels["berth.dev/instance"] !== instance) foreignEvents++;
  });
  await sleep(PASSES * RESYNC_S * 1000);
  const b = await quietSnapshot(server);
  off();
  const passes = b.projectReconciles - a.projectReconciles; // one Project: exactly one reconcile per pass
  const ops = diffOps(a, b);
  const per = (x: number) => (passes > 0 ? x / passes : NaN);
  return {
    label,
    apps,
    containers,
    passes,
    appReconcilesPerApp: per(b.appReconciles - a.appReconciles) / apps,
    windowMs: b.t - a.t,
    callsPerPass: per(b.calls - a.calls),
    opsPerPass: Object.fromEntries(Object.entries(ops).map(([k, v]) => [k, per(v)])),
    nodeCpuMsPerPass: per((b.nodeCpu - a.nodeCpu) * 1000 - (b.scrapes - a.scrapes) * scrapeCpuMs),
    scrapeCpuMs,
    pgCpuMsPerPass: per((b.pgCpu - a.pgCpu) * 1000),
    reconcileMsPerPass: per((b.reconcileSeconds - a.reconcileSeconds) * 1000),
    foreignEvents,
  };
}

/** CPU per second of node and Postgres with no pass running (change-feed poll, leader lease, timers). */
async function idleCpu(server: Serve, ms: number): Promise<{ nodeMsPerS: number; pgMsPerS: number }> {
  const scrapeCpuMs = await scrapeCost(server);
  const a = await snapshot(server);
  await sleep(ms);
  const b = await snapshot(server);
  const s = (b.t - a.t) / 1000;
  return { nodeMsPerS: ((b.nodeCpu - a.nodeCpu) * 1000 - (b.scrapes - a.scrapes) * scrapeCpuMs) / s, pgMsPerS: ((b.pgCpu - a.pgCpu) * 1000) / s };
}

/** The floor of a pass: one label-filtered list call per Application, 8 at a time, from this process. */
async function floorLists(project: string, reps = 10): Promise<{ cpuMs: number; wallMs: number; listMs: number }> {
  const containers = await projectContainers(project);
  const uids = [...new Set(containers.map((c) => c.Labels["berth.dev/owner-uid"]))];
  const instance = containers[0]?.Labels["berth.dev/instance"] ?? "";
  const cpu: number[] = [];
  const wall: number[] = [];
  const each: number[] = [];
  for (let r = 0; r < reps + 1; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let sum = 0;
    for (let i = 0; i < uids.length; i += 8) {
      await Promise.all(
        uids.slice(i, i + 8).map(async (uid) => {
          const s = performance.now();
          await docker.listContainers({ all: true, filters: { label: [`berth.dev/owner-uid=${uid}`, `berth.dev/instance=${instance}`] } });
          sum += performance.now() - s;
        }),
      );
    }
    const du = process.cpuUsage(c0);
    if (r === 0) continue; // warm-up
    wall.push(performance.now() - t0);
    cpu.push((du.user + du.system) / 1000);
    each.push(sum);
  }
  return { cpuMs: median(cpu), wallMs: median(wall), listMs: median(each) };
}

// ---------------------------------------------------------------- main

const events = new EventWatch();
let server: Serve | undefined;
const dataDir = tempDir("berth-bench-loop-");
async function cleanupAll(): Promise<void> {
  await server?.stop().catch(() => undefined);
  events.stop();
  await cleanupDocker().catch((e) => log(`cleanup failed: ${String(e)}`));
  removeDir(dataDir);
}
const interrupted = () => void cleanupAll().finally(() => process.exit(130));
process.once("SIGINT", interrupted);

try {
  log(`machine: ${machine()}`);
  const load = loadSampler();
  await docker.ping();
  await ensureBusyboxImage();
  await events.start();
  server = await startServe(dataDir, await freePort());
  log(`berth serve pid ${server.pid} on ${server.url}, resync every 30 s (default)`);
  // Idle baseline, between the start-up pass and the next one 30 s later: no Applications.
  await sleep(3000);
  const idle = await idleCpu(server, 15_000);
  log(`idle: node ${fmt(idle.nodeMsPerS, 1)} ms CPU/s, postgres ${fmt(idle.pgMsPerS, 1)} ms CPU/s`);

  // Warm-up: one small floor and one small apply, not measured.
  {
    const floorRun = `${PREFIX}-warmfloor`;
    const network = `berth-${floorRun}`;
    await docker.createNetwork({ Name: network, Driver: "bridge", Labels: { [RUN_LABEL]: floorRun } });
    const c = await docker.createContainer(floorCreateOptions(floorRun, "svc", floorRun));
    await c.start();
    await removeFloor(floorRun, network);
    const run = `${PREFIX}-warm`;
    const items = [{ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: run }, spec: {} }, appManifest(run, "svc")];
    await mustOk(call(server, "POST", "/berth/v1/apply", { items }), "warm-up apply");
    await waitAllReady(server, run, 1);
    await deleteProject(server, run);
  }

  // (a)
  const floorMs: number[] = [];
  const berthRuns: ApplyResult[] = [];
  let project = "";
  const floor8Ms: number[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    floorMs.push(await floorApply(String(r)));
    floor8Ms.push(await floorApply(`${r}c8`, 8));
    log(`(a) round ${r}: floor ${fmt(floorMs.at(-1)!)} ms, 8 at a time ${fmt(floor8Ms.at(-1)!)} ms`);
    if (project) {
      await deleteProject(server, project);
      if ((await projectContainers(project)).length) throw new Error(`containers of ${project} left after the project was deleted`);
    }
    project = `${PREFIX}-r${r}`;
    const res = await berthApply(server, events, project);
    berthRuns.push(res);
    log(`(a) round ${r}: berth all Ready ${fmt(res.ms)} ms (apply answered ${fmt(res.applyMs)} ms, 20th container started ${fmt(res.startedMs)} ms); Docker calls: ${opsText(res.calls)}`);
  }

  // (b) floor and Berth trials alternate, so both see the same machine.
  const floorDrift: DriftTrial[] = [];
  const berthDriftTrials: DriftTrial[] = [];
  const fdrift = new FloorDrift();
  await fdrift.setup();
  try {
    for (let i = 0; i < DRIFT_TRIALS; i++) {
      await sleep(500);
      floorDrift.push(await fdrift.trial(events));
      await sleep(500);
      berthDriftTrials.push(await berthDrift(server, events, project, i));
      const f = floorDrift.at(-1)!;
      const b = berthDriftTrials.at(-1)!;
      log(`(b) trial ${i + 1}/${DRIFT_TRIALS}: floor ${fmt(f.ms)} ms (reaction ${fmt(f.reactionMs)}), berth ${fmt(b.ms)} ms (reaction ${fmt(b.reactionMs)})`);
    }
  } finally {
    await fdrift.teardown();
  }

  // (c) with a short resync period: restart the same data dir.
  await server.stop();
  server = await startServe(dataDir, await freePort(), { BERTH_RESYNC_SECONDS: String(RESYNC_S) });
  log(`berth serve restarted (pid ${server.pid}) with BERTH_RESYNC_SECONDS=${RESYNC_S}`);
  await waitAllReady(server, project, N);
  const instance = (await projectContainers(project))[0]?.Labels["berth.dev/instance"] ?? "";
  const resync: ResyncResult[] = [];
  resync.push(await measureResync(server, events, instance, `${N} Applications × 1 replica`, N, N));
  const floor20 = await floorLists(project);
  log(`(c) ${resync.at(-1)!.label}: ${fmt(resync.at(-1)!.callsPerPass, 1)} Docker calls/pass`);
  // 10 × 1: delete the other 10 Applications.
  await Promise.all(Array.from({ length: N - 10 }, (_, i) => call(server!, "DELETE", `${G}/namespaces/${project}/applications/svc-${10 + i}`)));
  for (const t0 = performance.now(); (await readyCount(server, project)).total !== 10 || (await projectContainers(project)).length !== 10; ) {
    if (performance.now() - t0 > 120_000) throw new Error("10 Applications not deleted in 120 s");
    await sleep(250);
  }
  await waitAllReady(server, project, 10);
  resync.push(await measureResync(server, events, instance, "10 Applications × 1 replica", 10, 10));
  const floor10 = await floorLists(project);
  log(`(c) ${resync.at(-1)!.label}: ${fmt(resync.at(-1)!.callsPerPass, 1)} Docker calls/pass`);
  // 10 × 3: scale every Application to 3 replicas.
  await Promise.all(Array.from({ length: 10 }, (_, i) => mustOk(call(server!, "PATCH", `${G}/namespaces/${project}/applications/svc-${i}`, { spec: { replicas: 3 } }, "application/merge-patch+json"), "scale")));
  await waitAllReady(server, project, 10);
  if ((await projectContainers(project)).filter((c) => c.State === "running").length !== 30) throw new Error("expected 30 running containers after scaling to 3");
  resync.push(await measureResync(server, events, instance, "10 Applications × 3 replicas", 10, 30));
  const floor10x3 = await floorLists(project);
  log(`(c) ${resync.at(-1)!.label}: ${fmt(resync.at(-1)!.callsPerPass, 1)} Docker calls/pass`);
  const floors = [floor20, floor10, floor10x3];

  // ---------------------------------------------------------------- report
  const fm = median(floorMs);
  const bm = median(berthRuns.map((r) => r.ms));
  const verdict = (v: number, target: number) => (v <= target ? "meets" : "MISSES");
  console.log(`\n(a) apply ${N} one-replica Applications → all Ready (${ROUNDS} rounds each, alternating; median)\n`);
  console.log(
    table(
      ["measurement", "median ms", "runs ms", "× floor", "target ≤ 1.25×"],
      [
        ["floor: network + 20 × (create, start) via dockerode, parallel", fmt(fm), floorMs.map((x) => fmt(x)).join(", "), "1.00×", ""],
        ["  same, 8 at a time (Berth's Application workers)", fmt(median(floor8Ms)), floor8Ms.map((x) => fmt(x)).join(", "), ratio(median(floor8Ms), fm), ""],
        ["berth: POST /berth/v1/apply → 20 Ready (API polled every 50 ms)", fmt(bm), berthRuns.map((r) => fmt(r.ms)).join(", "), ratio(bm, fm), verdict(bm / fm, 1.25)],
        ["  … apply request answered", fmt(median(berthRuns.map((r) => r.applyMs))), berthRuns.map((r) => fmt(r.applyMs)).join(", "), "", ""],
        ["  … 20th container 'start' event", fmt(median(berthRuns.map((r) => r.startedMs))), berthRuns.map((r) => fmt(r.startedMs)).join(", "), ratio(median(berthRuns.map((r) => r.startedMs)), fm), ""],
      ],
    ),
  );
  console.log(`\n  Docker API calls by Berth during the last apply round: ${opsText(berthRuns.at(-1)!.calls)} (floor: network_create 1, container_create ${N}, container_start ${N})`);

  const floorDriftMs = floorDrift.map((t) => t.ms);
  const driftMs = berthDriftTrials.map((t) => t.ms);
  const floorReaction = floorDrift.map((t) => t.reactionMs);
  const reaction = berthDriftTrials.map((t) => t.reactionMs);
  const fd = median(floorDriftMs);
  const dm = median(driftMs);
  console.log(`\n(b) drift repair after docker rm -f of one Application container (median of ${driftMs.length})\n`);
  console.log(
    table(
      ["measurement", "median ms", "min ms", "max ms", "× floor"],
      [
        ["floor: rm -f, then create + start directly → 'start' event", fmt(fd), fmt(Math.min(...floorDriftMs)), fmt(Math.max(...floorDriftMs)), "1.00×"],
        ["berth: rm -f → same-name container 'start' event", fmt(dm), fmt(Math.min(...driftMs)), fmt(Math.max(...driftMs)), ratio(dm, fd)],
        ["floor reaction: old 'destroy' → new 'create' event", fmt(median(floorReaction)), fmt(Math.min(...floorReaction)), fmt(Math.max(...floorReaction)), ""],
        ["berth reaction: old 'destroy' → new 'create' event (detect, reconcile, plan)", fmt(median(reaction)), fmt(Math.min(...reaction)), fmt(Math.max(...reaction)), ""],
      ],
    ),
  );
  console.log(`  runs: ${driftMs.map((x) => fmt(x)).join(", ")} ms; reactions: ${reaction.map((x) => fmt(x)).join(", ")} ms`);

  console.log(`\n(c) no-op resync, BERTH_RESYNC_SECONDS=${RESYNC_S}, a window of ~${PASSES} passes between quiet points (1 Project; passes = Project reconciles)\n`);
  console.log(
    table(
      ["Applications × replicas", "containers", "passes", "Docker calls / pass", "per Application", "floor (1 list / App)", "× floor", "App reconciles / pass / App", "node CPU ms / pass", "… above idle", "floor CPU ms", "× floor", "postgres CPU ms / pass", "… above idle"],
      resync.map((r, i) => {
        const secondsPerPass = r.windowMs / 1000 / r.passes;
        const nodeAbove = r.nodeCpuMsPerPass - idle.nodeMsPerS * secondsPerPass;
        return [
          r.label,
          String(r.containers),
          String(r.passes),
          fmt(r.callsPerPass, 1),
          fmt(r.callsPerPass / r.apps, 2),
          String(r.apps),
          ratio(r.callsPerPass, r.apps),
          fmt(r.appReconcilesPerApp, 2),
          fmt(r.nodeCpuMsPerPass, 1),
          fmt(nodeAbove, 1),
          fmt(floors[i].cpuMs, 1),
          ratio(nodeAbove, floors[i].cpuMs),
          fmt(r.pgCpuMsPerPass, 1),
          fmt(r.pgCpuMsPerPass - idle.pgMsPerS * secondsPerPass, 1),
        ];
      }),
    ),
  );
  for (const r of resync) console.log(`  ${r.label}: per pass ${opsText(r.opsPerPass)}; summed reconcile time ${fmt(r.reconcileMsPerPass)} ms; window ${fmt(r.windowMs / 1000, 1)} s; one /metrics scrape ${fmt(r.scrapeCpuMs, 1)} ms CPU (subtracted); ${r.foreignEvents} container events of other Berth installations on this engine in the window`);
  console.log(`  idle (no Applications, between passes): node ${fmt(idle.nodeMsPerS, 1)} ms CPU/s, postgres ${fmt(idle.pgMsPerS, 1)} ms CPU/s`);
  const [c20, c10, c10x3] = resync;
  const marginal = (c20.callsPerPass - c10.callsPerPass) / 10;
  const fixed = c10.callsPerPass - 10 * marginal;
  const perContainerFree = Math.abs(c10x3.callsPerPass - c10.callsPerPass) < 0.5;
  const onePerApp = Math.abs(marginal - 1) < 0.1;
  console.log(`\n  calls per pass, 10×3 vs 10×1: ${ratio(c10x3.callsPerPass, c10.callsPerPass)} with 3× the containers → ${perContainerFree ? "independent of the number of containers" : "DEPENDS ON THE NUMBER OF CONTAINERS"}`);
  console.log(`  calls per pass, 20×1 vs 10×1: ${ratio(c20.callsPerPass, c10.callsPerPass)} with 2× the Applications → ${fmt(marginal, 2)} calls per extra Application (${onePerApp ? "one list per Application" : "NOT one list per Application"}) + ${fmt(fixed, 1)} fixed per pass`);
  console.log(`  floor list latency (sum of ${N}/10/10 calls): ${floors.map((f) => fmt(f.listMs, 0)).join(" / ")} ms; wall ${floors.map((f) => fmt(f.wallMs, 0)).join(" / ")} ms`);
  console.log(`\n${machine()}\n${load.summary()}`);
} finally {
  process.off("SIGINT", interrupted);
  await cleanupAll();
}

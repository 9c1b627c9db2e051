import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { DataSource } from "typeorm";
import type { Logger } from "winston";
import { writeKubeconfig } from "./api/kubeconfig.js";
import { ApiServer } from "./api/server.js";
import { ensureServingCerts, type ServingCerts } from "./api/tls.js";
import { GarbageCollector } from "./controller/garbage-collector.js";
import { LeaderElector, leaderTimingFromEnv, type LeaderTiming } from "./controller/leader.js";
import { Manager } from "./controller/manager.js";
import { RetentionJob, retentionFromEnv } from "./controller/retention.js";
import { BlockedObjectsSource, ChangeFeedSource, ResyncSource, RuntimeEventSource } from "./controller/sources.js";
import { setupApplication } from "./reconcilers/application/setup.js";
import { GitSource } from "./reconcilers/application/git-source.js";
import { BuildQueue, buildConcurrency } from "./controller/build-queue.js";
import { CommitStatusReporter } from "./controller/commit-status-reporter.js";
import { setupBackupDestination } from "./reconcilers/backup-destination/setup.js";
import { setupDatabase } from "./reconcilers/database/setup.js";
import { setupSync } from "./reconcilers/sync/setup.js";
import { setupNotification } from "./reconcilers/notification/setup.js";
import { setupDomain } from "./reconcilers/domain/setup.js";
import { setupProject } from "./reconcilers/project/setup.js";
import { CLEARING_EVENTS } from "./reconcilers/shared/failures.js";
import { createRouting } from "./router/index.js";
import type { RouterOptions } from "./router/settings.js";
import { DockerDriver } from "./runtime/docker.js";
import { DockerSwarm } from "./runtime/docker-swarm.js";
import type { SwarmDriver } from "./runtime/swarm.js";
import type { RuntimeKind } from "./core/specs.js";
import { SwarmApplications } from "./reconcilers/application/swarm-app.js";
import type { RuntimeDriver } from "./runtime/driver.js";
import { NO_TRAFFIC } from "./runtime/traffic.js";
import { ChangeFeed } from "./store/change-feed.js";
import { createDataSource, migrate } from "./store/data-source.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "./store/embedded.js";
import { openStores, type Stores } from "./store/index.js";
import { ensureAdminUser, installationId } from "./store/installation.js";
import { SecretBox } from "./store/secrets.js";
import { KeyRotator } from "./store/key-rotation.js";
import type { ResourceStore } from "./store/resources.js";
import { createLogger } from "./telemetry/logger.js";
import { IdleGc } from "./telemetry/idle-gc.js";
import { Metrics } from "./telemetry/metrics.js";

export interface ServeOptions {
  dataDir: string;
  listen: string;
  databaseUrl?: string;
  logger?: Logger;
  /** Run the controllers (when elected leader). Default true. */
  controllers?: boolean;
  /** Period of the light resync; default $BERTH_RESYNC_SECONDS or 30 s. */
  resyncMs?: number;
  /** Minimum time between full resync passes; default $BERTH_FULL_RESYNC_SECONDS or 600 s. */
  fullResyncMs?: number;
  /**
   * An embedded Postgres already being started by the caller (the CLI starts it before it
   * loads the server's modules, so initdb runs on another core meanwhile). Ignored with
   * databaseUrl; started here when absent.
   */
  embedded?: Promise<EmbeddedDatabase>;
  /** Caddy for Domains: --caddy-admin URL or --caddy-managed, ports and ACME (src/router/settings.ts). */
  router?: RouterOptions;
  /** The runtime driver (default: Docker on $DOCKER_SOCKET); tests may pass the fake. */
  driver?: RuntimeDriver;
  /** The swarm driver (default: the same engine's swarm API); tests may pass the fake. */
  swarm?: SwarmDriver;
  /** The runtime of Projects without spec.runtime (--runtime, $BERTH_RUNTIME); default docker (ADR 0025). */
  runtime?: RuntimeKind;
}

/** A running Berth: every long-lived part, and one stop() that ends them in reverse order. */
export interface Berth {
  url: string;
  kubeconfigPath: string;
  token: string;
  caPem: string;
  store: ResourceStore;
  stores: Stores;
  dataSource: DataSource;
  metrics: Metrics;
  driver: RuntimeDriver;
  leader?: LeaderElector;
  /** `berth rotate-key` in this process (ADR 0016). */
  keyRotation: KeyRotator;
  /** The controllers' manager while this process leads. */
  manager(): Manager | undefined;
  stop(): Promise<void>;
}

/** What the controllers need, gathered once per process. */
interface Wiring {
  stores: Stores;
  feed: ChangeFeed;
  box: SecretBox;
  driver: RuntimeDriver;
  metrics: Metrics;
  logger: Logger;
  dataDir: string;
  router?: RouterOptions;
  resyncMs: number;
  fullResyncMs: number;
  swarm: SwarmDriver;
  runtime: RuntimeKind;
}

/** --runtime / $BERTH_RUNTIME: docker (the default) or swarm; anything else stops the start. */
function runtimeKind(value: string | undefined): RuntimeKind {
  if (value === undefined || value === "" || value === "docker") return "docker";
  if (value === "swarm") return "swarm";
  throw new Error(`--runtime must be docker or swarm, got "${value}"`);
}

/** The swarm driver and the installation's default runtime (ADR 0025). */
function runtimeParts(opts: ServeOptions, driver: RuntimeDriver, metrics: Metrics): { swarm: SwarmDriver; runtime: RuntimeKind } {
  return { swarm: opts.swarm ?? new DockerSwarm(driver.instance, metrics), runtime: runtimeKind(opts.runtime ?? process.env.BERTH_RUNTIME) };
}

/** A period in seconds from the environment, in milliseconds. */
function envMs(name: string, defaultSeconds: number): number {
  return Number(process.env[name] ?? defaultSeconds) * 1000;
}

function ensureToken(dataDir: string): string {
  const file = path.join(dataDir, "admin.token");
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString("base64url") + "\n", { mode: 0o600 });
  return readFileSync(file, "utf8").trim();
}

function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  if (i < 0) throw new Error(`--listen must be HOST:PORT, got "${listen}"`);
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(listen.slice(i + 1)) };
}

function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * Git sources (issue 16): the build queue (BERTH_BUILD_CONCURRENCY builds at once, default 2)
 * and the commit status reporter, both waking the Application whose work ended.
 */
function gitSources(mgr: Manager, w: Wiring): GitSource {
  const holder: { git?: GitSource } = {};
  const wake = (uid: string): void => {
    const key = holder.git?.keyOf(uid);
    if (key) mgr.enqueue({ kind: "Application", ...key });
  };
  const builds = new BuildQueue(buildConcurrency(process.env.BERTH_BUILD_CONCURRENCY), wake);
  const reporter = new CommitStatusReporter({ logger: w.logger, onChange: wake });
  mgr.add(builds, 0);
  mgr.add(reporter, 0);
  holder.git = new GitSource({ driver: w.driver, builds, reporter, revisions: w.stores.revisions, box: w.box, cacheRoot: path.join(w.dataDir, "build-cache") });
  return holder.git;
}

/**
 * The controllers of one leadership term (controller-runtime's main: each reconciler's
 * SetupWithManager, then the sources that feed them).
 */
export function buildManager(w: Wiring): Manager {
  const { stores, driver, metrics, logger } = w;
  const mgr = new Manager({ logger, metrics });
  const routing = createRouting(w.router, { store: stores.resources, driver, logger });
  for (const c of routing?.components ?? []) mgr.add(c, 0);
  const base = { store: stores.resources, events: stores.events };
  setupProject(mgr, { ...base, driver, swarm: w.swarm });
  setupBackupDestination(mgr, { ...base, box: w.box });
  setupDatabase(mgr, { ...base, driver, credentials: stores.credentials, volumes: stores.volumes, backups: stores.backups, metrics, logger, dataDir: w.dataDir, box: w.box });
  const git = gitSources(mgr, w);
  setupApplication(mgr, { ...base, driver, traffic: routing?.router ?? NO_TRAFFIC, box: w.box, credentials: stores.credentials, revisions: stores.revisions, volumes: stores.volumes, metrics, git, jobRuns: stores.jobRuns, volumeBackups: stores.volumeBackups, dataDir: w.dataDir, logger, swarm: new SwarmApplications({ swarm: w.swarm, driver, store: stores.resources, revisions: stores.revisions }), defaultRuntime: w.runtime });
  setupDomain(mgr, { ...base, router: routing?.router, certificates: stores.certificates });
  setupSync(mgr, { ...base, dataDir: w.dataDir, box: w.box });
  setupNotification(mgr, { ...base, outbox: stores.outbox, box: w.box, logger });
  const dispatch = mgr.dispatch.bind(mgr);
  const gc = new GarbageCollector({ store: stores.resources, driver, metrics, logger, swarm: w.swarm });
  mgr.add(new ChangeFeedSource(w.feed, dispatch));
  mgr.add(new RuntimeEventSource(driver, dispatch, logger));
  mgr.add(new BlockedObjectsSource(driver, { store: stores.resources, kinds: mgr.kinds(), events: CLEARING_EVENTS }, dispatch, logger));
  mgr.add(new RetentionJob(stores, retentionFromEnv(), logger));
  mgr.add(
    new ResyncSource(stores.resources, dispatch, {
      kinds: mgr.kinds(),
      periodMs: w.resyncMs,
      fullPeriodMs: w.fullResyncMs,
      observe: () => gc.listAll(),
      settled: mgr.settled(),
      onPass: async (containers) => void (await gc.sweep(containers)),
    }),
  );
  return mgr;
}

/** What startBerth has brought up, in order, and how to stop it again (in reverse). */
class Parts {
  private readonly stops: (() => Promise<void>)[] = [];

  constructor(private readonly logger: Logger) {}

  add(stop: () => Promise<void>): void {
    this.stops.push(stop);
  }

  async stopAll(): Promise<void> {
    for (const s of this.stops.splice(0).reverse()) await s().catch((e) => this.logger.error("stop failed", { error: String(e) }));
  }
}

/** The store: Postgres (embedded unless a URL is given), migrations, repositories, change feed. */
async function openStore(opts: ServeOptions, parts: Parts, box: SecretBox): Promise<{ url: string; ds: DataSource; stores: Stores; feed: ChangeFeed }> {
  const logger = opts.logger!;
  const embeddedStart = opts.databaseUrl ? undefined : (opts.embedded ?? startEmbeddedPostgres(opts.dataDir, (m) => logger.debug("postgres", { message: m })));
  // Registered before anything can throw, so a failed start never leaves Postgres running.
  if (embeddedStart) parts.add(async () => (await embeddedStart.catch(() => undefined))?.stop());
  const url = opts.databaseUrl ?? (await embeddedStart!).url;
  const ds = createDataSource(url);
  await ds.initialize();
  parts.add(() => ds.destroy());
  const applied = await migrate(ds);
  if (applied.length) logger.info("migrations applied", { migrations: applied });
  const adminId = await ensureAdminUser(ds);
  const stores = openStores(ds, box, () => adminId);
  const feed = new ChangeFeed(stores.resources, url);
  await feed.start();
  parts.add(() => feed.stop());
  const compaction = setInterval(() => void stores.resources.compact(3600).catch(() => undefined), 60_000);
  parts.add(async () => clearInterval(compaction));
  return { url, ds, stores, feed };
}

/** Leader election, and a new manager of every controller for each term this process leads. */
async function startControllers(wiring: Wiring, url: string, timing: LeaderTiming, parts: Parts): Promise<{ leader: LeaderElector; manager: () => Manager | undefined }> {
  await wiring.driver.ping().catch((e) => wiring.logger.warn("Docker engine not reachable; controllers will keep retrying", { error: String(e) }));
  const abort = new AbortController();
  let manager: Manager | undefined;
  const leader = new LeaderElector(url, {
    onStartedLeading: async () => {
      manager = buildManager(wiring);
      await manager.start(abort.signal);
    },
    onStoppedLeading: async () => {
      await manager?.stop();
      manager = undefined;
    },
    onStatus: (leading) => wiring.metrics.leaderStatus.set({ name: "berth" }, leading ? 1 : 0),
  }, wiring.logger, { timing });
  await leader.start(abort.signal);
  parts.add(() => leader.stop());
  return { leader, manager: () => manager };
}

function serverUrlOf(host: string, port: number): string {
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  return `https://${shown}:${port}`;
}

/** Keys are generated on libuv's thread pool while initdb and migrations run; awaited later. */
function startCerts(dataDir: string, host: string): Promise<ServingCerts> {
  return ensureServingCerts(ensureDir(path.join(dataDir, "tls")), ["127.0.0.1", "localhost", "::1", host].filter((h) => h !== "0.0.0.0"));
}

/** `berth rotate-key` in this process; a rotation a crash or a restart interrupted goes on where it stopped (ADR 0016). */
function startKeyRotation(stores: Stores, box: SecretBox, logger: Logger, parts: Parts): KeyRotator {
  const rotator = new KeyRotator(stores.keyRotations, box, (message, fields) => logger.info(message, fields));
  parts.add(() => rotator.stop());
  const stopped = (e: unknown): void => void logger.warn("key rotation stopped; berth rotate-key resumes it", { error: String(e) });
  rotator.resume().then((done) => done?.catch(stopped), stopped);
  return rotator;
}

/** Metrics, and the full collection that hands heap pages back after a burst of work (idle-gc.ts). */
function startTelemetry(parts: Parts): Metrics {
  const idleGc = new IdleGc();
  idleGc.start();
  parts.add(async () => idleGc.stop());
  return new Metrics();
}

/** Wires the parts of `berth serve`; each part owns its own start/stop. */
export async function startBerth(options: ServeOptions): Promise<Berth> {
  const opts = { ...options, logger: options.logger ?? createLogger(), leaderTiming: leaderTimingFromEnv(process.env) };
  const logger = opts.logger;
  const parts = new Parts(logger);
  try {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    const { host, port } = parseListen(opts.listen);
    const box = SecretBox.fromEnvOrDataDir(opts.dataDir);
    const [{ url, ds, stores, feed }, certs] = await Promise.all([openStore(opts, parts, box), startCerts(opts.dataDir, host)]);
    const token = ensureToken(opts.dataDir);
    const metrics = startTelemetry(parts);
    metrics.observeFeedSubscribers(() => feed.subscriberCount());
    const driver = opts.driver ?? new DockerDriver(await installationId(ds), metrics);
    const keyRotation = startKeyRotation(stores, box, logger, parts);
    const api = new ApiServer({ keyRotation, host, port, tls: certs, token, stores, feed, ready: () => feed.connected, logger, metrics: () => metrics.render(), driver, firstRequestTimeoutMs: envMs("BERTH_FIRST_REQUEST_TIMEOUT_SECONDS", 10), maxConnections: Number(process.env.BERTH_MAX_CONNECTIONS ?? 1024), dataDir: opts.dataDir, box });
    await api.start();
    parts.add(() => api.stop());
    const wiring: Wiring = {
      stores, feed, box, driver, metrics, logger, dataDir: opts.dataDir, router: opts.router,
      ...runtimeParts(opts, driver, metrics),
      resyncMs: opts.resyncMs ?? envMs("BERTH_RESYNC_SECONDS", 30),
      fullResyncMs: opts.fullResyncMs ?? envMs("BERTH_FULL_RESYNC_SECONDS", 600),
    };
    const controllers = opts.controllers !== false ? await startControllers(wiring, url, opts.leaderTiming, parts) : undefined;
    const serverUrl = serverUrlOf(host, api.address.port);
    const kubeconfigPath = path.join(opts.dataDir, "kubeconfig.yaml");
    writeKubeconfig(kubeconfigPath, serverUrl, certs.caPem, token);
    logger.info("berth is serving", { url: serverUrl, kubeconfig: kubeconfigPath, dataDir: opts.dataDir, embeddedPostgres: !opts.databaseUrl });
    return { url: serverUrl, kubeconfigPath, token, caPem: certs.caPem, store: stores.resources, stores, dataSource: ds, metrics, driver, keyRotation, leader: controllers?.leader, manager: controllers?.manager ?? (() => undefined), stop: () => parts.stopAll() };
  } catch (e) {
    await parts.stopAll();
    throw e;
  }
}

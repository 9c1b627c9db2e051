import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { DataSource } from "typeorm";
import type { Logger } from "winston";
import { ApiServer } from "./api/server.js";
import { LeaderElector } from "./controller/leader.js";
import { ControllerManager } from "./controller/manager.js";
import type { RouterOptions } from "./router/settings.js";
import { DockerDriver } from "./runtime/docker.js";
import { ensureServingCerts } from "./api/tls.js";
import { writeKubeconfig } from "./kubeconfig.js";
import { ChangeFeed } from "./store/change-feed.js";
import { createDataSource, migrate } from "./store/data-source.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "./store/embedded.js";
import { EventStore } from "./store/events.js";
import { ResourceStore } from "./store/resources.js";
import { createLogger } from "./telemetry/logger.js";
import { Metrics } from "./telemetry/metrics.js";
import { SecretBox } from "./util/secrets.js";

export interface ServeOptions {
  dataDir: string;
  listen: string;
  databaseUrl?: string;
  logger?: Logger;
  /** Run the controllers (when elected leader). Default true. */
  controllers?: boolean;
  /** Period of the full resync; default $BERTH_RESYNC_SECONDS or 30 s. */
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
}

/** A running Berth: every long-lived part, and one stop() that ends them in reverse order. */
export interface Berth {
  url: string;
  kubeconfigPath: string;
  token: string;
  caPem: string;
  store: ResourceStore;
  dataSource: DataSource;
  metrics: Metrics;
  leader?: LeaderElector;
  stop(): Promise<void>;
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

async function ensureAdminUser(ds: DataSource): Promise<string> {
  await ds.query(
    `INSERT INTO users (username, email, password_hash, role) VALUES ('admin', 'admin@berth.local', '!token-auth', 'super_admin') ON CONFLICT (username) DO NOTHING`,
  );
  const rows = await ds.query(`SELECT id FROM users WHERE username = 'admin'`);
  return rows[0].id;
}

/** Wires the parts of `berth serve`; each part owns its own start/stop. */
export async function startBerth(opts: ServeOptions): Promise<Berth> {
  const logger = opts.logger ?? createLogger();
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((e) => logger.error("stop failed", { error: String(e) }));
  };
  try {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    const embeddedStart = opts.databaseUrl ? undefined : (opts.embedded ?? startEmbeddedPostgres(opts.dataDir, (m) => logger.debug("postgres", { message: m })));
    // Registered before anything can throw, so a failed start never leaves Postgres running.
    if (embeddedStart) stops.push(async () => (await embeddedStart.catch(() => undefined))?.stop());
    const { host, port } = parseListen(opts.listen);
    // CPU work in this process while initdb runs in its own.
    const box = SecretBox.fromEnvOrDataDir(opts.dataDir);
    const certs = ensureServingCerts(ensureDir(path.join(opts.dataDir, "tls")), ["127.0.0.1", "localhost", "::1", host].filter((h) => h !== "0.0.0.0"));
    const token = ensureToken(opts.dataDir);
    const url = opts.databaseUrl ?? (await embeddedStart!).url;
    const ds = createDataSource(url);
    await ds.initialize();
    stops.push(() => ds.destroy());
    const applied = await migrate(ds);
    if (applied.length) logger.info("migrations applied", { migrations: applied });
    const adminId = await ensureAdminUser(ds);
    const store = new ResourceStore(ds, box, () => adminId);
    const feed = new ChangeFeed(store, url);
    await feed.start();
    stops.push(() => feed.stop());
    const compaction = setInterval(() => void store.compact(3600).catch(() => undefined), 60_000);
    stops.push(async () => clearInterval(compaction));
    const metrics = new Metrics();
    const events = new EventStore(ds);
    const instance = (await ds.query(`SELECT id FROM berth_installation`))[0].id as string;
    const driver = new DockerDriver(instance, metrics);
    const api = new ApiServer({ host, port, tls: certs, token, store, feed, ready: () => feed.connected, events, logger, metrics: () => metrics.render(), docker: driver, box });
    await api.start();
    stops.push(() => api.stop());
    let leader: LeaderElector | undefined;
    if (opts.controllers !== false) {
      await driver.ping().catch((e) => logger.warn("Docker engine not reachable; controllers will keep retrying", { error: String(e) }));
      const resyncMs = opts.resyncMs ?? Number(process.env.BERTH_RESYNC_SECONDS ?? 30) * 1000;
      const fullResyncMs = opts.fullResyncMs ?? Number(process.env.BERTH_FULL_RESYNC_SECONDS ?? 600) * 1000;
      const manager = new ControllerManager({ store, feed, box, driver, events, metrics, logger, resyncMs, fullResyncMs, dataDir: opts.dataDir, router: opts.router });
      const abort = new AbortController();
      leader = new LeaderElector(url, { onStartedLeading: () => manager.start(abort.signal), onStoppedLeading: () => manager.stop() }, logger);
      await leader.start(abort.signal);
      const l = leader;
      stops.push(() => l.stop());
    }
    const shownHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
    const serverUrl = `https://${shownHost}:${api.address.port}`;
    const kubeconfigPath = path.join(opts.dataDir, "kubeconfig.yaml");
    writeKubeconfig(kubeconfigPath, serverUrl, certs.caPem, token);
    logger.info("berth is serving", { url: serverUrl, kubeconfig: kubeconfigPath, dataDir: opts.dataDir, embeddedPostgres: !opts.databaseUrl });
    return { url: serverUrl, kubeconfigPath, token, caPem: certs.caPem, store, dataSource: ds, metrics, leader, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

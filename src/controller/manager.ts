import type { Logger } from "winston";
import { ApplicationReconciler } from "../reconcilers/application.js";
import { BackupWorker, DatabaseMaintenance, backupRoot } from "../reconcilers/backups.js";
import { applicationSettled } from "../reconcilers/application-settled.js";
import { DatabaseReconciler } from "../reconcilers/database.js";
import { DomainReconciler, domainWatchMapper } from "../reconcilers/domain.js";
import { createRouting, type RouterOptions } from "../router/index.js";
import { ProjectReconciler } from "../reconcilers/project.js";
import type { DockerDriver } from "../runtime/docker.js";
import type { ChangeFeed } from "../store/change-feed.js";
import type { EventStore } from "../store/events.js";
import type { ResourceStore } from "../store/resources.js";
import type { Metrics } from "../telemetry/metrics.js";
import type { SecretBox } from "../util/secrets.js";
import { Controller, type ObjectKey } from "./controller.js";
import { GarbageCollector } from "./garbage-collector.js";
import { RetentionJob, retentionFromEnv } from "./retention.js";
import { ChangeFeedSource, DockerEventSource, ResyncSource } from "./sources.js";

/** Every long-lived part has this shape; main.ts only wires them. */
export interface Component {
  start(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

export interface ManagerDeps {
  store: ResourceStore;
  feed: ChangeFeed;
  box: SecretBox;
  driver: DockerDriver;
  events: EventStore;
  metrics: Metrics;
  logger: Logger;
  resyncMs: number;
  /** Minimum time between full resync passes (every object reconciled); default 10 min. */
  fullResyncMs?: number;
  concurrency?: number;
  /** Where backups go by default (`<data-dir>/backups`; BERTH_BACKUP_DIR overrides). */
  dataDir?: string;
  /** Caddy for Domains (--caddy-admin / --caddy-managed); without it Domains report RouterNotConfigured. */
  router?: RouterOptions;
}

/** Runs the controllers and their sources while this process leads. */
export class ControllerManager implements Component {
  private running: Component[] = [];
  private abort: AbortController | undefined;
  readonly gc: GarbageCollector;

  constructor(private readonly deps: ManagerDeps) {
    this.gc = new GarbageCollector(deps.store, deps.driver, deps.metrics, deps.logger);
  }

  async start(_signal: AbortSignal): Promise<void> {
    const d = this.deps;
    this.abort = new AbortController();
    const maintenance = new DatabaseMaintenance();
    const controllers: Record<string, Controller> = {
      Project: new Controller("project", new ProjectReconciler(d.store, d.driver), d.logger, d.metrics, 2),
      Application: new Controller("application", new ApplicationReconciler(d.store, d.box, d.driver, d.events, d.metrics), d.logger, d.metrics, d.concurrency ?? 8),
      Database: new Controller("database", new DatabaseReconciler(d.store, d.box, d.driver, d.events, d.metrics, maintenance), d.logger, d.metrics, 4),
    };
    const routing = createRouting(d.router, d);
    controllers.Domain = new Controller("domain", new DomainReconciler(d.store, routing?.router, d.events), d.logger, d.metrics, 4);
    const domainsOf = domainWatchMapper(d.store, (k) => controllers.Domain.enqueue(k));
    const enqueue = (key: ObjectKey): void => {
      controllers[key.kind]?.enqueue(key);
      domainsOf(key);
    };
    const components: Component[] = [
      ...(routing?.components ?? []),
      ...Object.values(controllers),
      new ChangeFeedSource(d.feed, enqueue),
      new DockerEventSource(d.driver, enqueue, d.logger),
      new BackupWorker({ store: d.store, box: d.box, driver: d.driver, events: d.events, metrics: d.metrics, logger: d.logger, maintenance, enqueue, backupDir: backupRoot(d.dataDir) }),
      new RetentionJob(d.store.dataSource, retentionFromEnv(), d.logger),
      new ResyncSource(d.store, enqueue, {
        periodMs: d.resyncMs,
        fullPeriodMs: d.fullResyncMs ?? 600_000,
        observe: () => this.gc.listAll(),
        settled: { Application: applicationSettled },
        onPass: async (containers) => {
          await this.gc.sweep(containers);
        },
      }),
    ];
    for (const c of components) {
      await c.start(this.abort.signal);
      this.running.push(c);
    }
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    for (const c of this.running.reverse()) await c.stop().catch(() => undefined);
    this.running = [];
  }
}

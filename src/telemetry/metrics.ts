import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * Prometheus metrics under controller-runtime's names, so dashboards built for Kubernetes
 * controllers work unchanged, plus Berth's own.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({ name: "controller_runtime_reconcile_total", help: "Total number of reconciliations per controller", labelNames: ["controller", "result"], registers: [this.registry] });
  readonly reconcileErrors = new Counter({ name: "controller_runtime_reconcile_errors_total", help: "Total number of reconciliation errors per controller", labelNames: ["controller"], registers: [this.registry] });
  readonly reconcileTime = new Histogram({ name: "controller_runtime_reconcile_time_seconds", help: "Length of time per reconciliation per controller", labelNames: ["controller"], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry] });
  readonly terminalReconcileErrors = new Counter({ name: "controller_runtime_terminal_reconcile_errors_total", help: "Total number of terminal reconciliation errors per controller", labelNames: ["controller"], registers: [this.registry] });
  readonly activeWorkers = new Gauge({ name: "controller_runtime_active_workers", help: "Number of currently used workers per controller", labelNames: ["controller"], registers: [this.registry] });
  readonly maxConcurrentReconciles = new Gauge({ name: "controller_runtime_max_concurrent_reconciles", help: "Maximum number of concurrent reconciles per controller", labelNames: ["controller"], registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: "workqueue_depth", help: "Current depth of workqueue", labelNames: ["name"], registers: [this.registry] });
  readonly queueAdds = new Counter({ name: "workqueue_adds_total", help: "Total number of adds handled by workqueue", labelNames: ["name"], registers: [this.registry] });
  readonly queueRetries = new Counter({ name: "workqueue_retries_total", help: "Total number of retries handled by workqueue", labelNames: ["name"], registers: [this.registry] });
  readonly driftRepairs = new Counter({ name: "berth_drift_repairs_total", help: "Runtime objects changed to repair drift from desired state", labelNames: ["kind", "cause"], registers: [this.registry] });
  readonly dockerCalls = new Counter({ name: "berth_docker_api_calls_total", help: "Docker API calls", labelNames: ["operation", "result"], registers: [this.registry] });
  readonly dockerLatency = new Histogram({ name: "berth_docker_api_duration_seconds", help: "Docker API call latency", labelNames: ["operation"], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry] });
  readonly backupsTotal = new Counter({ name: "berth_backups_total", help: "Database backups finished, by engine and result (success | failed)", labelNames: ["engine", "result"], registers: [this.registry] });
  /** client-go's leader-election gauge: 1 while this process leads. */
  readonly leaderStatus = new Gauge({ name: "leader_election_master_status", help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease.", labelNames: ["name"], registers: [this.registry] });
  readonly restoresTotal = new Counter({ name: "berth_restores_total", help: "Database restores finished, by engine and result (success | failed)", labelNames: ["engine", "result"], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** A gauge read at scrape time from the change feed: its subscribers (watches and controllers). */
  observeFeedSubscribers(count: () => number): void {
    new Gauge({
      name: "berth_change_feed_subscribers",
      help: "Subscribers of the change feed: open watch streams and controller sources",
      registers: [this.registry],
      collect(): void {
        this.set(count());
      },
    });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

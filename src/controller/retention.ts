import type { DataSource } from "typeorm";
import type { Logger } from "winston";

export interface RetentionPolicy {
  /** deployment_logs older than this go (seed: 30 days). */
  logDays: number;
  /** deployments older than this go (seed: 90 days)… */
  deploymentDays: number;
  /** …except each Application's newest N, which are its rollback history. */
  keepPerApplication: number;
}

export function retentionFromEnv(env: NodeJS.ProcessEnv = process.env): RetentionPolicy {
  return {
    logDays: Number(env.BERTH_DEPLOYMENT_LOG_RETENTION_DAYS ?? 30),
    deploymentDays: Number(env.BERTH_DEPLOYMENT_RETENTION_DAYS ?? 90),
    keepPerApplication: Number(env.BERTH_DEPLOYMENTS_KEPT_PER_APP ?? 10),
  };
}

/** The seed's retention rules as a periodic job (runs where the controllers run). */
export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ds: DataSource,
    private readonly policy: RetentionPolicy,
    private readonly logger: Logger,
    private readonly periodMs = 3_600_000,
  ) {}

  async start(_signal: AbortSignal): Promise<void> {
    await this.runOnce().catch((e) => this.logger.warn("retention pass failed", { error: String(e) }));
    this.timer = setInterval(() => void this.runOnce().catch((e) => this.logger.warn("retention pass failed", { error: String(e) })), this.periodMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }

  async runOnce(): Promise<{ logs: number; deployments: number }> {
    const logs = await this.ds.query(`DELETE FROM deployment_logs WHERE created_at < now() - make_interval(days => $1)`, [this.policy.logDays]);
    const deployments = await this.ds.query(
      `DELETE FROM deployments d USING (
         SELECT id, row_number() OVER (PARTITION BY application_id ORDER BY started_at DESC, id DESC) AS n FROM deployments
       ) ranked
       WHERE d.id = ranked.id AND ranked.n > $2 AND d.started_at < now() - make_interval(days => $1)`,
      [this.policy.deploymentDays, this.policy.keepPerApplication],
    );
    const result = { logs: Number(logs[1] ?? 0), deployments: Number(deployments[1] ?? 0) };
    if (result.logs || result.deployments) this.logger.info("retention removed old records", result);
    return result;
  }
}

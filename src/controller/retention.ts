import type { Logger } from "winston";
import type { RetentionPolicy, RevisionStore } from "../store/revisions.js";

export type { RetentionPolicy };

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
  private stopped = false;

  constructor(
    private readonly revisions: RevisionStore,
    private readonly policy: RetentionPolicy,
    private readonly logger: Logger,
    private readonly periodMs = 3_600_000,
  ) {}

  async start(_signal: AbortSignal): Promise<void> {
    if (this.stopped) return;
    await this.pass();
    this.timer = setInterval(() => void this.pass(), this.periodMs);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    await this.runOnce().catch((e) => this.logger.warn("retention pass failed", { error: String(e) }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  async runOnce(): Promise<{ logs: number; deployments: number }> {
    const result = await this.revisions.prune(this.policy);
    if (result.logs || result.deployments) this.logger.info("retention removed old records", result);
    return result;
  }
}

import type { Logger } from "winston";
import { AUDIT_RETENTION_DAYS, type AuditLog } from "../store/audit.js";
import type { RetentionPolicy as RevisionRetention, RevisionStore } from "../store/revisions.js";

export interface RetentionPolicy extends RevisionRetention {
  /** audit_logs rows older than this go (seed: 1 year). */
  auditDays: number;
}

export function retentionFromEnv(env: NodeJS.ProcessEnv = process.env): RetentionPolicy {
  return {
    logDays: Number(env.BERTH_DEPLOYMENT_LOG_RETENTION_DAYS ?? 30),
    deploymentDays: Number(env.BERTH_DEPLOYMENT_RETENTION_DAYS ?? 90),
    keepPerApplication: Number(env.BERTH_DEPLOYMENTS_KEPT_PER_APP ?? 10),
    auditDays: Number(env.BERTH_AUDIT_RETENTION_DAYS ?? AUDIT_RETENTION_DAYS),
  };
}

/** The seed's retention rules as a periodic job (runs where the controllers run). */
export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly stores: { revisions: RevisionStore; audit: AuditLog },
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

  async runOnce(): Promise<{ logs: number; deployments: number; audit: number }> {
    const revisions = await this.stores.revisions.prune(this.policy);
    const result = { ...revisions, audit: await this.stores.audit.prune(this.policy.auditDays) };
    if (result.logs || result.deployments || result.audit) this.logger.info("retention removed old records", result);
    return result;
  }
}

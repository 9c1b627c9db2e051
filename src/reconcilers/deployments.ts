import type { DataSource } from "typeorm";
import { recordQuery } from "../store/records.js";
import type { ResourceObject } from "../store/types.js";

type Level = "debug" | "info" | "warn" | "error";

/**
 * Deployment records: one row per change of running config (pending → deploying → success |
 * failed), keyed by the config hash, with the revision's full spec (secrets stay ciphertext)
 * and a deployment_logs row per step.
 */
export class DeploymentRecorder {
  constructor(private readonly ds: DataSource) {}

  private async latest(appId: string): Promise<{ id: string; status: string; hash: string } | undefined> {
    const rows = await this.ds.query(`SELECT id, status, metadata->>'configHash' AS hash FROM deployments WHERE application_id = $1 ORDER BY started_at DESC, id LIMIT 1`, [appId]);
    return rows[0];
  }

  /** The row of the rollout to `hash`, created (as the next revision) if this is a new config. */
  async ensure(app: ResourceObject, hash: string, generation: number): Promise<string> {
    const appId = app.metadata.uid!;
    const latest = await this.latest(appId);
    if (latest?.hash === hash) return latest.id;
    if (latest && (latest.status === "pending" || latest.status === "deploying")) {
      await this.finish(latest.id, "failed", `superseded by config ${hash.slice(0, 8)}`);
    }
    const rev = await this.ds.query(`SELECT count(*)::int AS n FROM deployments WHERE application_id = $1`, [appId]);
    const metadata = { configHash: hash, generation, revision: rev[0].n + 1, spec: app.spec };
    const rows = await recordQuery(this.ds, `INSERT INTO deployments (application_id, status, metadata) VALUES ($1, 'pending', $2) RETURNING id`, [appId, JSON.stringify(metadata)]);
    const id: string = rows[0].id;
    await this.log(id, "info", `revision ${metadata.revision}: rolling out config ${hash.slice(0, 8)} (generation ${generation})`);
    await recordQuery(this.ds, `UPDATE deployments SET status = 'deploying' WHERE id = $1`, [id]);
    return id;
  }

  /** The newest row, with its age, for progress-deadline checks. */
  async latestRow(appId: string): Promise<{ id: string; status: string; hash: string; startedAt: Date; revision: number } | undefined> {
    const rows = await this.ds.query(
      `SELECT id, status, metadata->>'configHash' AS hash, started_at, (metadata->>'revision')::int AS revision FROM deployments WHERE application_id = $1 ORDER BY started_at DESC, id LIMIT 1`,
      [appId],
    );
    return rows[0] ? { id: rows[0].id, status: rows[0].status, hash: rows[0].hash, startedAt: rows[0].started_at, revision: rows[0].revision } : undefined;
  }

  /** The newest revision that reached success with a different config: where a rollback goes. */
  async lastGood(appId: string, exceptHash: string): Promise<{ revision: number; spec: Record<string, unknown> } | undefined> {
    const rows = await this.ds.query(
      `SELECT (metadata->>'revision')::int AS revision, metadata->'spec' AS spec FROM deployments WHERE application_id = $1 AND status = 'success' AND metadata->>'configHash' <> $2 ORDER BY started_at DESC LIMIT 1`,
      [appId, exceptHash],
    );
    return rows[0];
  }

  async current(appId: string, hash: string): Promise<string | undefined> {
    const latest = await this.latest(appId);
    return latest?.hash === hash ? latest.id : undefined;
  }

  async finish(id: string, status: "success" | "failed" | "rolled_back", message: string): Promise<void> {
    const res = await recordQuery(this.ds, `UPDATE deployments SET status = $2, completed_at = now() WHERE id = $1 AND status <> $2 RETURNING id`, [id, status]);
    const rows = Array.isArray(res[0]) ? res[0] : res;
    if (rows.length) await this.log(id, status === "success" ? "info" : "error", `${status}: ${message}`);
  }

  async log(id: string, level: Level, message: string): Promise<void> {
    await recordQuery(this.ds, `INSERT INTO deployment_logs (deployment_id, level, message) VALUES ($1, $2, $3)`, [id, level, message]);
  }
}

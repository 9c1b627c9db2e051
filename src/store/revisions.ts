import type { DataSource } from "typeorm";
import type { ResourceObject } from "../core/types.js";
import { recordQuery } from "./durability.js";
import { returned } from "./sql.js";

type Level = "debug" | "info" | "warn" | "error";
export type RevisionStatus = "pending" | "building" | "deploying" | "success" | "failed" | "rolled_back";

export interface RevisionRow {
  id: string;
  status: RevisionStatus;
  hash: string;
  startedAt: Date;
  completedAt: Date | null;
  revision: number;
  generation: number;
  /** The revision's spec as stored (secret values stay ciphertext). */
  spec: Record<string, unknown>;
  /** The commit a git-source revision was built from. */
  commit: string | null;
  /** A git-source revision's build figures (duration, image size, cache hits). */
  build?: Record<string, unknown>;
}

export interface RevisionLog {
  level: string;
  message: string;
  time: Date;
}

export interface RetentionPolicy {
  /** deployment_logs older than this go (seed: 30 days). */
  logDays: number;
  /** deployments older than this go (seed: 90 days)… */
  deploymentDays: number;
  /** …except each Application's newest N, which are its rollback history. */
  keepPerApplication: number;
}

interface DbRow {
  id: string;
  status: RevisionStatus;
  metadata: { configHash: string; revision: number; generation: number; spec: Record<string, unknown>; build?: Record<string, unknown> };
  started_at: Date;
  completed_at: Date | null;
  commit_sha: string | null;
}

function toRevision(r: DbRow): RevisionRow {
  return {
    id: r.id,
    status: r.status,
    hash: r.metadata.configHash,
    startedAt: r.started_at,
    completedAt: r.completed_at,
    revision: Number(r.metadata.revision),
    generation: Number(r.metadata.generation),
    spec: r.metadata.spec,
    commit: r.commit_sha,
    ...(r.metadata.build ? { build: r.metadata.build } : {}),
  };
}

const COLUMNS = `id, status, metadata, started_at, completed_at, commit_sha`;

/**
 * deployments.triggered_by: the user whose write made the generation being rolled out — the
 * audit row (written in the write's own transaction) of the create or spec change that reached
 * generation $3 of Application $1. NULL when that write was the control loop's (a Sync) or the
 * user is gone. A rollout of generation N is caused by the write of N, whoever wrote status since.
 */
const SPEC_WRITER = `SELECT a.user_id FROM audit_logs a
  WHERE a.resource_type = 'application' AND a.resource_id = $1 AND a.details->'after'->'metadata'->>'generation' = $3
    AND (a.details->'before' = 'null'::jsonb OR a.details->'before'->'metadata'->>'generation' IS DISTINCT FROM $3)
  ORDER BY a.id DESC LIMIT 1`;

/**
 * Rollout revisions: the seed's deployments table (one row per change of running config:
 * pending → deploying → success | failed | rolled_back, keyed by the config hash, with the
 * revision's full spec) and deployment_logs (a row per step). Controller writes commit without
 * waiting for the WAL flush (ADR 0005).
 */
export class RevisionStore {
  constructor(private readonly sql: DataSource) {}

  async latest(appUid: string): Promise<RevisionRow | undefined> {
    const rows: DbRow[] = await this.sql.query(`SELECT ${COLUMNS} FROM deployments WHERE application_id = $1 ORDER BY started_at DESC, id LIMIT 1`, [appUid]);
    return rows[0] ? toRevision(rows[0]) : undefined;
  }

  /**
   * The row of the rollout to `hash`, created (as the next revision) if this is a new config.
   * A git-source revision starts `building` with its commit (`build`); any other goes straight on to deploying.
   */
  async ensure(app: ResourceObject, hash: string, generation: number, build?: { commit: string }): Promise<string> {
    const appUid = app.metadata.uid!;
    const latest = await this.latest(appUid);
    if (latest?.hash === hash) return latest.id;
    if (latest && (latest.status === "pending" || latest.status === "deploying" || latest.status === "building")) {
      await this.finish(latest.id, "failed", `superseded by config ${hash.slice(0, 8)}`);
    }
    const rev = await this.sql.query(`SELECT count(*)::int AS n FROM deployments WHERE application_id = $1`, [appUid]);
    const metadata = { configHash: hash, generation, revision: rev[0].n + 1, spec: app.spec };
    const rows = await recordQuery(this.sql, `INSERT INTO deployments (application_id, status, metadata, triggered_by, commit_sha) VALUES ($1, 'pending', $2, (${SPEC_WRITER}), $4) RETURNING id`, [appUid, JSON.stringify(metadata), String(generation), build?.commit ?? null]);
    const id: string = rows[0].id;
    const what = build ? `building commit ${build.commit.slice(0, 12)} for config ${hash.slice(0, 8)}` : `rolling out config ${hash.slice(0, 8)}`;
    await this.log(id, "info", `revision ${metadata.revision}: ${what} (generation ${generation})`);
    await recordQuery(this.sql, `UPDATE deployments SET status = $2 WHERE id = $1`, [id, build ? "building" : "deploying"]);
    return id;
  }

  /** A build finished with an image: the revision goes on to deploying, its build figures kept in metadata (as the seed's sample). */
  async built(id: string, build: Record<string, unknown>): Promise<void> {
    await recordQuery(this.sql, `UPDATE deployments SET status = 'deploying', metadata = metadata || jsonb_build_object('build', $2::jsonb) WHERE id = $1 AND status = 'building'`, [id, JSON.stringify(build)]);
  }

  /** The id of the newest row when it is the rollout to `hash`. */
  async current(appUid: string, hash: string): Promise<string | undefined> {
    const latest = await this.latest(appUid);
    return latest?.hash === hash ? latest.id : undefined;
  }

  /** The newest revision that reached success with a different config: where a rollback goes. */
  async lastGood(appUid: string, exceptHash: string): Promise<RevisionRow | undefined> {
    const rows: DbRow[] = await this.sql.query(
      `SELECT ${COLUMNS} FROM deployments WHERE application_id = $1 AND status = 'success' AND metadata->>'configHash' <> $2 ORDER BY started_at DESC LIMIT 1`,
      [appUid, exceptHash],
    );
    return rows[0] ? toRevision(rows[0]) : undefined;
  }

  async byNumber(appUid: string, revision: number): Promise<RevisionRow | undefined> {
    const rows: DbRow[] = await this.sql.query(`SELECT ${COLUMNS} FROM deployments WHERE application_id = $1 AND (metadata->>'revision')::int = $2`, [appUid, revision]);
    return rows[0] ? toRevision(rows[0]) : undefined;
  }

  /** Every revision, oldest first. */
  async history(appUid: string): Promise<RevisionRow[]> {
    const rows: DbRow[] = await this.sql.query(`SELECT ${COLUMNS} FROM deployments WHERE application_id = $1 ORDER BY started_at, id`, [appUid]);
    return rows.map(toRevision);
  }

  async logs(revisionId: string): Promise<RevisionLog[]> {
    const rows: { level: string; message: string; created_at: Date }[] = await this.sql.query(`SELECT level, message, created_at FROM deployment_logs WHERE deployment_id = $1 ORDER BY id`, [revisionId]);
    return rows.map((l) => ({ level: l.level, message: l.message, time: l.created_at }));
  }

  async finish(id: string, status: "success" | "failed" | "rolled_back", message: string): Promise<void> {
    const res = await recordQuery(this.sql, `UPDATE deployments SET status = $2, completed_at = now() WHERE id = $1 AND status <> $2 RETURNING id`, [id, status]);
    if (returned(res).length) await this.log(id, status === "success" ? "info" : "error", `${status}: ${message}`);
  }

  /** Many lines of one level in one statement (a build's output, batched). */
  async logMany(id: string, level: Level, messages: string[]): Promise<void> {
    if (!messages.length) return;
    const values = messages.map((_, i) => `($1, $2, $${i + 3})`).join(", ");
    await recordQuery(this.sql, `INSERT INTO deployment_logs (deployment_id, level, message) VALUES ${values}`, [id, level, ...messages]);
  }

  async log(id: string, level: Level, message: string): Promise<void> {
    await recordQuery(this.sql, `INSERT INTO deployment_logs (deployment_id, level, message) VALUES ($1, $2, $3)`, [id, level, message]);
  }

  /**
   * The seed's GIT_SOURCE row of a git-source Application, kept in step with what is deployed
   * (commit_sha = the last commit that went live); one per Application by its unique key.
   */
  async recordGitSource(appUid: string, source: { provider: string | null; repository: string; branch: string | null; commitSha: string; webhookConfig: Record<string, unknown> }): Promise<void> {
    await recordQuery(
      this.sql,
      `INSERT INTO git_sources (application_id, provider, repository, branch, commit_sha, webhook_config) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (application_id) DO UPDATE SET provider = EXCLUDED.provider, repository = EXCLUDED.repository, branch = EXCLUDED.branch, commit_sha = EXCLUDED.commit_sha, webhook_config = EXCLUDED.webhook_config`,
      [appUid, source.provider, source.repository.slice(0, 500), source.branch, source.commitSha, JSON.stringify(source.webhookConfig)],
    );
  }

  async gitSource(appUid: string): Promise<{ provider: string | null; repository: string; branch: string | null; commitSha: string | null } | undefined> {
    const rows: { provider: string | null; repository: string; branch: string | null; commit_sha: string | null }[] = await this.sql.query(`SELECT provider, repository, branch, commit_sha FROM git_sources WHERE application_id = $1`, [appUid]);
    return rows[0] ? { provider: rows[0].provider, repository: rows[0].repository, branch: rows[0].branch, commitSha: rows[0].commit_sha } : undefined;
  }

  /** The seed's retention rules: old logs go, and old revisions beyond each Application's newest N. */
  async prune(policy: RetentionPolicy): Promise<{ logs: number; deployments: number }> {
    const logs = await this.sql.query(`DELETE FROM deployment_logs WHERE created_at < now() - make_interval(days => $1)`, [policy.logDays]);
    const deployments = await this.sql.query(
      `DELETE FROM deployments d USING (
         SELECT id, row_number() OVER (PARTITION BY application_id ORDER BY started_at DESC, id DESC) AS n FROM deployments
       ) ranked
       WHERE d.id = ranked.id AND ranked.n > $2 AND d.started_at < now() - make_interval(days => $1)`,
      [policy.deploymentDays, policy.keepPerApplication],
    );
    return { logs: Number(logs[1] ?? 0), deployments: Number(deployments[1] ?? 0) };
  }
}

import type { ConditionInput } from "../../core/conditions.js";
import type { BackupInfo } from "../../core/records.js";
import type { DatabaseSpec } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import { connectionUrl, ENGINE_INFO } from "../../runtime/database-engines.js";
import { databaseContainerName, databaseVolumeName } from "../../runtime/database-spec.js";
import type { ObservedContainer } from "../../runtime/driver.js";
import { LABEL } from "../../runtime/labels.js";
import { endpointOf } from "../../runtime/serving.js";
import type { Credentials } from "../../core/specs.js";
import { conditionsFor, failureSummary, transitionEvents, type EventSpec, type Outcome, type Summary, type Verdict } from "../shared/status.js";

/** What one Database reconcile observed. */
export interface DatabaseObserved {
  image: string;
  hash: string;
  credentials: Credentials;
  containers: ObservedContainer[];
  /** Why the readiness query failed; undefined when the engine answered. */
  probe: string | undefined;
  lastBackup: BackupInfo | undefined;
  events: EventSpec[];
}

type Extra = Omit<ConditionInput, "observedGeneration">;

function backupCondition(last: BackupInfo | undefined): Extra | undefined {
  if (!last) return undefined;
  return last.status === "success"
    ? { type: "LastBackupSucceeded", status: "True", reason: "BackupSucceeded", message: `backup ${last.id} completed at ${last.completedAt}` }
    : { type: "LastBackupSucceeded", status: "False", reason: "BackupFailed", message: `backup ${last.id} failed: ${last.error ?? "unknown error"}` };
}

function degraded(current: ObservedContainer | undefined, suspended: boolean, last: BackupInfo | undefined): Extra {
  const crashing = current && !suspended && (current.state === "restarting" || current.state === "exited" || current.state === "dead");
  if (crashing) return { type: "Degraded", status: "True", reason: "ContainerNotRunning", message: `${current.name} is ${current.state}` };
  if (last?.status === "failed") return { type: "Degraded", status: "True", reason: "BackupFailed", message: `the last backup failed: ${last.error ?? "unknown error"}` };
  return { type: "Degraded", status: "False", reason: "AsExpected", message: "" };
}

function readiness(spec: DatabaseSpec, obs: Partial<DatabaseObserved>, current: ObservedContainer | undefined, answersAt: string): { summary: Summary; phase: string } {
  const hash = (obs.hash ?? "").slice(0, 8);
  if (spec.suspend) {
    const m = "spec.suspend is true: the container is stopped; the volume and credentials are kept";
    return { summary: { ready: { status: "False", reason: "Suspended", message: m }, extra: [{ type: "Progressing", status: "False", reason: "Suspended", message: "" }] }, phase: "stopped" };
  }
  const notReady = !current ? "no container" : current.state !== "running" ? `container ${current.state}` : obs.probe;
  if (notReady === undefined) {
    return { summary: { ready: { status: "True", reason: "EngineReady", message: `${spec.engine} answers queries at ${answersAt}` }, extra: [{ type: "Progressing", status: "False", reason: "Ready", message: `config ${hash} is running` }] }, phase: "running" };
  }
  const m = `waiting for ${spec.engine} to answer a query: ${notReady}`;
  return { summary: { ready: { status: "False", reason: "Initializing", message: m }, reconciling: { reason: "Initializing", message: m }, extra: [{ type: "Progressing", status: "True", reason: "Initializing", message: `config ${hash}` }] }, phase: "initializing" };
}

/**
 * The Database's status: where it answers (on the project network and published on
 * 127.0.0.1), its connection string with the password redacted, readiness from a real query,
 * the last backup, and the events of the change. Pure.
 */
export function databaseStatusFor(db: ResourceObject, obs: Partial<DatabaseObserved>, outcome: Outcome, at?: string): Verdict {
  const spec = (db.spec ?? {}) as unknown as DatabaseSpec;
  const info = ENGINE_INFO[spec.engine];
  const host = databaseContainerName(db.metadata.namespace!, db.metadata.name);
  const current = obs.containers?.find((c) => c.labels[LABEL.configHash] === obs.hash);
  const r = outcome.failure ? { summary: failureSummary(outcome.failure), phase: "failed" } : readiness(spec, obs, current, `${host}:${info.port}`);
  const extra = outcome.failure ? [] : [backupCondition(obs.lastBackup), degraded(current, !!spec.suspend, obs.lastBackup)].filter((x): x is Extra => !!x);
  const conditions = conditionsFor(db, { ...r.summary, extra: [...(r.summary.extra ?? []), ...extra] }, at);
  // A failure keeps what was last known (the endpoint, the last backup) with the new conditions.
  const previous = outcome.failure ? ((db.status ?? {}) as Record<string, unknown>) : {};
  const status = { ...previous, observedGeneration: db.metadata.generation ?? 1, phase: r.phase, ...whereItAnswers(db, obs, current), conditions };
  const events = [...(obs.events ?? []), ...transitionEvents(db, conditions, outcome.failure, { reason: "Ready", message: `${spec.engine} answers queries at ${host}:${info.port}` })];
  const waiting = !outcome.failure && r.phase === "initializing";
  return { status, events, ...(waiting ? { requeueAfter: 1000 } : {}) };
}

/** Image, host, ports, connection string (password redacted), volume, hash and the last backup. */
function whereItAnswers(db: ResourceObject, obs: Partial<DatabaseObserved>, current: ObservedContainer | undefined): Record<string, unknown> {
  const spec = (db.spec ?? {}) as unknown as DatabaseSpec;
  const info = ENGINE_INFO[spec.engine];
  const host = databaseContainerName(db.metadata.namespace!, db.metadata.name);
  const published = current?.ports.find((p) => p.containerPort === info.port);
  const out: Record<string, unknown> = { host, port: info.port, endpoint: `${host}:${info.port}`, volume: databaseVolumeName(db.metadata.namespace!, db.metadata.name) };
  if (obs.image) out.image = obs.image;
  if (published) out.publishedEndpoint = endpointOf(published.hostIp, published.hostPort);
  if (obs.credentials) out.connectionString = connectionUrl(obs.credentials, host, info.port, true);
  if (obs.hash) out.configHash = obs.hash;
  if (obs.lastBackup) out.lastBackup = lastBackupStatus(obs.lastBackup);
  return out;
}

function lastBackupStatus(b: BackupInfo): Record<string, unknown> {
  return {
    id: b.id,
    status: b.status,
    source: b.source,
    ...(b.sizeBytes !== null ? { sizeBytes: b.sizeBytes } : {}),
    ...(b.completedAt ? { completedAt: b.completedAt } : {}),
    ...(b.error ? { error: b.error } : {}),
  };
}

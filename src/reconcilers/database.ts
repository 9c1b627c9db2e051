import type { Logger } from "winston";
import type { ObjectKey, ReconcileContext, ReconcileResult, Reconciler } from "../controller/controller.js";
import { DockerError, VolumeConflictError, type DockerDriver, type ObservedContainer } from "../runtime/docker.js";
import { execCapture } from "../runtime/database-exec.js";
import {
  applicationEnv,
  connectionUrl,
  ENGINE_INFO,
  generateCredentials,
  InvalidConfigError,
  readinessProbe,
  resolveImage,
  sizeInGb,
  type Credentials,
  type DatabaseSpec,
} from "../runtime/database-engines.js";
import {
  databaseConfigHash,
  databaseContainerName,
  databaseContainerOptions,
  databaseVolumeName,
  executeDbPlan,
  formatDbPlan,
  planDatabase,
  stopContainer,
  type DatabaseRuntime,
} from "../runtime/database-plan.js";
import { LABEL, networkName, ownerLabels } from "../runtime/labels.js";
import type { EventStore } from "../store/events.js";
import type { ResourceStore } from "../store/resources.js";
import type { RequestContext, ResourceObject } from "../store/types.js";
import type { Metrics } from "../telemetry/metrics.js";
import type { SecretBox } from "../util/secrets.js";
import type { DatabaseMaintenance } from "./backups.js";
import { getCondition, setCondition, type Condition } from "./conditions.js";

export const DATABASE_FINALIZER = "berth.dev/runtime";
const CONTROLLER: RequestContext = { user: "system:berth-controller", userAgent: "berth-controller" };

// ---------------------------------------------------------------------------------------------
// Credentials: generated once per data volume, stored only as ciphertext, in two places:
// databases.credentials (this Database's) and berth_retained_credentials (the volume's, which
// outlives the Database when deletionPolicy is Retain so a re-created Database can open its data).
// ---------------------------------------------------------------------------------------------

export class CredentialsError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** This Database's credentials (decrypted), or undefined before the controller generated them. */
export async function loadCredentials(store: ResourceStore, box: SecretBox, uid: string): Promise<Credentials | undefined> {
  const rows: { credentials: string | null }[] = await store.dataSource.query(`SELECT credentials FROM databases WHERE id = $1`, [uid]);
  const sealed = rows[0]?.credentials;
  return sealed ? (JSON.parse(box.decrypt(sealed)) as Credentials) : undefined;
}

/** Replaces every occurrence of the secrets in a text (error output of an engine, for example). */
export function scrub(text: string, creds: Credentials | undefined): string {
  let out = text;
  for (const s of [creds?.password, creds?.rootPassword]) if (s) out = out.split(s).join("<redacted>");
  return out;
}

/** `envFrom: [{databaseRef: NAME}]` of an Application spec, as dependencies to wait for. */
export function envFromDependencies(spec: Record<string, unknown> | undefined): { kind: string; name: string }[] {
  const list = (spec?.envFrom ?? []) as { databaseRef?: string }[];
  return list.filter((e) => typeof e?.databaseRef === "string").map((e) => ({ kind: "Database", name: e.databaseRef! }));
}

/**
 * The environment `envFrom` injects into an Application's containers: DATABASE_URL (host = the
 * database container's name on the project network) and the engine's usual variables. Later
 * entries win over earlier ones; the Application's own env and secretEnv win over all of them.
 */
export async function databaseEnvFrom(store: ResourceStore, box: SecretBox, app: ResourceObject): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const project = app.metadata.namespace!;
  for (const dep of envFromDependencies(app.spec)) {
    const rows: { credentials: string | null }[] = await store.dataSource.query(
      `SELECT d.credentials FROM databases d JOIN projects p ON p.id = d.project_id WHERE p.name = $1 AND d.name = $2`,
      [project, dep.name],
    );
    if (!rows[0]?.credentials) throw new Error(`envFrom: database "${dep.name}" has no credentials yet`);
    const creds = JSON.parse(box.decrypt(rows[0].credentials)) as Credentials;
    Object.assign(out, applicationEnv(creds, databaseContainerName(project, dep.name), ENGINE_INFO[creds.engine].port));
  }
  return out;
}

function conds(o: ResourceObject): Condition[] {
  return ((o.status?.conditions as Condition[] | undefined) ?? []).slice();
}

const firstLine = (t: string): string => t.trim().split("\n").filter(Boolean).slice(-1)[0]?.slice(0, 300) ?? "";

interface LastBackup {
  id: string;
  status: "success" | "failed";
  source: string;
  sizeBytes?: number;
  completedAt?: string;
  error?: string;
}

/**
 * The Database reconciler, in the Application reconciler's shape: load → finalize or add the
 * finalizer → credentials → observe → pure plan → execute → readiness probe (a real query inside
 * the container) → one status write. Backups and restores run in the BackupWorker (backups.ts);
 * this reconciler reports their outcome from the backups table.
 */
export class DatabaseReconciler implements Reconciler {
  /**
   * The last probe per container. Every docker exec emits exec_* events that wake this reconciler
   * again (DockerEventSource), so without this a probe would trigger the next one forever. A
   * success is trusted for 10 s, a failure for 0.9 s (the requeue while initializing is 1 s);
   * the periodic resync and container events (die, start) still re-check at once after that.
   */
  private readonly probes = new Map<string, { containerId: string; at: number; result: string | undefined }>();

  constructor(
    private readonly store: ResourceStore,
    private readonly box: SecretBox,
    private readonly driver: DockerDriver,
    private readonly events: EventStore,
    private readonly metrics: Metrics,
    private readonly maintenance: DatabaseMaintenance,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult> {
    let db = await this.store.getStored("Database", key.namespace, key.name);
    if (!db) return {};
    // A restore that stops the server (redis) owns the container until it is done.
    if (this.maintenance.isBusy(db.metadata.uid!)) return { requeueAfter: 1000 };
    if (db.metadata.deletionTimestamp) return this.finalize(db, ctx.logger);
    if (!(db.metadata.finalizers ?? []).includes(DATABASE_FINALIZER)) {
      const r = await this.store.update("Database", key.namespace, key.name, CONTROLLER, "add-finalizer", (cur) => ({ ...cur!, metadata: { ...cur!.metadata, finalizers: [...(cur!.metadata.finalizers ?? []), DATABASE_FINALIZER] } }));
      db = { ...db, metadata: { ...db.metadata, finalizers: r.object.metadata.finalizers, resourceVersion: r.object.metadata.resourceVersion } };
    }
    return this.converge(db, (db.spec ?? {}) as unknown as DatabaseSpec, ctx.logger);
  }

  private async converge(db: ResourceObject, spec: DatabaseSpec, logger: Logger): Promise<ReconcileResult> {
    const project = db.metadata.namespace!;
    const name = db.metadata.name;
    const uid = db.metadata.uid!;
    const volume = databaseVolumeName(project, name);
    const image = resolveImage(spec, this.env);

    let creds: Credentials;
    try {
      creds = await this.ensureCredentials(db, spec, volume);
    } catch (e) {
      if (!(e instanceof CredentialsError)) throw e;
      return this.failed(db, e.reason, e.message, image);
    }
    const runtime: DatabaseRuntime = { project, name, uid, engine: spec.engine, image, credentials: creds, config: spec.config };
    let hash: string;
    try {
      hash = databaseConfigHash(runtime);
    } catch (e) {
      if (!(e instanceof InvalidConfigError)) throw e;
      return this.failed(db, "InvalidConfig", e.message, image);
    }

    const observed = await this.driver.listContainers({ [LABEL.ownerUid]: uid });
    const steps = planDatabase({ hash, suspend: !!spec.suspend }, observed);
    let after = observed;
    if (observed.length && !steps.length) await this.recordVolume(db, spec, volume);
    if (steps.length) {
      if (steps.some((s) => s.op === "create")) {
        // Checked before anything is removed: a version without an image must not take down a running server.
        const missing = await this.ensureImage(image);
        if (missing) return this.failed(db, "ImageNotFound", missing, image, 30_000);
        await this.driver.ensureNetwork(networkName(project), ownerLabels("Project", project, project, ""));
        try {
          await this.driver.ensureVolume(volume, ownerLabels("Database", project, name, uid));
        } catch (e) {
          if (e instanceof VolumeConflictError) return this.failed(db, "VolumeConflict", e.message, image, 60_000);
          throw e;
        }
      }
      await this.recordVolume(db, spec, volume);
      logger.info("executing database plan", { hash, plan: formatDbPlan(steps) });
      await executeDbPlan(this.driver, steps, () => databaseContainerOptions(runtime, hash), (s) => {
        if (s.op === "start" && s.cause.includes("drift")) this.metrics.driftRepairs.inc({ kind: "Database", cause: "stopped" });
      });
      after = await this.driver.listContainers({ [LABEL.ownerUid]: uid });
    }
    return this.report(db, spec, runtime, hash, after);
  }

  /** Decrypted credentials: this Database's, else the retained volume's, else newly generated. */
  private async ensureCredentials(db: ResourceObject, spec: DatabaseSpec, volume: string): Promise<Credentials> {
    const uid = db.metadata.uid!;
    const own = await loadCredentials(this.store, this.box, uid);
    if (own) {
      if (own.engine !== spec.engine) throw new CredentialsError("EngineChangeNotSupported", `spec.engine changed from ${own.engine} to ${spec.engine}; the data volume ${volume} holds ${own.engine} data. Delete the Database and create a new one to change engines`);
      return own;
    }
    const ds = this.store.dataSource;
    const retained: { engine: string; credentials: string }[] = await ds.query(`SELECT engine, credentials FROM berth_retained_credentials WHERE volume_name = $1`, [volume]);
    let creds: Credentials;
    if (retained[0]) {
      if (retained[0].engine !== spec.engine) {
        throw new CredentialsError("VolumeEngineMismatch", `the retained volume ${volume} holds ${retained[0].engine} data from an earlier Database of this name; use another name, or remove the volume (docker volume rm ${volume}) to start empty`);
      }
      creds = JSON.parse(this.box.decrypt(retained[0].credentials)) as Credentials;
      await this.events.record(db, "Normal", "CredentialsReused", `reusing the retained volume ${volume} and its credentials`);
    } else {
      creds = generateCredentials(spec.engine, db.metadata.name);
      if (await this.volumeExists(volume)) {
        await this.events.record(db, "Warning", "VolumeWithoutCredentials", `volume ${volume} already exists but Berth has no credentials for it; new credentials will not open existing data`);
      }
    }
    const sealed = this.box.encrypt(JSON.stringify(creds));
    const url = this.box.encrypt(connectionUrl(creds, databaseContainerName(db.metadata.namespace!, db.metadata.name), ENGINE_INFO[creds.engine].port));
    await ds.query(`UPDATE databases SET credentials = $2, connection_string = $3 WHERE id = $1`, [uid, sealed, url]);
    await ds.query(
      `INSERT INTO berth_retained_credentials (volume_name, engine, credentials) VALUES ($1, $2, $3)
       ON CONFLICT (volume_name) DO UPDATE SET engine = EXCLUDED.engine, credentials = EXCLUDED.credentials, updated_at = now()`,
      [volume, creds.engine, sealed],
    );
    return creds;
  }

  private async volumeExists(name: string): Promise<boolean> {
    try {
      await this.driver.call("volume_inspect", () => this.driver.docker.getVolume(name).inspect());
      return true;
    } catch (e) {
      if (e instanceof DockerError && e.statusCode === 404) return false;
      throw e;
    }
  }

  /** The seed's volumes row: name, size (recorded; Docker's local driver does not enforce it), owner, policy. */
  private async recordVolume(db: ResourceObject, spec: DatabaseSpec, volume: string): Promise<void> {
    await this.store.dataSource.query(
      `INSERT INTO volumes (name, type, mount_path, size_gb, database_id, project_id, deletion_policy) VALUES ($1, 'docker_volume', $2, $3, $4, (SELECT project_id FROM databases WHERE id = $4), $5)
       ON CONFLICT (name) DO UPDATE SET mount_path = EXCLUDED.mount_path, size_gb = EXCLUDED.size_gb, database_id = EXCLUDED.database_id, project_id = EXCLUDED.project_id, deletion_policy = EXCLUDED.deletion_policy
       WHERE (volumes.mount_path, volumes.size_gb, volumes.database_id, volumes.project_id, volumes.deletion_policy) IS DISTINCT FROM (EXCLUDED.mount_path, EXCLUDED.size_gb, EXCLUDED.database_id, EXCLUDED.project_id, EXCLUDED.deletion_policy)`,
      [volume, ENGINE_INFO[spec.engine].dataPath, sizeInGb(spec.storage?.size), db.metadata.uid, spec.deletionPolicy ?? "Retain"],
    );
  }

  /** undefined when the image is present (pulled now if a registry has it), else why not. */
  private async ensureImage(image: string): Promise<string | undefined> {
    if (await this.driver.imageExists(image)) return undefined;
    try {
      await this.driver.call("image_pull", async () => {
        const stream = (await this.driver.docker.pull(image)) as NodeJS.ReadableStream;
        await new Promise<void>((resolve, reject) => this.driver.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
      });
      if (await this.driver.imageExists(image)) return undefined;
      return `image "${image}" is not present on the Docker engine and pulling it gave nothing`;
    } catch (e) {
      return `image "${image}" is not present on the Docker engine and could not be pulled: ${(e as Error).message}`;
    }
  }

  /** A probe failure message, or undefined when the engine answered the query. */
  private async probe(uid: string, engine: DatabaseSpec["engine"], container: ObservedContainer, creds: Credentials): Promise<string | undefined> {
    const last = this.probes.get(uid);
    if (last && last.containerId === container.id && Date.now() - last.at < (last.result === undefined ? 10_000 : 900)) return last.result;
    const result = await this.probeNow(engine, container, creds);
    this.probes.set(uid, { containerId: container.id, at: Date.now(), result });
    return result;
  }

  private async probeNow(engine: DatabaseSpec["engine"], container: ObservedContainer, creds: Credentials): Promise<string | undefined> {
    const p = readinessProbe(engine);
    try {
      const r = await execCapture(this.driver, container.id, p.command, 10_000);
      const lines = r.stdout.trim().split("\n").map((l) => l.trim());
      if (r.exitCode === 0 && lines.includes(p.expect)) return undefined;
      if (r.timedOut) return "the readiness query timed out after 10s";
      return scrub(firstLine(r.stderr) || firstLine(r.stdout) || `readiness query exited with ${r.exitCode}`, creds);
    } catch (e) {
      return scrub((e as Error).message, creds);
    }
  }

  private async lastBackup(uid: string): Promise<LastBackup | undefined> {
    const rows = await this.store.dataSource.query(
      `SELECT id, status, source, size_bytes, completed_at, error FROM backups WHERE database_id = $1 AND status IN ('success', 'failed') ORDER BY created_at DESC, id DESC LIMIT 1`,
      [uid],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      id: r.id,
      status: r.status,
      source: r.source,
      ...(r.size_bytes !== null ? { sizeBytes: Number(r.size_bytes) } : {}),
      ...(r.completed_at ? { completedAt: new Date(r.completed_at).toISOString().replace(/\.\d{3}Z$/, "Z") } : {}),
      ...(r.error ? { error: r.error } : {}),
    };
  }

  private async report(db: ResourceObject, spec: DatabaseSpec, runtime: DatabaseRuntime, hash: string, observed: ObservedContainer[]): Promise<ReconcileResult> {
    const info = ENGINE_INFO[spec.engine];
    const host = databaseContainerName(runtime.project, runtime.name);
    const current = observed.find((c) => c.labels[LABEL.configHash] === hash);
    const published = current?.ports.find((p) => p.containerPort === info.port);
    const runningNow = current?.state === "running";
    const notReady = spec.suspend ? "suspended" : !current ? "no container" : !runningNow ? `container ${current.state}` : await this.probe(runtime.uid, spec.engine, current, runtime.credentials);
    const ready = notReady === undefined;
    let c = conds(db);
    const wasReady = getCondition(c, "Ready")?.status === "True";
    let phase: string;
    if (spec.suspend) {
      phase = "stopped";
      c = setCondition(c, { type: "Ready", status: "False", reason: "Suspended", message: "spec.suspend is true: the container is stopped; the volume and credentials are kept" });
      c = setCondition(c, { type: "Progressing", status: "False", reason: "Suspended", message: "" });
    } else if (ready) {
      phase = "running";
      c = setCondition(c, { type: "Ready", status: "True", reason: "EngineReady", message: `${spec.engine} answers queries at ${host}:${info.port}` });
      c = setCondition(c, { type: "Progressing", status: "False", reason: "Ready", message: `config ${hash.slice(0, 8)} is running` });
    } else {
      phase = "initializing";
      c = setCondition(c, { type: "Ready", status: "False", reason: "Initializing", message: `waiting for ${spec.engine} to answer a query: ${notReady}` });
      c = setCondition(c, { type: "Progressing", status: "True", reason: "Initializing", message: `config ${hash.slice(0, 8)}` });
    }
    const last = await this.lastBackup(runtime.uid);
    if (last) {
      c = setCondition(c, last.status === "success"
        ? { type: "LastBackupSucceeded", status: "True", reason: "BackupSucceeded", message: `backup ${last.id} completed at ${last.completedAt}` }
        : { type: "LastBackupSucceeded", status: "False", reason: "BackupFailed", message: `backup ${last.id} failed: ${last.error ?? "unknown error"}` });
    }
    const crashing = current && (current.state === "restarting" || current.state === "exited" || current.state === "dead") && !spec.suspend;
    c = setCondition(
      c,
      crashing
        ? { type: "Degraded", status: "True", reason: "ContainerNotRunning", message: `${current!.name} is ${current!.state}` }
        : last?.status === "failed"
          ? { type: "Degraded", status: "True", reason: "BackupFailed", message: `the last backup failed: ${last.error ?? "unknown error"}` }
          : { type: "Degraded", status: "False", reason: "AsExpected", message: "" },
    );
    const status: Record<string, unknown> = {
      observedGeneration: db.metadata.generation,
      phase,
      image: runtime.image,
      host,
      port: info.port,
      endpoint: `${host}:${info.port}`,
      ...(published ? { publishedEndpoint: `${published.hostIp === "0.0.0.0" ? "127.0.0.1" : published.hostIp}:${published.hostPort}` } : {}),
      connectionString: connectionUrl(runtime.credentials, host, info.port, true),
      volume: databaseVolumeName(runtime.project, runtime.name),
      configHash: hash,
      ...(last ? { lastBackup: last } : {}),
      conditions: c,
    };
    if (ready && !wasReady) await this.events.record(db, "Normal", "Ready", `${spec.engine} answers queries at ${host}:${info.port}`);
    await this.writeStatus(db, status);
    return ready || spec.suspend ? {} : { requeueAfter: 1000 };
  }

  /** A state retrying soon cannot fix (image, config, engine change): Ready=False with the reason, one event. */
  private async failed(db: ResourceObject, reason: string, message: string, image: string, requeueAfter?: number): Promise<ReconcileResult> {
    let c = setCondition(conds(db), { type: "Ready", status: "False", reason, message });
    c = setCondition(c, { type: "Progressing", status: "False", reason, message });
    if (getCondition(conds(db), "Ready")?.reason !== reason) await this.events.record(db, "Warning", reason, message);
    await this.writeStatus(db, { ...db.status, observedGeneration: db.metadata.generation, phase: "failed", image, conditions: c });
    return requeueAfter ? { requeueAfter } : {};
  }

  private async writeStatus(db: ResourceObject, status: Record<string, unknown>): Promise<void> {
    await this.store.update("Database", db.metadata.namespace, db.metadata.name, CONTROLLER, "update-status", (cur) => ({ ...cur!, status }));
  }

  /**
   * Deletion: the container first (stopped cleanly), then the volume per deletionPolicy: Delete
   * removes the volume and its retained credentials; Retain keeps both (the volumes row is detached
   * from the Database so the row can go). Backup files stay on disk either way.
   */
  private async finalize(db: ResourceObject, logger: Logger): Promise<ReconcileResult> {
    if (!(db.metadata.finalizers ?? []).includes(DATABASE_FINALIZER)) return {};
    const spec = (db.spec ?? {}) as unknown as DatabaseSpec;
    const uid = db.metadata.uid!;
    this.probes.delete(uid);
    const volume = databaseVolumeName(db.metadata.namespace!, db.metadata.name);
    const containers = await this.driver.listContainers({ [LABEL.ownerUid]: uid });
    for (const c of containers) {
      await stopContainer(this.driver, c.id);
      await this.driver.removeContainer(c.id);
    }
    const ds = this.store.dataSource;
    if ((spec.deletionPolicy ?? "Retain") === "Delete") {
      try {
        await this.driver.removeVolume(volume);
      } catch (e) {
        if (e instanceof DockerError && e.statusCode === 409) {
          logger.warn("database volume still in use; retrying", { volume });
          return { requeueAfter: 2000 };
        }
        throw e;
      }
      await ds.query(`DELETE FROM volumes WHERE name = $1 OR database_id = $2`, [volume, uid]);
      await ds.query(`DELETE FROM berth_retained_credentials WHERE volume_name = $1`, [volume]);
    } else if (await this.volumeExists(volume)) {
      await ds.query(`UPDATE volumes SET database_id = NULL WHERE database_id = $1`, [uid]);
    } else {
      // Nothing was ever stored (e.g. the image never existed): nothing to retain.
      await ds.query(`DELETE FROM volumes WHERE name = $1 OR database_id = $2`, [volume, uid]);
      await ds.query(`DELETE FROM berth_retained_credentials WHERE volume_name = $1`, [volume]);
    }
    logger.info("database finalized", { removedContainers: containers.length, volume, deletionPolicy: spec.deletionPolicy ?? "Retain" });
    await this.store.update("Database", db.metadata.namespace, db.metadata.name, CONTROLLER, "remove-finalizer", (cur) => ({
      ...cur!,
      metadata: { ...cur!.metadata, finalizers: (cur!.metadata.finalizers ?? []).filter((f) => f !== DATABASE_FINALIZER) },
    }));
    return {};
  }
}

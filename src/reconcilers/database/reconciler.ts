import { FINALIZER } from "../../core/kinds.js";
import type { Credentials, DatabaseSpec } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import type { ObjectKey, ReconcileContext, ReconcileResult } from "../../controller/controller.js";
import { connectionUrl, ENGINE_INFO, generateCredentials, InvalidConfigError, readinessProbe, resolveImage, sizeInGb } from "../../runtime/database-engines.js";
import { execCapture } from "../../runtime/database-exec.js";
import { DATABASE_STOP_GRACE_SECONDS, databaseConfigHash, databaseContainerName, databaseContainerOptions, databaseVolumeName, type DatabaseRuntime } from "../../runtime/database-spec.js";
import type { ObservedContainer, RuntimeDriver } from "../../runtime/driver.js";
import { executePlan } from "../../runtime/executor.js";
import { LABEL, networkName, ownerLabels } from "../../runtime/labels.js";
import { createsContainers, describeStep, ordered, planDatabase, planInfrastructure, retire, withInfrastructure, type Plan } from "../../runtime/plan.js";
import { NO_TRAFFIC } from "../../runtime/traffic.js";
import type { BackupQueue } from "../../store/backups.js";
import type { CredentialStore } from "../../store/credentials.js";
import type { VolumeStore } from "../../store/volumes.js";
import type { Metrics } from "../../telemetry/metrics.js";
import { fail, scrub } from "../shared/failures.js";
import { ObjectReconciler, type ObjectReconcilerDeps } from "../shared/object-reconciler.js";
import type { Outcome, Verdict } from "../shared/status.js";
import type { DatabaseMaintenance } from "./maintenance.js";
import { databaseStatusFor, type DatabaseObserved } from "./status.js";

export interface DatabaseDeps extends ObjectReconcilerDeps {
  driver: RuntimeDriver;
  credentials: CredentialStore;
  volumes: VolumeStore;
  backups: BackupQueue;
  metrics: Metrics;
  maintenance: DatabaseMaintenance;
  env?: NodeJS.ProcessEnv;
}

const lastLine = (t: string): string => t.trim().split("\n").filter(Boolean).slice(-1)[0]?.slice(0, 300) ?? "";

/**
 * The Database reconciler: credentials (generated once per data volume) → observe → pure plan
 * (with the image, network and volume a create needs) → execute → readiness probe (a real query
 * inside the container) → one status write. Backups and restores run in the BackupWorker; this
 * reconciler reports their outcome.
 */
export class DatabaseReconciler extends ObjectReconciler<DatabaseObserved> {
  readonly kind = "Database" as const;
  readonly finalizer = FINALIZER.runtime;

  constructor(private readonly d: DatabaseDeps) {
    super(d);
  }

  override async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult> {
    const db = await this.d.store.getStored("Database", key.namespace, key.name);
    // A restore that stops the server (redis) owns the container until it is done.
    if (db && this.d.maintenance.isBusy(db.metadata.uid!)) return { requeueAfter: 1000 };
    return super.reconcile(key, ctx);
  }

  protected suspended(): boolean {
    // Suspend is planned: the container is stopped, the volume and credentials kept.
    return false;
  }

  statusFor(db: ResourceObject, obs: Partial<DatabaseObserved>, outcome: Outcome): Verdict {
    return databaseStatusFor(db, obs, outcome);
  }

  protected override secrets(_db: ResourceObject, obs: Partial<DatabaseObserved>): string[] {
    return [obs.credentials?.password, obs.credentials?.rootPassword].filter((s): s is string => !!s);
  }

  protected async converge(db: ResourceObject, obs: Partial<DatabaseObserved>, ctx: ReconcileContext): Promise<void> {
    const spec = (db.spec ?? {}) as unknown as DatabaseSpec;
    const uid = db.metadata.uid!;
    const volume = databaseVolumeName(db.metadata.namespace!, db.metadata.name);
    obs.events = [];
    obs.image = resolveImage(spec, this.d.env ?? process.env);
    obs.containers = await this.d.driver.listContainers({ [LABEL.ownerUid]: uid });
    obs.credentials = await this.ensureCredentials(db, spec, volume, obs);
    const runtime: DatabaseRuntime = { project: db.metadata.namespace!, name: db.metadata.name, uid, engine: spec.engine, image: obs.image, credentials: obs.credentials, config: spec.config };
    obs.hash = this.hash(runtime);
    const plan = await this.plan(runtime, spec, obs.hash, obs.containers);
    if (plan.blocked) fail(plan.blocked.reason, plan.blocked.message, { retryAfterMs: 30_000 });
    await this.d.volumes.recordForDatabase(uid, { name: volume, mountPath: ENGINE_INFO[spec.engine].dataPath, sizeGb: sizeInGb(spec.storage?.size), deletionPolicy: spec.deletionPolicy ?? "Retain" });
    if (plan.steps.length) {
      ctx.logger.info("executing database plan", { hash: obs.hash, steps: plan.steps.map(describeStep) });
      await this.execute(runtime, obs.hash, plan, ctx.signal);
      obs.containers = await this.d.driver.listContainers({ [LABEL.ownerUid]: uid });
    }
    const current = obs.containers.find((c) => c.labels[LABEL.configHash] === obs.hash);
    obs.probe = current?.state === "running" && !spec.suspend ? await this.probe(spec, current, obs.credentials) : undefined;
    obs.lastBackup = await this.d.backups.lastFinished(uid);
  }

  private hash(runtime: DatabaseRuntime): string {
    try {
      return databaseConfigHash(runtime);
    } catch (e) {
      if (e instanceof InvalidConfigError) fail("InvalidConfig", e.message, { terminal: true });
      throw e;
    }
  }

  private async plan(runtime: DatabaseRuntime, spec: DatabaseSpec, hash: string, containers: ObservedContainer[]): Promise<Plan> {
    const plan = planDatabase({ hash, suspend: !!spec.suspend, graceSeconds: DATABASE_STOP_GRACE_SECONDS }, containers);
    if (!createsContainers(plan)) return plan;
    const network = networkName(runtime.project);
    const volume = databaseVolumeName(runtime.project, runtime.name);
    // Observed before anything is removed: a version without an image must not take down a running server.
    const infra = {
      image: { name: runtime.image, present: await this.d.driver.imageExists(runtime.image) },
      network: { name: network, exists: await this.d.driver.networkExists(network) },
      volumes: [{ name: volume, owner: await this.d.driver.volumeOwner(volume) }],
    };
    return withInfrastructure(plan, planInfrastructure(infra, "the database server"));
  }

  private async execute(runtime: DatabaseRuntime, hash: string, plan: Plan, signal: AbortSignal | undefined): Promise<void> {
    await executePlan(plan, {
      signal,
      driver: this.d.driver,
      traffic: NO_TRAFFIC,
      createOptions: () => databaseContainerOptions(runtime, hash),
      ownerLabels: ownerLabels("Database", runtime.project, runtime.name, runtime.uid),
      onStep: (s) => {
        if (s.op === "start" && s.cause.includes("drift")) this.d.metrics.driftRepairs.inc({ kind: "Database", cause: "stopped" });
      },
    });
  }

  /** Decrypted credentials: this Database's, else the retained volume's, else newly generated. */
  private async ensureCredentials(db: ResourceObject, spec: DatabaseSpec, volume: string, obs: Partial<DatabaseObserved>): Promise<Credentials> {
    const own = await this.d.credentials.load(db.metadata.uid!);
    if (own) {
      if (own.engine !== spec.engine) fail("EngineChangeNotSupported", `spec.engine changed from ${own.engine} to ${spec.engine}; the data volume ${volume} holds ${own.engine} data. Delete the Database and create a new one to change engines`, { terminal: true });
      return own;
    }
    const retained = await this.d.credentials.retained(volume);
    if (retained && retained.engine !== spec.engine) {
      fail("VolumeEngineMismatch", `the retained volume ${volume} holds ${retained.engine} data from an earlier Database of this name; use another name, or remove the volume (docker volume rm ${volume}) to start empty`, { terminal: true });
    }
    const creds = retained ?? generateCredentials(spec.engine, db.metadata.name);
    if (retained) obs.events!.push({ type: "Normal", reason: "CredentialsReused", message: `reusing the retained volume ${volume} and its credentials` });
    else if ((await this.d.driver.volumeOwner(volume)).state !== "absent") {
      obs.events!.push({ type: "Warning", reason: "VolumeWithoutCredentials", message: `volume ${volume} already exists but Berth has no credentials for it; new credentials will not open existing data` });
    }
    const host = databaseContainerName(db.metadata.namespace!, db.metadata.name);
    await this.d.credentials.save(db.metadata.uid!, volume, creds, connectionUrl(creds, host, ENGINE_INFO[creds.engine].port));
    return creds;
  }

  /** A probe failure message, or undefined when the engine answered the query. */
  private async probe(spec: DatabaseSpec, container: ObservedContainer, creds: Credentials): Promise<string | undefined> {
    const p = readinessProbe(spec.engine);
    try {
      const r = await execCapture(this.d.driver, container.id, p.command, 10_000);
      const lines = r.stdout.trim().split("\n").map((l) => l.trim());
      if (r.exitCode === 0 && lines.includes(p.expect)) return undefined;
      if (r.timedOut) return "the readiness query timed out after 10s";
      return scrub(lastLine(r.stderr) || lastLine(r.stdout) || `readiness query exited with ${r.exitCode}`, [creds.password, creds.rootPassword ?? ""]);
    } catch (e) {
      return scrub((e as Error).message, [creds.password, creds.rootPassword ?? ""]);
    }
  }

  /**
   * Deletion: the container first (stopped cleanly), then the volume per deletionPolicy: Delete
   * removes the volume and its retained credentials; Retain keeps both (the volumes row is
   * detached from the Database so the row can go). Backup files stay on disk either way.
   */
  protected async finalize(db: ResourceObject, ctx: ReconcileContext): Promise<boolean> {
    const spec = (db.spec ?? {}) as unknown as DatabaseSpec;
    const uid = db.metadata.uid!;
    const volume = databaseVolumeName(db.metadata.namespace!, db.metadata.name);
    const containers = await this.d.driver.listContainers({ [LABEL.ownerUid]: uid });
    const steps = containers.flatMap((c) => retire(c, 0, { graceSeconds: DATABASE_STOP_GRACE_SECONDS, cause: "the Database is being deleted", routed: false }));
    await executePlan({ steps: ordered(steps), waiting: [] }, { driver: this.d.driver, traffic: NO_TRAFFIC, createOptions: () => ({}), ownerLabels: {} });
    const owner = await this.d.driver.volumeOwner(volume);
    if ((spec.deletionPolicy ?? "Retain") === "Delete" || owner.state === "absent") {
      // Delete, or nothing was ever stored (e.g. the image never existed): nothing to retain.
      if (owner.state !== "absent") await this.removeVolume(volume);
      await this.d.volumes.forgetForDatabase(volume, uid);
      await this.d.credentials.forgetVolume(volume);
    } else await this.d.volumes.detachFromDatabase(uid);
    ctx.logger.info("database finalized", { removedContainers: containers.length, volume, deletionPolicy: spec.deletionPolicy ?? "Retain" });
    return true;
  }

  private async removeVolume(volume: string): Promise<void> {
    try {
      await this.d.driver.removeVolume(volume);
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 409) fail("VolumeInUse", `database volume ${volume} is still in use`, { retryAfterMs: 2000 });
      throw e;
    }
  }
}

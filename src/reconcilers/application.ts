import { isDeepStrictEqual } from "node:util";
import type { Logger } from "winston";
import type { ObjectKey, ReconcileContext, ReconcileResult, Reconciler } from "../controller/controller.js";
import type { ObservedContainer } from "../runtime/docker.js";
import { DockerError, VolumeConflictError, type DockerDriver } from "../runtime/docker.js";
import { configHash, containerCreateOptions, parseDurationMs, type AppRuntimeSpec } from "../runtime/container-spec.js";
import { executePlan } from "../runtime/executor.js";
import { LABEL, networkName, ownerLabels, volumeName } from "../runtime/labels.js";
import { formatPlan, isReady, planApplication, type Plan, type Step } from "../runtime/plan.js";
import type { EventStore } from "../store/events.js";
import type { ResourceStore } from "../store/resources.js";
import { unsealSecretEnv } from "../store/sealing.js";
import type { RequestContext, ResourceObject } from "../store/types.js";
import type { Metrics } from "../telemetry/metrics.js";
import type { SecretBox } from "../util/secrets.js";
import { getCondition, setCondition, type Condition } from "./conditions.js";
import { databaseEnvFrom, envFromDependencies } from "./database.js";
import { DeploymentRecorder } from "./deployments.js";

export const RUNTIME_FINALIZER = "berth.dev/runtime";
const CONTROLLER: RequestContext = { user: "system:berth-controller", userAgent: "berth-controller" };

interface AppSpec {
  source?: { image?: string; git?: unknown; compose?: unknown };
  replicas?: number;
  command?: string[];
  args?: string[];
  env?: Record<string, string>;
  ports?: AppRuntimeSpec["ports"];
  healthcheck?: AppRuntimeSpec["healthcheck"];
  resources?: AppRuntimeSpec["resources"];
  volumes?: { name: string; mountPath: string; sizeGb?: number; type?: string }[];
  restartPolicy?: string;
  strategy?: { type?: "RollingUpdate" | "Recreate"; maxSurge?: number; maxUnavailable?: number };
  progressDeadline?: string;
  rollback?: "auto" | "manual";
  dependsOn?: { kind: string; name: string }[];
  suspend?: boolean;
  deletionPolicy?: "Retain" | "Delete";
}

/** Causes that mean the runtime drifted from a state Berth had reached, not a new rollout. */
function driftCause(step: Step): string | undefined {
  if (step.op === "start") return "stopped";
  if (step.op === "restart") return "unhealthy";
  if (step.op === "remove" && step.cause.startsWith("duplicate")) return "duplicate";
  return undefined;
}

/**
 * The Application reconciler (Flux's shape): load → finalize or add the finalizer → honour
 * suspend → dependencies → observe → plan → execute → one status write at the end.
 */
export class ApplicationReconciler implements Reconciler {
  private readonly deployments: DeploymentRecorder;

  constructor(
    private readonly store: ResourceStore,
    private readonly box: SecretBox,
    private readonly driver: DockerDriver,
    private readonly events: EventStore,
    private readonly metrics: Metrics,
  ) {
    this.deployments = new DeploymentRecorder(store.dataSource);
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult> {
    let app = await this.store.getStored("Application", key.namespace, key.name);
    if (!app) return {};
    if (app.metadata.deletionTimestamp) return this.finalize(app, ctx.logger);
    if (!(app.metadata.finalizers ?? []).includes(RUNTIME_FINALIZER)) {
      const r = await this.store.update("Application", key.namespace, key.name, CONTROLLER, "add-finalizer", (cur) => ({ ...cur!, metadata: { ...cur!.metadata, finalizers: [...(cur!.metadata.finalizers ?? []), RUNTIME_FINALIZER] } }));
      app = { ...app, metadata: { ...app.metadata, finalizers: r.object.metadata.finalizers, resourceVersion: r.object.metadata.resourceVersion } };
    }
    const spec = (app.spec ?? {}) as AppSpec;
    const generation = app.metadata.generation ?? 1;
    if (spec.suspend) {
      await this.writeStatus(app, { ...app.status, observedGeneration: generation, conditions: setCondition(conds(app), { type: "Ready", status: "Unknown", reason: "Suspended", message: "reconciliation is suspended (spec.suspend: true); drift is left alone" }) });
      return {};
    }
    const waitingOn = await this.unreadyDependencies(app, spec);
    if (waitingOn.length) {
      const message = `waiting for ${waitingOn.join(", ")} to be Ready`;
      let c = setCondition(conds(app), { type: "Progressing", status: "True", reason: "WaitingForDependency", message });
      c = setCondition(c, { type: "Ready", status: "False", reason: "WaitingForDependency", message });
      await this.writeStatus(app, { ...app.status, observedGeneration: generation, phase: "deploying", conditions: c });
      return { requeueAfter: 5000 };
    }
    return this.converge(app, spec, ctx.logger);
  }

  private async converge(app: ResourceObject, spec: AppSpec, logger: Logger): Promise<ReconcileResult> {
    const generation = app.metadata.generation ?? 1;
    const project = app.metadata.namespace!;
    if (!spec.source?.image) {
      const c = setCondition(conds(app), { type: "Ready", status: "False", reason: "SourceNotSupported", message: "only image sources are built by this version; git and compose sources are not yet supported" });
      await this.writeStatus(app, { ...app.status, observedGeneration: generation, phase: "failed", conditions: c });
      return {};
    }
    const runtime = await this.runtimeSpec(app, spec);
    const hash = configHash(runtime);
    const replicas = spec.replicas ?? 1;
    const observed = await this.driver.listContainers({ [LABEL.ownerUid]: app.metadata.uid! });
    const strategy = { type: spec.strategy?.type ?? "RollingUpdate", maxSurge: spec.strategy?.maxSurge ?? 1, maxUnavailable: spec.strategy?.maxUnavailable ?? 0 } as const;
    const plan = planApplication({ project, name: app.metadata.name, replicas, hash, strategy }, observed);
    let after = observed;
    if (plan.steps.length) {
      const blocked = await this.prepare(app, spec, runtime, plan, hash);
      if (blocked) return blocked;
      const deploymentId = plan.steps.some((s) => s.op === "create") ? await this.deployments.ensure(app, hash, generation) : await this.deployments.current(app.metadata.uid!, hash);
      logger.info("executing plan", { hash, plan: formatPlan(plan) });
      await executePlan(this.driver, plan, {
        createOptions: (replica) => containerCreateOptions(runtime, replica, hash, replicas),
        onStep: (step) => {
          const drift = driftCause(step);
          if (drift) this.metrics.driftRepairs.inc({ kind: "Application", cause: drift });
          if (deploymentId) void this.deployments.log(deploymentId, "info", describeStep(step)).catch(() => undefined);
        },
      }).catch(async (e) => {
        if (deploymentId) await this.deployments.log(deploymentId, "error", `step failed: ${(e as Error).message}`);
        throw e;
      });
      after = await this.driver.listContainers({ [LABEL.ownerUid]: app.metadata.uid! });
    }
    return this.report(app, replicas, hash, after, plan);
  }

  /** Before creating containers: the image must exist, and the network and volumes with it. */
  private async prepare(app: ResourceObject, spec: AppSpec, runtime: AppRuntimeSpec, plan: Plan, hash: string): Promise<ReconcileResult | undefined> {
    if (!plan.steps.some((s) => s.op === "create")) return undefined;
    const project = app.metadata.namespace!;
    if (!(await this.driver.imageExists(runtime.image))) {
      const message = `image "${runtime.image}" is not present on the Docker engine and no registry provided it`;
      const id = await this.deployments.ensure(app, hash, app.metadata.generation ?? 1);
      await this.deployments.finish(id, "failed", message);
      return this.failed(app, "ImageNotFound", message, 30_000);
    }
    await this.driver.ensureNetwork(networkName(project), { ...ownerLabels("Project", project, project, "") });
    for (const v of spec.volumes ?? []) {
      const name = volumeName(project, v.name);
      try {
        await this.driver.ensureVolume(name, ownerLabels("Application", project, app.metadata.name, app.metadata.uid!));
      } catch (e) {
        if (!(e instanceof VolumeConflictError)) throw e;
        return this.failed(app, "VolumeConflict", e.message, 60_000);
      }
      await this.store.dataSource.query(
        `INSERT INTO volumes (name, type, mount_path, size_gb, application_id, project_id, deletion_policy) VALUES ($1, $2, $3, $4, $5, (SELECT id FROM projects WHERE name = $6), $7)
         ON CONFLICT (name) DO UPDATE SET mount_path = EXCLUDED.mount_path, size_gb = EXCLUDED.size_gb, application_id = EXCLUDED.application_id, deletion_policy = EXCLUDED.deletion_policy`,
        [name, v.type ?? "docker_volume", v.mountPath, v.sizeGb ?? null, app.metadata.uid, project, spec.deletionPolicy ?? "Retain"],
      );
    }
    return undefined;
  }

  private async runtimeSpec(app: ResourceObject, spec: AppSpec): Promise<AppRuntimeSpec> {
    return {
      project: app.metadata.namespace!,
      name: app.metadata.name,
      uid: app.metadata.uid!,
      image: spec.source!.image!,
      command: spec.command,
      args: spec.args,
      // envFrom (DATABASE_URL and friends) first: the Application's own env and secretEnv win.
      env: { ...(await databaseEnvFrom(this.store, this.box, app)), ...(spec.env ?? {}), ...unsealSecretEnv(this.box, app.spec) },
      ports: spec.ports ?? [],
      healthcheck: spec.healthcheck,
      resources: spec.resources,
      volumes: (spec.volumes ?? []).map((v) => ({ name: v.name, mountPath: v.mountPath })),
      restartPolicy: spec.restartPolicy,
      // `berth rollout restart` sets this annotation; being part of the hash, it rolls every replica.
      restartedAt: app.metadata.annotations?.["berth.dev/restarted-at"],
    };
  }

  private async unreadyDependencies(app: ResourceObject, spec: AppSpec): Promise<string[]> {
    const out: string[] = [];
    for (const dep of [...(spec.dependsOn ?? []), ...envFromDependencies(app.spec)]) {
      const other = await this.store.get(dep.kind, app.metadata.namespace, dep.name);
      const ready = getCondition(other?.status?.conditions as Condition[] | undefined, "Ready")?.status === "True";
      if (!ready) out.push(`${dep.kind}/${dep.name}`);
    }
    return out;
  }

  /** Status from what is running now; Ready only when every replica runs the current config and is healthy. */
  private async report(app: ResourceObject, replicas: number, hash: string, observed: ObservedContainer[], plan: Plan): Promise<ReconcileResult> {
    const current = observed.filter((c) => c.labels[LABEL.configHash] === hash && Number(c.labels[LABEL.replica]) < replicas);
    const ready = current.filter(isReady);
    const endpoints = ready.flatMap((c) => c.ports.map((p) => `${p.hostIp === "0.0.0.0" ? "127.0.0.1" : p.hostIp}:${p.hostPort}`)).sort();
    const allReady = ready.length === replicas && observed.length === replicas;
    const unhealthy = observed.filter((c) => c.health === "unhealthy" || c.state === "exited" || c.state === "dead");
    const stale = observed.length - current.length;
    let c = conds(app);
    if (allReady) {
      c = setCondition(c, { type: "Ready", status: "True", reason: "ReplicasReady", message: `${ready.length}/${replicas} replicas ready` });
      c = setCondition(c, { type: "Progressing", status: "False", reason: "RolloutComplete", message: `config ${hash.slice(0, 8)} is running` });
    } else {
      const why = plan.waiting[0] ?? `${ready.length}/${replicas} replicas ready`;
      c = setCondition(c, { type: "Ready", status: "False", reason: replicas === 0 ? "ScaledToZero" : "ReplicasNotReady", message: why });
      c = setCondition(c, { type: "Progressing", status: "True", reason: stale ? "RollingUpdate" : "Reconciling", message: `${current.length} of ${replicas} replicas on config ${hash.slice(0, 8)}, ${ready.length} ready${stale ? `, ${stale} old` : ""}` });
    }
    c = setCondition(c, unhealthy.length ? { type: "Degraded", status: "True", reason: "ReplicaUnhealthy", message: unhealthy.map((u) => `${u.name} ${u.state}${u.health !== "none" ? ` (${u.health})` : ""}`).join(", ") } : { type: "Degraded", status: "False", reason: "AsExpected", message: "" });
    if (replicas === 0 && observed.length === 0) c = setCondition(c, { type: "Ready", status: "True", reason: "ScaledToZero", message: "0 replicas requested" });
    const phase = replicas === 0 && observed.length === 0 ? "stopped" : allReady ? "running" : stale ? "deploying" : observed.length !== replicas ? "scaling" : "deploying";
    if (!allReady) {
      const verdict = await this.checkDeadline(app, hash, c);
      if (verdict) {
        c = verdict.conditions;
        if (verdict.rolledBack) return { requeueAfter: 500 };
      }
    }
    const status = { ...app.status, observedGeneration: app.metadata.generation, phase, replicas, readyReplicas: ready.length, updatedReplicas: current.length, configHash: hash, endpoints, conditions: c };
    const wasReady = getCondition(conds(app), "Ready")?.status === "True";
    const settled = wasReady && (app.status as { configHash?: string } | undefined)?.configHash === hash;
    // Once Ready on this hash the deployment row was finished before that status was written.
    if (allReady && !settled) {
      const id = await this.deployments.current(app.metadata.uid!, hash);
      if (id) await this.deployments.finish(id, "success", `${replicas} replica(s) ready on config ${hash.slice(0, 8)}`);
      if (!wasReady) await this.events.record(app, "Normal", "Ready", `${replicas}/${replicas} replicas ready`);
    }
    await this.writeStatus(app, status);
    // Health changes arrive as Docker events too; the requeue is the safety net while converging.
    return allReady ? {} : { requeueAfter: 1000 };
  }

  /**
   * A rollout that is not Ready within progressDeadline (default 10m) fails: the old replicas are
   * still serving (they go only once new ones are ready), and with rollback: auto the last good
   * revision's spec is written back as the desired state, so the store remains the truth.
   */
  private async checkDeadline(app: ResourceObject, hash: string, conditions: Condition[]): Promise<{ conditions: Condition[]; rolledBack: boolean } | undefined> {
    const spec = (app.spec ?? {}) as AppSpec;
    const latest = await this.deployments.latestRow(app.metadata.uid!);
    if (!latest || latest.hash !== hash) return undefined;
    const deadlineMs = parseDurationMs(spec.progressDeadline, 600_000);
    if (latest.status === "failed" || latest.status === "rolled_back") {
      return { conditions: setCondition(conditions, { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: `revision ${latest.revision} did not become ready within ${spec.progressDeadline ?? "10m"}` }), rolledBack: false };
    }
    if (latest.status !== "deploying" || Date.now() - new Date(latest.startedAt).getTime() < deadlineMs) return undefined;
    const message = `revision ${latest.revision} did not become ready within ${spec.progressDeadline ?? "10m"}`;
    const c = setCondition(conditions, { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message });
    await this.events.record(app, "Warning", "ProgressDeadlineExceeded", message);
    const good = (spec.rollback ?? "auto") === "auto" ? await this.deployments.lastGood(app.metadata.uid!, hash) : undefined;
    if (!good) {
      await this.deployments.finish(latest.id, "failed", message);
      return { conditions: c, rolledBack: false };
    }
    await this.deployments.finish(latest.id, "rolled_back", `${message}; rolling back to revision ${good.revision}`);
    await this.store.update("Application", app.metadata.namespace, app.metadata.name, CONTROLLER, "rollback", (cur) => ({
      ...cur!,
      metadata: { ...cur!.metadata, annotations: { ...(cur!.metadata.annotations ?? {}), "berth.dev/rolled-back-from": String(latest.revision) } },
      spec: good.spec,
    }));
    await this.events.record(app, "Warning", "RolledBack", `rolled back to revision ${good.revision}: ${message}`);
    return { conditions: c, rolledBack: true };
  }

  /** Ready=False and Progressing=False for `reason`, a Warning event on the first occurrence, phase failed. */
  private async failed(app: ResourceObject, reason: string, message: string, requeueAfter: number): Promise<ReconcileResult> {
    let c = setCondition(conds(app), { type: "Ready", status: "False", reason, message });
    c = setCondition(c, { type: "Progressing", status: "False", reason, message });
    if (getCondition(conds(app), "Ready")?.reason !== reason) await this.events.record(app, "Warning", reason, message);
    await this.writeStatus(app, { ...app.status, observedGeneration: app.metadata.generation, phase: "failed", conditions: c });
    return { requeueAfter };
  }

  /** Skips the write transaction (and its lock) when nothing changed since `app` was read. */
  private async writeStatus(app: ResourceObject, status: Record<string, unknown>): Promise<void> {
    if (isDeepStrictEqual(app.status ?? {}, status)) return;
    await this.store.update("Application", app.metadata.namespace, app.metadata.name, CONTROLLER, "update-status", (cur) => ({ ...cur!, status }));
  }

  /** Deletion: containers first, then volumes per deletionPolicy, then the finalizer. */
  private async finalize(app: ResourceObject, logger: Logger): Promise<ReconcileResult> {
    if (!(app.metadata.finalizers ?? []).includes(RUNTIME_FINALIZER)) return {};
    const spec = (app.spec ?? {}) as AppSpec;
    const containers = await this.driver.listContainers({ [LABEL.ownerUid]: app.metadata.uid! });
    await Promise.all(containers.map((c) => this.driver.removeContainer(c.id)));
    const volumes: { name: string; deletion_policy: string }[] = await this.store.dataSource.query(`SELECT name, deletion_policy FROM volumes WHERE application_id = $1`, [app.metadata.uid]);
    for (const v of volumes) {
      if ((spec.deletionPolicy ?? v.deletion_policy) === "Delete") {
        await this.driver.removeVolume(v.name).catch((e: unknown) => {
          if (!(e instanceof DockerError && e.statusCode === 409)) throw e;
          logger.warn("volume still in use; kept", { volume: v.name });
        });
        await this.store.dataSource.query(`DELETE FROM volumes WHERE name = $1`, [v.name]);
      } else {
        // Retain: the data stays; the row no longer points at the Application so it can go.
        await this.store.dataSource.query(`UPDATE volumes SET application_id = NULL WHERE name = $1`, [v.name]);
      }
    }
    logger.info("finalized", { removedContainers: containers.length, volumes: volumes.length });
    await this.store.update("Application", app.metadata.namespace, app.metadata.name, CONTROLLER, "remove-finalizer", (cur) => ({
      ...cur!,
      metadata: { ...cur!.metadata, finalizers: (cur!.metadata.finalizers ?? []).filter((f) => f !== RUNTIME_FINALIZER) },
    }));
    return {};
  }
}

function conds(o: ResourceObject): Condition[] {
  return ((o.status?.conditions as Condition[] | undefined) ?? []).slice();
}

function describeStep(s: Step): string {
  return s.op === "create" ? `create replica ${s.replica}: ${s.cause}` : s.op === "rename" ? `rename ${s.name} to ${s.to}: ${s.cause}` : `${s.op} ${s.name}: ${s.cause}`;
}

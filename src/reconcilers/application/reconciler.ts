import { getCondition, conditionsOf } from "../../core/conditions.js";
import { parseDurationMs } from "../../core/duration.js";
import { FINALIZER } from "../../core/kinds.js";
import { pinGitCommit, strategyOf, type ApplicationSpec, type ImagePolicySpec, type RuntimeKind } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import type { ReconcileContext } from "../../controller/controller.js";
import { configHash, containerCreateOptions, stopGraceSeconds, type AppRuntimeSpec } from "../../runtime/container-spec.js";
import type { ObservedContainer, RuntimeDriver } from "../../runtime/driver.js";
import { executePlan, StepError } from "../../runtime/executor.js";
import { LABEL, networkName, ownerLabels, volumeName } from "../../runtime/labels.js";
import { authFor } from "../../runtime/registry-auth.js";
import { RegistryClient } from "../../runtime/registry-client.js";
import { createsContainers, describeStep, ordered, planApplication, planInfrastructure, retire, withInfrastructure, type InfraObserved, type Plan, type Step } from "../../runtime/plan.js";
import type { TrafficSwitch } from "../../runtime/traffic.js";
import type { CredentialStore } from "../../store/credentials.js";
import type { JobRunStore } from "../../store/job-runs.js";
import type { VolumeBackupStore } from "../../store/volume-backups.js";
import type { RevisionStore } from "../../store/revisions.js";
import { SecretEnvError, unsealSecretEnv, type SecretBox } from "../../store/secrets.js";
import type { VolumeStore } from "../../store/volumes.js";
import type { Metrics } from "../../telemetry/metrics.js";
import { fail } from "../shared/failures.js";
import { CONTROLLER, ObjectReconciler, type ObjectReconcilerDeps } from "../shared/object-reconciler.js";
import type { Outcome, Verdict } from "../shared/status.js";
import { composeAliases } from "./compose-children.js";
import { databaseEnvFrom, dependenciesOf } from "./env.js";
import { buildFailureMessage, type GitSource } from "./git-source.js";
import { ImagePolicies } from "./image-policy.js";
import { projectLogins } from "./registries.js";
import { isSwarmTask, runtimeOf, type SwarmApplications } from "./swarm-app.js";
import { applicationStatusFor, converged, countReplicas, type AppObserved, type RolloutCheck } from "./status.js";

export interface ApplicationDeps extends ObjectReconcilerDeps {
  driver: RuntimeDriver;
  traffic: TrafficSwitch;
  box: SecretBox;
  credentials: CredentialStore;
  revisions: RevisionStore;
  volumes: VolumeStore;
  metrics: Metrics;
  /** Git sources (issue 16); without it a git source answers SourceNotSupported. */
  git?: GitSource;
  /** Runs of spec.jobs (ADR 0020): reported in status.jobs and JobsSucceeded. */
  jobRuns?: JobRunStore;
  /** Volume backups (ADR 0024): reported in VolumeBackupsSucceeded. */
  volumeBackups?: VolumeBackupStore;
  /** Image automation's registry polls (ADR 0022); without it, one over the registries' HTTP API. */
  images?: ImagePolicies;
  /** The swarm runtime (ADR 0025); without it a Project on `runtime: swarm` answers SwarmUnavailable. */
  swarm?: SwarmApplications;
  /** The runtime of Projects without spec.runtime (`berth serve --runtime`); default docker. */
  defaultRuntime?: RuntimeKind;
}

/** What this reconcile rolls out: the object as read, its spec, and the runtime spec with its hash. */
interface Target {
  app: ResourceObject;
  spec: ApplicationSpec;
  runtime: AppRuntimeSpec;
  hash: string;
  /** The deployed image kept while the source's new commit builds. */
  holding: boolean;
}

/** Causes that mean the runtime drifted from a state Berth had reached, not a new rollout. */
function driftCause(step: Step): string | undefined {
  if (step.op === "start") return "stopped";
  if (step.op === "restart") return "unhealthy";
  if (step.op === "remove" && step.cause.startsWith("duplicate")) return "duplicate";
  return undefined;
}

/** One Normal DriftRepaired event per reconcile that repaired drift (a Notification's DriftRepaired, ADR 0021). */
function reportDrift(plan: Plan, obs: Partial<AppObserved>): void {
  const repaired = plan.steps.filter((s) => driftCause(s) !== undefined);
  if (repaired.length) obs.events?.push({ type: "Normal", reason: "DriftRepaired", message: `repaired drift: ${repaired.map(describeStep).join("; ")}` });
}

/**
 * The Application reconciler: dependencies → observe the replicas → plan (with the image,
 * network and volumes a create needs) → execute (old replicas leave the route before they
 * stop) → observe again → progress deadline and rollback → one status write.
 */
export class ApplicationReconciler extends ObjectReconciler<AppObserved> {
  readonly kind = "Application" as const;
  readonly finalizer = FINALIZER.runtime;

  private readonly images: ImagePolicies;

  constructor(private readonly d: ApplicationDeps) {
    super(d);
    this.images = d.images ?? new ImagePolicies(new RegistryClient());
  }

  protected suspended(app: ResourceObject): boolean {
    return !!(app.spec as ApplicationSpec | undefined)?.suspend;
  }

  statusFor(app: ResourceObject, observed: Partial<AppObserved>, outcome: Outcome): Verdict {
    return applicationStatusFor(app, observed, outcome);
  }

  protected override secrets(app: ResourceObject, obs: Partial<AppObserved>): string[] {
    const git = [...(this.d.git?.secrets(app) ?? []), ...(obs.pullSecrets ?? [])];
    try {
      return [...Object.values(unsealSecretEnv(this.d.box, app.spec)), ...git];
    } catch {
      return git;
    }
  }

  /** A stored value that is not this installation's ciphertext stops the rollout: it is never passed on. */
  private secretEnv(app: ResourceObject): Record<string, string> {
    try {
      return unsealSecretEnv(this.d.box, app.spec);
    } catch (e) {
      if (e instanceof SecretEnvError) fail("SecretUnreadable", e.message, { terminal: true });
      throw e;
    }
  }

  /** Every container of the Application: its replicas, and the tasks of its service if it has one. */
  private listAll(app: ResourceObject): ReturnType<RuntimeDriver["listContainers"]> {
    return this.d.driver.listContainers({ [LABEL.ownerUid]: app.metadata.uid! });
  }

  /** The docker runtime's replicas: a swarm task is Swarm's to manage, never the container planner's. */
  private async list(app: ResourceObject): Promise<ObservedContainer[]> {
    return (await this.listAll(app)).filter((c) => !isSwarmTask(c));
  }

  protected async converge(app: ResourceObject, obs: Partial<AppObserved>, ctx: ReconcileContext): Promise<void> {
    const spec = (app.spec ?? {}) as ApplicationSpec;
    obs.desired = spec.replicas ?? 1;
    const all = await this.listAll(app);
    obs.containers = all.filter((c) => !isSwarmTask(c));
    obs.withdrawn = [];
    obs.events = [];
    // First: a later step's failure still reports the jobs.
    obs.jobs = await this.observeJobs(app, spec);
    obs.volumeBackups = await this.observeVolumeBackups(app, spec);
    await this.checkDependencies(app);
    const image = await this.imageOf(app, spec, obs);
    // The first build of a git source is under way: nothing to run yet (status says where it stands).
    if (obs.git?.holding && !obs.git.running) return;
    const runtime = await this.runtimeSpec(app, spec, image);
    if ((await runtimeOf(this.d.store, app, this.d.defaultRuntime ?? "docker")) === "swarm") return this.convergeOnSwarm({ app, spec, runtime }, obs, ctx);
    const hash = configHash(runtime);
    obs.hash = hash;
    const target: Target = { app, spec, runtime, hash, holding: !!obs.git?.holding };
    const plan = await this.plan(target, obs.containers);
    obs.plan = plan;
    if (plan.blocked) fail(plan.blocked.reason, plan.blocked.message, { retryAfterMs: 30_000 });
    if (plan.steps.length) {
      await this.execute(target, plan, obs, ctx);
      obs.containers = await this.list(app);
    }
    obs.withdrawn = obs.containers.filter((c) => this.d.traffic.isWithdrawn(c.id)).map((c) => c.id);
    const counts = countReplicas(obs.containers, hash, obs.desired, obs.withdrawn);
    if (converged(counts, obs.desired)) await Promise.all([this.recordSuccess(app, hash, obs.desired, obs), this.retireService(app, all)]);
    else obs.rollout = await this.checkDeadline(app, spec, hash, obs);
  }

  /**
   * The swarm path (ADR 0025). Replicas the docker runtime left (the Project moved to swarm) go
   * once the service runs every replica: out of the route first, as any replica Berth stops.
   */
  private async convergeOnSwarm(target: { app: ResourceObject; spec: ApplicationSpec; runtime: AppRuntimeSpec }, obs: Partial<AppObserved>, ctx: ReconcileContext): Promise<void> {
    if (!this.d.swarm) fail("SwarmUnavailable", "the Project's runtime is swarm, but this server has no swarm driver", { terminal: true });
    const leftovers = obs.containers ?? [];
    await this.d.swarm.converge(target, obs, ctx);
    const counts = countReplicas(obs.containers ?? [], obs.hash ?? "", obs.desired ?? 1, []);
    if (!leftovers.length || !converged(counts, obs.desired ?? 1)) return;
    const graceSeconds = stopGraceSeconds(target.spec.stopGracePeriod);
    const steps = leftovers.flatMap((c) => retire(c, Number(c.labels[LABEL.replica]), { graceSeconds, cause: "a replica of the docker runtime; the Project runs on swarm now" }));
    await executePlan({ steps: ordered(steps), waiting: [] }, { driver: this.d.driver, traffic: this.d.traffic, createOptions: () => ({}), ownerLabels: {}, signal: ctx.signal });
  }

  /** The Project left swarm: once the docker runtime's replicas are all ready, a service's tasks still here go with it. */
  private async retireService(app: ResourceObject, seen: readonly ObservedContainer[]): Promise<void> {
    if (seen.some(isSwarmTask)) await this.d.swarm?.finalize(app);
  }

  private async observeVolumeBackups(app: ResourceObject, spec: ApplicationSpec): Promise<AppObserved["volumeBackups"] | undefined> {
    if (!this.d.volumeBackups || !spec.volumes?.some((v) => v.backup)) return undefined;
    return await this.d.volumeBackups.lastFinishedPerVolume(app.metadata.uid!);
  }

  private async observeJobs(app: ResourceObject, spec: ApplicationSpec): Promise<AppObserved["jobs"] | undefined> {
    if (!this.d.jobRuns || !spec.jobs?.length) return undefined;
    return await this.d.jobRuns.latestPerJob(app.metadata.uid!);
  }

  /**
   * The image to run: the source's image, or for a git source the commit's built image — while
   * that is being built (or its build failed) the image deployed before, so nothing serving stops.
   */
  private async imageOf(app: ResourceObject, spec: ApplicationSpec, obs: Partial<AppObserved>): Promise<string> {
    if (spec.source?.image) return spec.source.image;
    if (spec.source?.imagePolicy) return this.policyImage(app, spec.source.imagePolicy, obs);
    const git = spec.source?.git;
    if (!git || !this.d.git) fail("SourceNotSupported", "this Application's source is not built by this server; use source.image or source.git", { terminal: true });
    obs.git = await this.d.git.observe(app, git, async (image, commit) => {
      const runtime = await this.runtimeSpec(app, spec, image);
      return this.d.revisions.ensure(app, configHash(runtime), app.metadata.generation ?? 1, { commit });
    });
    if (obs.git.holding && !obs.git.running && obs.git.build?.state === "failed") fail("BuildFailed", buildFailureMessage(obs.git.build), { retryAfterMs: 60_000 });
    return obs.git.image;
  }

  /** The image an imagePolicy chose (a pinned repository@digest), asked with the Project's login for its registry. */
  private async policyImage(app: ResourceObject, policy: ImagePolicySpec, obs: Partial<AppObserved>): Promise<string> {
    const logins = await projectLogins(this.d.store, this.d.box, app);
    obs.pullSecrets = logins.map((l) => l.password);
    obs.image = await this.images.observe(app, policy, authFor(policy.repository, logins));
    return obs.image.ref;
  }

  private async checkDependencies(app: ResourceObject): Promise<void> {
    const waiting: string[] = [];
    for (const dep of dependenciesOf(app)) {
      const other = await this.d.store.get(dep.kind, app.metadata.namespace, dep.name);
      if (getCondition(conditionsOf(other?.status), "Ready")?.status !== "True") waiting.push(`${dep.kind}/${dep.name}`);
    }
    if (waiting.length) fail("DependencyNotReady", `waiting for ${waiting.join(", ")} to be Ready`, { retryAfterMs: 5000 });
  }

  private async runtimeSpec(app: ResourceObject, spec: ApplicationSpec, image: string): Promise<AppRuntimeSpec> {
    return {
      project: app.metadata.namespace!,
      name: app.metadata.name,
      uid: app.metadata.uid!,
      image,
      command: spec.command,
      args: spec.args,
      // envFrom (DATABASE_URL and friends) first: the Application's own env and secretEnv win.
      env: { ...(await databaseEnvFrom(this.d.credentials, app)), ...(spec.env ?? {}), ...this.secretEnv(app) },
      ports: spec.ports ?? [],
      healthcheck: spec.healthcheck,
      resources: spec.resources,
      volumes: (spec.volumes ?? []).map((v) => ({ name: v.name, mountPath: v.mountPath })),
      restartPolicy: spec.restartPolicy,
      // `berth rollout restart` sets this annotation; being part of the hash, it rolls every replica.
      restartedAt: app.metadata.annotations?.["berth.dev/restarted-at"],
      aliases: composeAliases(app),
    };
  }

  private async plan({ app, spec, runtime, hash }: Target, containers: AppObserved["containers"]): Promise<Plan> {
    const project = app.metadata.namespace!;
    const input = { project, name: app.metadata.name, replicas: spec.replicas ?? 1, hash, strategy: strategyOf(spec), graceSeconds: stopGraceSeconds(spec.stopGracePeriod) };
    const plan = planApplication(input, containers);
    if (!createsContainers(plan)) return plan;
    return withInfrastructure(plan, planInfrastructure(await this.observeInfrastructure(project, runtime), "a new replica"));
  }

  private async observeInfrastructure(project: string, runtime: AppRuntimeSpec): Promise<InfraObserved> {
    const network = networkName(project);
    const volumes = runtime.volumes.map((v) => volumeName(project, v.name));
    // Independent questions to the engine: asked together.
    const [present, exists, owners] = await Promise.all([
      this.d.driver.imageExists(runtime.image),
      this.d.driver.networkExists(network),
      Promise.all(volumes.map(async (name) => ({ name, owner: await this.d.driver.volumeOwner(name) }))),
    ]);
    return { image: { name: runtime.image, present }, network: { name: network, exists }, volumes: owners };
  }

  /** Carries out the plan, recorded as the rollout's revision (a row and a log line per step). */
  private async execute({ app, spec, runtime, hash, holding }: Target, plan: Plan, obs: Partial<AppObserved>, ctx: ReconcileContext): Promise<void> {
    const creates = createsContainers(plan);
    // Holding the deployed image while a build runs repairs drift; it is no new revision.
    const record = creates && !holding;
    const revision = record ? await this.d.revisions.ensure(app, hash, app.metadata.generation ?? 1, obs.git ? { commit: obs.git.target } : undefined) : await this.d.revisions.current(app.metadata.uid!, hash);
    if (creates) await this.recordVolumes(app, spec);
    ctx.logger.info("executing plan", { hash, steps: plan.steps.map(describeStep) });
    const graceSeconds = stopGraceSeconds(spec.stopGracePeriod);
    const replicas = spec.replicas ?? 1;
    const logins = plan.steps.some((s) => s.op === "pull-image") ? await projectLogins(this.d.store, this.d.box, app) : [];
    obs.pullSecrets = logins.map((l) => l.password);
    try {
      await executePlan(plan, {
        driver: this.d.driver,
        traffic: this.d.traffic,
        createOptions: (replica) => containerCreateOptions(runtime, replica, hash, { replicas, graceSeconds }),
        ownerLabels: ownerLabels("Project", runtime.project, runtime.project, ""),
        onStep: (step) => this.onStep(step, revision),
        pullAuth: (image) => authFor(image, logins),
        signal: ctx.signal,
      });
      reportDrift(plan, obs);
    } catch (e) {
      obs.containers = await this.list(app).catch(() => obs.containers);
      if (revision && e instanceof StepError) await this.recordStepFailure(revision, e);
      throw e;
    }
  }

  private onStep(step: Step, revision: string | undefined): void {
    const drift = driftCause(step);
    if (drift) this.d.metrics.driftRepairs.inc({ kind: "Application", cause: drift });
    if (revision) void this.d.revisions.log(revision, "info", describeStep(step)).catch(() => undefined);
  }

  private async recordStepFailure(revision: string, e: StepError): Promise<void> {
    const message = `${describeStep(e.step)} failed: ${e.message}`;
    // Without the image nothing of this revision can ever run: the revision failed.
    if (e.step.op === "pull-image") await this.d.revisions.finish(revision, "failed", message);
    else await this.d.revisions.log(revision, "error", message);
  }

  private async recordVolumes(app: ResourceObject, spec: ApplicationSpec): Promise<void> {
    for (const v of spec.volumes ?? []) {
      const name = volumeName(app.metadata.namespace!, v.name);
      await this.d.volumes.recordForApplication(app.metadata.uid!, app.metadata.namespace!, { name, mountPath: v.mountPath, sizeGb: v.sizeGb ?? null, type: v.type, deletionPolicy: spec.deletionPolicy ?? "Retain" });
    }
  }

  /** Once every replica is ready on this config, its revision succeeded (recorded once). */
  private async recordSuccess(app: ResourceObject, hash: string, desired: number, obs: Partial<AppObserved>): Promise<void> {
    const live = this.liveCommit(app, obs, { state: "success", description: `${desired} replica(s) ready` });
    const wasReady = getCondition(conditionsOf(app.status), "Ready")?.status === "True";
    const status = (app.status ?? {}) as { configHash?: string; commit?: string };
    if (wasReady && status.configHash === hash && status.commit === (live ?? status.commit)) return;
    if (live) await this.d.git?.deployedCommit(app, (app.spec as ApplicationSpec).source!.git!, live);
    const id = await this.d.revisions.current(app.metadata.uid!, hash);
    if (id) await this.d.revisions.finish(id, "success", `${desired} replica(s) ready on config ${hash.slice(0, 8)}`);
  }

  /** The git source's commit this reconcile rolled out (not a held one), its commit status reported. */
  private liveCommit(app: ResourceObject, obs: Partial<AppObserved>, status: { state: "success" | "failure"; description: string }): string | undefined {
    const git = (app.spec as ApplicationSpec).source?.git;
    if (!git || !obs.git || obs.git.holding) return undefined;
    this.d.git?.report(app, git, { commit: obs.git.target, ...status });
    return obs.git.target;
  }

  /**
   * A rollout that is not Ready within progressDeadline (default 10m) fails: the old replicas are
   * still serving (they go only once new ones are ready), and with rollback: auto the last good
   * revision's spec is written back as the desired state, so the store remains the truth.
   */
  private async checkDeadline(app: ResourceObject, spec: ApplicationSpec, hash: string, obs: Partial<AppObserved>): Promise<RolloutCheck> {
    const latest = await this.d.revisions.latest(app.metadata.uid!);
    if (!latest || latest.hash !== hash) return { state: "in-time" };
    const message = `revision ${latest.revision} did not become ready within ${spec.progressDeadline ?? "10m"}`;
    if (latest.status === "failed" || latest.status === "rolled_back") return { state: "failed", message };
    if (latest.status !== "deploying" || Date.now() - new Date(latest.startedAt).getTime() < parseDurationMs(spec.progressDeadline, 600_000)) return { state: "in-time" };
    obs.events!.push({ type: "Warning", reason: "ProgressDeadlineExceeded", message });
    this.liveCommit(app, obs, { state: "failure", description: message });
    const good = (spec.rollback ?? "auto") === "auto" ? await this.d.revisions.lastGood(app.metadata.uid!, hash) : undefined;
    if (!good) {
      await this.d.revisions.finish(latest.id, "failed", message);
      return { state: "failed", message };
    }
    await this.d.revisions.finish(latest.id, "rolled_back", `${message}; rolling back to revision ${good.revision}`);
    await this.d.store.update({ kind: "Application", namespace: app.metadata.namespace, name: app.metadata.name }, CONTROLLER, "rollback", (cur) => ({
      ...cur!,
      metadata: { ...cur!.metadata, annotations: { ...(cur!.metadata.annotations ?? {}), "berth.dev/rolled-back-from": String(latest.revision) } },
      spec: pinGitCommit(good.spec, good.commit),
    }));
    const rolled = `rolled back to revision ${good.revision}: ${message}`;
    obs.events!.push({ type: "Warning", reason: "RolledBack", message: rolled });
    return { state: "rolled-back", message: rolled };
  }

  /** Deletion: every container leaves the route, stops and goes; then volumes per deletionPolicy. */
  protected async finalize(app: ResourceObject, ctx: ReconcileContext): Promise<boolean> {
    const spec = (app.spec ?? {}) as ApplicationSpec;
    // First: a service's tasks would be started again by Swarm, and they hold the volumes.
    const services = (await this.d.swarm?.finalize(app)) ?? 0;
    const containers = await this.listAll(app);
    const grace = stopGraceSeconds(spec.stopGracePeriod);
    const steps = containers.flatMap((c) => retire(c, Number(c.labels[LABEL.replica]), { graceSeconds: grace, cause: "the Application is being deleted" }));
    await executePlan({ steps: ordered(steps), waiting: [] }, {
      driver: this.d.driver,
      traffic: this.d.traffic,
      createOptions: () => ({}),
      ownerLabels: {},
    });
    // Job runs still going end with the Application.
    for (const c of await this.d.driver.listContainers({ [LABEL.jobOwnerUid]: app.metadata.uid! })) await this.d.driver.removeContainer(c.id);
    const volumes = await this.d.volumes.ofApplication(app.metadata.uid!);
    for (const v of volumes) {
      if ((spec.deletionPolicy ?? v.deletionPolicy) === "Delete") {
        await this.d.driver.removeVolume(v.name).catch((e: unknown) => ctx.logger.warn("volume not removed; kept", { volume: v.name, error: (e as Error).message }));
        await this.d.volumes.forget(v.name);
      } else await this.d.volumes.detachFromApplication(v.name);
    }
    this.d.git?.forget(app.metadata.uid!);
    this.images.forget(app.metadata.uid!);
    ctx.logger.info("finalized", { removedContainers: containers.length, removedServices: services, volumes: volumes.length });
    return true;
  }
}

import { withVolumeBackups } from "./volume-backup-plan.js";
import type { VolumeBackupInfo } from "../../core/records.js";
import { jobsStatus, withJobs, type JobsObserved } from "./job-status.js";
import type { ConditionInput } from "../../core/conditions.js";
import type { ApplicationSpec } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import { isReady, type ObservedContainer } from "../../runtime/driver.js";
import { LABEL } from "../../runtime/labels.js";
import type { Plan } from "../../runtime/plan.js";
import { servingEndpoints } from "../../runtime/serving.js";
import { buildFailureMessage, type GitObserved } from "./git-source.js";
import type { ImageObserved } from "./image-policy.js";
import { conditionsFor, failureSummary, suspendedSummary, transitionEvents, type EventSpec, type Outcome, type Summary, type Verdict } from "../shared/status.js";

/** How the rollout stands against its progress deadline. */
export type RolloutCheck =
  | { state: "in-time" }
  /** reason: SwarmRolledBack when Swarm's own rollback refused the config (ADR 0025); else the deadline passed. */
  | { state: "failed"; message: string; reason?: string }
  | { state: "rolled-back"; message: string };

/** What one Application reconcile observed (each part set once the step that finds it ran). */
export interface AppObserved {
  hash: string;
  desired: number;
  containers: ObservedContainer[];
  /** Containers withdrawn from the routes on their way out: they no longer serve. */
  withdrawn: string[];
  plan: Plan;
  rollout: RolloutCheck;
  /** Events of what the steps did (a rollback, a deadline). */
  events: EventSpec[];
  /** A git source's commit, image and build (issue 16). */
  git: GitObserved;
  /** The last runs of spec.jobs (ADR 0020). */
  jobs: JobsObserved;
  /** Each volume's newest finished backup (ADR 0024). */
  volumeBackups: VolumeBackupInfo[];
  /** An imagePolicy source's chosen image (ADR 0022). */
  image: ImageObserved;
  /** The registry passwords this reconcile's pulls could send (ADR 0022): scrubbed from messages, never in status. */
  pullSecrets: string[];
  /** On the swarm runtime (ADR 0025): the service and its running tasks per node. */
  swarm: { service: string; nodes: Record<string, number> };
}

/** Replica counts as a Kubernetes Deployment reports them. */
export interface ReplicaCounts {
  /** Containers that exist, any config. */
  replicas: number;
  /** On the current config (and within the desired count). */
  updatedReplicas: number;
  /** Ready (running and healthy, or without a healthcheck), any config. */
  readyReplicas: number;
  /** Ready and serving (not withdrawn on their way out). */
  availableReplicas: number;
  /** Desired replicas that are not available. */
  unavailableReplicas: number;
  /** Updated and ready. */
  updatedReady: number;
  endpoints: string[];
}

function replicaIndex(c: ObservedContainer): number {
  return Number(c.labels[LABEL.replica]);
}

export function countReplicas(containers: readonly ObservedContainer[], hash: string, desired: number, withdrawn: readonly string[]): ReplicaCounts {
  const out = new Set(withdrawn);
  const updated = containers.filter((c) => c.labels[LABEL.configHash] === hash && replicaIndex(c) < desired);
  const ready = containers.filter(isReady);
  const available = ready.filter((c) => !out.has(c.id));
  return {
    replicas: containers.length,
    updatedReplicas: updated.length,
    readyReplicas: ready.length,
    availableReplicas: available.length,
    unavailableReplicas: Math.max(desired - available.length, 0),
    updatedReady: updated.filter(isReady).length,
    endpoints: servingEndpoints(containers, (id) => out.has(id)),
  };
}

/** Every desired replica runs the current config, ready, and nothing else runs. */
export function converged(counts: ReplicaCounts, desired: number): boolean {
  return counts.updatedReplicas === desired && counts.updatedReady === desired && counts.replicas === desired;
}

function unhealthy(containers: readonly ObservedContainer[]): ObservedContainer[] {
  return containers.filter((c) => c.health === "unhealthy" || c.state === "exited" || c.state === "dead");
}

type Extra = Omit<ConditionInput, "observedGeneration">;

function degraded(containers: readonly ObservedContainer[]): Extra {
  const bad = unhealthy(containers);
  if (!bad.length) return { type: "Degraded", status: "False", reason: "AsExpected", message: "" };
  return { type: "Degraded", status: "True", reason: "ReplicaUnhealthy", message: bad.map((u) => `${u.name} ${u.state}${u.health !== "none" ? ` (${u.health})` : ""}`).join(", ") };
}

/** Past the progress deadline: rolled back (a new generation is on its way), or failed for good. */
function deadlineSummary(rollout: Exclude<RolloutCheck, { state: "in-time" }>, health: Extra): Summary {
  const m = rollout.message;
  const why = rollout.state === "failed" && rollout.reason ? rollout.reason : "ProgressDeadlineExceeded";
  const progressing: Extra = { type: "Progressing", status: "False", reason: why, message: m };
  if (rollout.state === "rolled-back") return { ready: { status: "False", reason: "RolledBack", message: m }, reconciling: { reason: "RollingBack", message: m }, extra: [progressing, health] };
  // Swarm's rollback left the previous config running: RolledBack, and stalled until the spec changes.
  const ready = why === "SwarmRolledBack" ? "RolledBack" : "RolloutFailed";
  return { ready: { status: "False", reason: ready, message: m }, stalled: { reason: why, message: m }, extra: [progressing, health] };
}

/** Not there yet: rolling to a new config, scaling, or replicas not ready. */
function inProgressSummary(obs: Partial<AppObserved>, counts: ReplicaCounts, desired: number, health: Extra): Summary {
  const hash = (obs.hash ?? "").slice(0, 8);
  const stale = (obs.containers ?? []).filter((c) => c.labels[LABEL.configHash] !== obs.hash).length;
  const doing = `${counts.updatedReplicas} of ${desired} replicas on config ${hash}, ${counts.readyReplicas} ready${stale > 0 ? `, ${stale} old` : ""}`;
  const why = obs.plan?.waiting[0] ?? `${counts.updatedReady}/${desired} replicas ready on config ${hash}`;
  const reason = stale > 0 ? "RollingUpdate" : counts.replicas !== desired ? "Scaling" : "ReplicasNotReady";
  return { ready: { status: "False", reason, message: why }, reconciling: { reason, message: doing }, extra: [{ type: "Progressing", status: "True", reason, message: doing }, health] };
}

/** The summary of a reconcile whose steps all ran: converged, rolling, or past its deadline. */
function progressSummary(obs: Partial<AppObserved>, counts: ReplicaCounts, desired: number): Summary {
  const health = degraded(obs.containers ?? []);
  if (obs.rollout && obs.rollout.state !== "in-time") return deadlineSummary(obs.rollout, health);
  if (desired === 0 && counts.replicas === 0) {
    return { ready: { status: "True", reason: "ScaledToZero", message: "0 replicas requested" }, extra: [{ type: "Progressing", status: "False", reason: "RolloutComplete", message: "scaled to zero" }, health] };
  }
  if (!converged(counts, desired)) return inProgressSummary(obs, counts, desired, health);
  const hash = (obs.hash ?? "").slice(0, 8);
  return { ready: { status: "True", reason: "ReplicasReady", message: `${desired}/${desired} replicas ready` }, extra: [{ type: "Progressing", status: "False", reason: "RolloutComplete", message: `config ${hash} is running` }, health] };
}

function phaseOf(outcome: Outcome, obs: Partial<AppObserved>, counts: ReplicaCounts, desired: number): string {
  if (outcome.suspended) return "stopped";
  if (outcome.failure || obs.rollout?.state === "failed") return "failed";
  if (desired === 0 && counts.replicas === 0) return "stopped";
  if (converged(counts, desired)) return "running";
  if (counts.replicas !== desired && counts.replicas === counts.updatedReplicas) return "scaling";
  return "deploying";
}

function summaryFor(obs: Partial<AppObserved>, outcome: Outcome, counts: ReplicaCounts | undefined, desired: number): Summary {
  if (outcome.suspended) return suspendedSummary("drift is left alone");
  if (outcome.failure) return failureSummary(outcome.failure, obs.containers ? [degraded(obs.containers)] : []);
  return progressSummary(obs, counts!, desired);
}

/** When to look again: never once settled or failed for good; soon while converging. */
function requeueFor(obs: Partial<AppObserved>, outcome: Outcome, counts: ReplicaCounts | undefined, desired: number): number | undefined {
  if (obs.rollout?.state === "failed") return undefined;
  if (obs.rollout?.state === "rolled-back") return 500;
  // Suspended means left alone: a spec change (resume) wakes it through the change feed.
  if (outcome.suspended) return undefined;
  const settled = !outcome.failure && counts !== undefined && (converged(counts, desired) || (desired === 0 && counts.replicas === 0));
  // Health changes arrive as engine events too; the requeue is the safety net while converging.
  return settled ? undefined : 1000;
}

/**
 * The Application's status from what one reconcile read, observed and how it ended: replica
 * counts as a Deployment reports them, the endpoints that serve (exactly the router's
 * upstreams), Ready/Reconciling/Stalled, Progressing and Degraded, and the events of the change.
 * Pure: the same inputs always give the same status.
 */
/** What the status is computed from: the desired count, the config hash, and the counts if the replicas were seen. */
function inputsOf(app: ResourceObject, obs: Partial<AppObserved>): { desired: number; previous: Record<string, unknown>; hash: string | undefined; counts: ReplicaCounts | undefined } {
  const desired = obs.desired ?? ((app.spec ?? {}) as ApplicationSpec).replicas ?? 1;
  const previous = (app.status ?? {}) as Record<string, unknown>;
  const hash = obs.hash ?? (previous.configHash as string | undefined);
  const counts = obs.containers ? countReplicas(obs.containers, hash ?? "", desired, obs.withdrawn ?? []) : undefined;
  return { desired, previous, hash, counts };
}

export function applicationStatusFor(app: ResourceObject, obs: Partial<AppObserved>, outcome: Outcome, at?: string): Verdict {
  const { desired, previous, hash, counts } = inputsOf(app, obs);
  const summary = withVolumeBackups(withJobs(withGit(summaryFor(obs, outcome, counts, desired), obs.git, outcome), app, obs.jobs), (app.spec ?? {}) as ApplicationSpec, obs.volumeBackups);
  const conditions = conditionsFor(app, summary, at);
  const phase = counts ? phaseOf(outcome, obs, counts, desired) : outcome.suspended ? "stopped" : "failed";
  const status = { observedGeneration: app.metadata.generation ?? 1, phase, ...countFields(counts ?? staleCounts(previous, desired), desired), selector: replicaSelector(app), ...(hash ? { configHash: hash } : {}), ...swarmFields(obs.swarm), ...gitFields(obs.git, previous), ...imageFields(app, obs.image, previous), ...jobFields(app, obs.jobs, previous), conditions };
  const events = [...(obs.events ?? []), ...gitEvents(obs.git, previous, outcome), ...imageEvents(obs.image, previous), ...transitionEvents(app, conditions, outcome.failure, { reason: "Ready", message: `${desired}/${desired} replicas ready` })];
  const requeueAfter = requeueFor(obs, outcome, counts, desired);
  const pollAfter = obs.git?.intervalMs ?? obs.image?.intervalMs;
  return { status, events, requeueAfter: swarmRequeue(obs.swarm, buildRequeue(obs.git, requeueAfter)), ...(pollAfter !== undefined ? { pollAfter } : {}) };
}

/** status.runtime, status.service and status.nodes (running tasks per node) on the swarm runtime. */
function swarmFields(swarm: AppObserved["swarm"] | undefined): Record<string, unknown> {
  if (!swarm) return {};
  const summary = Object.entries(swarm.nodes).map(([node, n]) => `${node}=${n}`).join(",");
  return { runtime: "swarm", service: swarm.service, nodes: swarm.nodes, nodeSummary: summary };
}

/** status.image of an imagePolicy source: the tag and digest chosen (kept from the last status when this reconcile did not get that far). */
function imageFields(app: ResourceObject, image: ImageObserved | undefined, previous: Record<string, unknown>): Record<string, unknown> {
  if (image) return { image: { repository: image.repository, tag: image.tag, digest: image.digest } };
  return ((app.spec ?? {}) as ApplicationSpec).source?.imagePolicy && previous.image ? { image: previous.image } : {};
}

/** A new tag or digest chosen (Normal), or a poll that failed while the chosen image keeps running (Warning). */
function imageEvents(image: ImageObserved | undefined, previous: Record<string, unknown>): EventSpec[] {
  if (!image) return [];
  if (image.pollError) return [{ type: "Warning", reason: "ImagePollFailed", message: `${image.pollError}; ${image.tag} (${image.digest.slice(0, 19)}) keeps running` }];
  const before = previous.image as { tag?: string; digest?: string } | undefined;
  if (before?.digest === image.digest) return [];
  return [{ type: "Normal", reason: "ImageUpdated", message: `${image.repository}:${image.tag} is ${image.digest}${before?.tag ? ` (was ${before.tag} ${before.digest?.slice(0, 19) ?? ""})` : ""}` }];
}

/** status.jobs from this reconcile's read of the runs, or the last status's when it could not read them. */
function jobFields(app: ResourceObject, jobs: JobsObserved | undefined, previous: Record<string, unknown>): Record<string, unknown> {
  if (jobs) return ((app.spec ?? {}) as ApplicationSpec).jobs?.length ? { jobs: jobsStatus(app, jobs) } : {};
  return previous.jobs ? { jobs: previous.jobs } : {};
}

/**
 * How often a settled swarm Application is looked at again: a task rescheduled on another node
 * (a node lost) sends no event to the engine Berth watches, so it is read from the swarm (ADR 0025).
 */
export const SWARM_RESYNC_MS = 5000;

function swarmRequeue(swarm: AppObserved["swarm"] | undefined, requeueAfter: number | undefined): number | undefined {
  return swarm ? Math.min(requeueAfter ?? SWARM_RESYNC_MS, SWARM_RESYNC_MS) : requeueAfter;
}

/** While a build runs, the queue wakes the Application when it ends; this is the safety net. */
function buildRequeue(git: GitObserved | undefined, requeueAfter: number | undefined): number | undefined {
  const busy = git?.build?.state === "queued" || git?.build?.state === "building";
  return busy ? Math.min(requeueAfter ?? 10_000, 10_000) : requeueAfter;
}

/** status.commit/image (what runs) and status.build (the target's build), for git sources. */
function gitFields(git: GitObserved | undefined, previous: Record<string, unknown>): Record<string, unknown> {
  if (!git) return {};
  const running = git.running ? { commit: git.running, image: git.image } : { ...(previous.commit ? { commit: previous.commit } : {}), ...(previous.image ? { image: previous.image } : {}) };
  const b = git.build;
  const build = b ? { commit: b.commit, state: b.state, ...(b.state === "queued" ? { position: b.position } : {}), ...(b.state === "failed" ? { message: b.message } : {}) } : { commit: git.target, state: "succeeded" };
  return { ...running, build };
}

function gitEvents(git: GitObserved | undefined, previous: Record<string, unknown>, outcome: Outcome): EventSpec[] {
  const b = git?.build;
  const before = previous.build as { commit?: string; state?: string } | undefined;
  if (!b || (before?.commit === b.commit && before.state === b.state)) return [];
  // A first build that failed is the reconcile's failure: its Warning comes with it.
  if (outcome.failure?.reason === "BuildFailed") return [];
  if (b.state === "failed") return [{ type: "Warning", reason: "BuildFailed", message: buildFailureMessage(b) }];
  if (b.state === "succeeded") return [{ type: "Normal", reason: "Built", message: `built ${b.image} from commit ${b.commit.slice(0, 12)}` }];
  return [];
}

/**
 * A git source's conditions over the replicas' summary: BuildFailed, CommitStatusReported, and
 * Progressing while the target's build is queued or running (the deployed replicas keep Ready).
 */
function withGit(summary: Summary, git: GitObserved | undefined, outcome: Outcome): Summary {
  if (!git) return summary;
  const b = git.build;
  const failed: Extra = b?.state === "failed" ? { type: "BuildFailed", status: "True", reason: "BuildFailed", message: buildFailureMessage(b) } : { type: "BuildFailed", status: "False", reason: "AsExpected", message: "" };
  const extra = [...(summary.extra ?? []).filter((c) => !(git.holding && c.type === "Progressing" && !outcome.failure)), failed, ...reportCondition(git.report)];
  if (!git.holding || outcome.failure) return { ...summary, extra };
  const progress = buildProgress(b);
  extra.push(progress);
  // The first build: nothing runs yet, and that is progress, not a failure.
  if (!git.running) return { ready: { status: "False", reason: progress.reason, message: progress.message }, reconciling: { reason: progress.reason, message: progress.message }, extra };
  return { ...summary, extra };
}

function buildProgress(b: GitObserved["build"]): Extra {
  const commit = (b?.commit ?? "").slice(0, 12);
  if (b?.state === "queued") return { type: "Progressing", status: "True", reason: "BuildQueued", message: `commit ${commit} is waiting to be built: position ${b.position} of ${b.of} in the build queue` };
  if (b?.state === "failed") return { type: "Progressing", status: "False", reason: "BuildFailed", message: `commit ${commit} did not build; the deployed commit keeps running` };
  return { type: "Progressing", status: "True", reason: "Building", message: `building commit ${commit}` };
}

function reportCondition(r: GitObserved["report"]): Extra[] {
  if (!r) return [];
  const what = `${r.commitState} for ${r.sha.slice(0, 12)}`;
  if (r.state === "reported") return [{ type: "CommitStatusReported", status: "True", reason: "Reported", message: what }];
  const retry = r.state === "retrying" ? `retrying (attempt ${r.attempt})` : "gave up";
  return [{ type: "CommitStatusReported", status: "False", reason: "ProviderUnavailable", message: `${what}: ${r.error}; ${retry}` }];
}

/** The labels every replica container carries, as a selector: the Scale subresource's `status.selector`. */
function replicaSelector(app: ResourceObject): string {
  return `${LABEL.project}=${app.metadata.namespace ?? ""},${LABEL.kind}=Application,${LABEL.name}=${app.metadata.name}`;
}

function countFields(c: ReplicaCounts, desired: number): Record<string, unknown> {
  return {
    replicas: c.replicas,
    updatedReplicas: c.updatedReplicas,
    readyReplicas: c.readyReplicas,
    availableReplicas: c.availableReplicas,
    unavailableReplicas: c.unavailableReplicas,
    readySummary: `${c.readyReplicas}/${desired}`,
    endpoints: c.endpoints,
  };
}

/** Counts carried over from the last status when this reconcile could not look (an early failure). */
function staleCounts(previous: Record<string, unknown>, desired: number): ReplicaCounts {
  const n = (k: string): number => (typeof previous[k] === "number" ? (previous[k] as number) : 0);
  const available = n("availableReplicas");
  return {
    replicas: n("replicas"),
    updatedReplicas: n("updatedReplicas"),
    readyReplicas: n("readyReplicas"),
    availableReplicas: available,
    unavailableReplicas: Math.max(desired - available, 0),
    updatedReady: 0,
    endpoints: Array.isArray(previous.endpoints) ? (previous.endpoints as string[]) : [],
  };
}

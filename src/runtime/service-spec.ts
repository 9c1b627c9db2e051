/**
 * An Application as a Swarm service (issue 18, ADR 0025): a pure function of the runtime spec,
 * so it can be tested as text and hashed. What the container runtime sets per container is set
 * here once for every task; what Swarm does itself (placing, updating, rolling back) is
 * configured, not reimplemented.
 */
import { createHash } from "node:crypto";
import { parseDurationMs } from "../core/duration.js";
import type { PlacementSpec } from "../core/specs.js";
import { configHash, healthConfig, limits, type AppRuntimeSpec } from "./container-spec.js";
import { LABEL, ownerLabels, volumeName } from "./labels.js";
import { serviceName, type RolloutConfig, type ServiceSpec } from "./swarm.js";

export const SERVICE_HASH = "berth.dev/service-hash";

export interface ServiceOptions {
  replicas: number;
  graceSeconds: number;
  strategy: { type: "RollingUpdate" | "Recreate"; maxSurge: number; maxUnavailable: number };
  placement?: PlacementSpec;
  network: string;
}

/** The tasks' config hash: the container config and where it may run (a change restarts tasks). */
export function taskHash(runtime: AppRuntimeSpec, placement: PlacementSpec | undefined): string {
  return createHash("sha256").update(`${configHash(runtime)}\n${JSON.stringify(placement ?? {})}`).digest("hex").slice(0, 16);
}

function restartCondition(p: string | undefined): ServiceSpec["TaskTemplate"]["RestartPolicy"] {
  if (p === "no") return { Condition: "none" };
  if (p === "on-failure") return { Condition: "on-failure", MaxAttempts: 5 };
  return { Condition: "any" };
}

/**
 * How long Swarm watches each updated task for a failure: a healthcheck's start period plus
 * the checks it takes to call a task unhealthy, at least 2 s (a task that dies at start), at
 * most 60 s.
 */
export function monitorMs(runtime: AppRuntimeSpec): number {
  const h = runtime.healthcheck;
  if (!h) return 2000;
  const window = parseDurationMs(h.startPeriod, 0) + parseDurationMs(h.interval, 10_000) * (h.retries ?? 3);
  return Math.min(Math.max(window, 2000), 60_000);
}

/** A fixed host port can be bound by one task per node: its update must stop the old task first. */
function fixedPort(runtime: AppRuntimeSpec, replicas: number): boolean {
  return replicas === 1 && runtime.ports.some((p) => !!p.publish?.hostPort);
}

/** RollingUpdate with surge → start-first; without → stop-first; Recreate → all at once, stop-first. */
export function rolloutConfig(runtime: AppRuntimeSpec, o: ServiceOptions): RolloutConfig {
  const monitor = monitorMs(runtime) * 1_000_000;
  if (o.strategy.type === "Recreate") return { Parallelism: 0, Order: "stop-first", FailureAction: "rollback", Monitor: monitor, MaxFailureRatio: 0 };
  const surge = o.strategy.maxSurge > 0 && !fixedPort(runtime, o.replicas);
  const parallelism = Math.max(1, surge ? o.strategy.maxSurge : o.strategy.maxUnavailable);
  return { Parallelism: parallelism, Order: surge ? "start-first" : "stop-first", FailureAction: "rollback", Monitor: monitor, MaxFailureRatio: 0 };
}

function placementOf(p: PlacementSpec | undefined): ServiceSpec["TaskTemplate"]["Placement"] {
  return {
    Constraints: [...(p?.constraints ?? [])],
    Preferences: (p?.preferences ?? []).map((x) => ({ Spread: { SpreadDescriptor: x.spread } })),
    ...(p?.maxReplicasPerNode ? { MaxReplicas: p.maxReplicasPerNode } : {}),
  };
}

/**
 * Host-mode ports: without IPVS (this project's CI kernel has none) the routing mesh cannot
 * work, so every task publishes on its own node, on a free port unless one is fixed.
 */
function endpointOf(runtime: AppRuntimeSpec, replicas: number): ServiceSpec["EndpointSpec"] {
  return {
    Mode: "dnsrr",
    Ports: runtime.ports.map((p) => ({
      Protocol: p.protocol === "udp" ? ("udp" as const) : ("tcp" as const),
      TargetPort: p.containerPort,
      PublishMode: "host" as const,
      ...(p.publish?.hostPort && replicas === 1 ? { PublishedPort: p.publish.hostPort } : {}),
    })),
  };
}

/** The service of an Application, its tasks labelled with `hash` like the docker runtime's containers. */
export function serviceSpecFor(runtime: AppRuntimeSpec, hash: string, o: ServiceOptions): ServiceSpec {
  const owner = ownerLabels("Application", runtime.project, runtime.name, runtime.uid);
  const rollout = rolloutConfig(runtime, o);
  const health = healthConfig(runtime);
  const lim = limits(runtime);
  const spec: ServiceSpec = {
    Name: serviceName(runtime.project, runtime.name),
    Labels: { ...owner, [LABEL.configHash]: hash },
    TaskTemplate: {
      ContainerSpec: {
        Image: runtime.image,
        // As the docker runtime's Cmd: command and args replace the image's CMD, not its ENTRYPOINT.
        ...(runtime.command?.length || runtime.args?.length ? { Args: [...(runtime.command ?? []), ...(runtime.args ?? [])] } : {}),
        Env: Object.entries(runtime.env).map(([k, v]) => `${k}=${v}`),
        Labels: { ...owner, [LABEL.configHash]: hash },
        ...(health ? { Healthcheck: health } : {}),
        StopGracePeriod: o.graceSeconds * 1_000_000_000,
        Init: true,
        Mounts: runtime.volumes.map((v) => ({ Type: "volume" as const, Source: volumeName(runtime.project, v.name), Target: v.mountPath })),
      },
      Resources: { Limits: { ...(lim.Memory ? { MemoryBytes: lim.Memory } : {}), ...(lim.NanoCpus ? { NanoCPUs: lim.NanoCpus } : {}) } },
      RestartPolicy: restartCondition(runtime.restartPolicy),
      Placement: placementOf(o.placement),
      Networks: [{ Target: o.network, Aliases: [runtime.name, ...(runtime.aliases ?? [])] }],
    },
    Mode: { Replicated: { Replicas: o.replicas } },
    UpdateConfig: rollout,
    RollbackConfig: { ...rollout, FailureAction: "pause" },
    EndpointSpec: endpointOf(runtime, o.replicas),
  };
  spec.Labels[SERVICE_HASH] = serviceHash(spec);
  return spec;
}

/** Everything of a service spec but its replica count: a change is an update, not a scale. */
export function serviceHash(spec: ServiceSpec): string {
  const { Mode: _m, Labels, ...rest } = spec;
  const { [SERVICE_HASH]: _h, ...labels } = Labels;
  return createHash("sha256").update(JSON.stringify({ ...rest, Labels: labels })).digest("hex").slice(0, 16);
}

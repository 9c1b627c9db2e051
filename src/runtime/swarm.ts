/**
 * The Swarm runtime (issue 18, ADR 0025): what the Application reconciler may do to a Docker
 * Swarm. Service-level, not container-level: an Application is one replicated service whose
 * tasks Swarm places, updates and rolls back itself. Two implementations: `DockerSwarm`
 * (dockerode, the manager this process talks to) and `FakeSwarm` (in memory, for unit tests).
 *
 * Like the container driver, a swarm driver is scoped to one Berth installation: it stamps
 * `berth.dev/instance` on every service and task it creates and adds it to every query.
 */

/** The parts of a Docker ServiceSpec Berth writes (the engine adds its defaults to the rest). */
export interface ServiceSpec {
  Name: string;
  Labels: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: {
      Image: string;
      Args?: string[];
      Env: string[];
      Labels: Record<string, string>;
      Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; Retries?: number; StartPeriod?: number };
      StopGracePeriod: number;
      Init: boolean;
      Mounts: { Type: "volume"; Source: string; Target: string }[];
    };
    Resources: { Limits: { MemoryBytes?: number; NanoCPUs?: number } };
    RestartPolicy: { Condition: "none" | "on-failure" | "any"; MaxAttempts?: number };
    Placement: { Constraints: string[]; Preferences: { Spread: { SpreadDescriptor: string } }[]; MaxReplicas?: number };
    Networks: { Target: string; Aliases: string[] }[];
  };
  Mode: { Replicated: { Replicas: number } };
  UpdateConfig: RolloutConfig;
  RollbackConfig: RolloutConfig;
  EndpointSpec: { Mode: "dnsrr" | "vip"; Ports: { Protocol: "tcp" | "udp"; TargetPort: number; PublishMode: "host" | "ingress"; PublishedPort?: number }[] };
}

export interface RolloutConfig {
  Parallelism: number;
  Order: "start-first" | "stop-first";
  FailureAction: "rollback" | "pause" | "continue";
  /** Nanoseconds each updated task is watched before the next batch; a failure within it fails the update. */
  Monitor: number;
  MaxFailureRatio: number;
}

/** A service as one list call sees it. */
export interface ObservedService {
  id: string;
  /** The object version an update must name (Swarm's optimistic lock). */
  version: number;
  name: string;
  labels: Record<string, string>;
  spec: ServiceSpec;
  /** Swarm's own rollout: updating, paused, completed, rollback_started, rollback_paused, rollback_completed. */
  update?: { state: string; message: string };
}

/** One task (a slot's container on a node), current or kept in Swarm's history. */
export interface ObservedTask {
  id: string;
  serviceId: string;
  slot: number;
  nodeId: string;
  /** What Swarm wants: running, shutdown, … */
  desiredState: string;
  /** Where it is: new, pending, assigned, accepted, preparing, starting, running, complete, shutdown, failed, rejected, orphaned. */
  state: string;
  message: string;
  error?: string;
  containerId?: string;
  /** The config hash its container carries (berth.dev/config-hash). */
  hash: string;
  /** Host-mode published ports of the task. */
  ports: { containerPort: number; hostPort: number }[];
  createdAt: string;
}

export interface SwarmNode {
  id: string;
  hostname: string;
  /** The address other nodes (and a router on another node) reach it at. */
  addr: string;
  /** ready, down, unknown, disconnected. */
  state: string;
  /** active, pause, drain. */
  availability: string;
}

export interface SwarmDriver {
  readonly instance: string;
  /** Whether the engine is a manager of an active swarm, and its node id. */
  status(): Promise<{ active: boolean; manager: boolean; nodeId?: string }>;
  /** Services of this installation carrying all of `labels`. */
  listServices(labels: Record<string, string>): Promise<ObservedService[]>;
  createService(spec: ServiceSpec): Promise<string>;
  updateService(id: string, version: number, spec: ServiceSpec): Promise<void>;
  /** Removes a service; one already gone is fine. */
  removeService(id: string): Promise<void>;
  listTasks(serviceId: string): Promise<ObservedTask[]>;
  listNodes(): Promise<SwarmNode[]>;
  /** An attachable overlay network of this installation; an existing one of that name is kept. */
  ensureOverlay(name: string, labels: Record<string, string>): Promise<void>;
  overlayExists(name: string): Promise<boolean>;
  /** Removes this installation's overlay; false when one of that name is someone else's (left alone). */
  removeOverlay(name: string): Promise<boolean>;
}

/** Whether the engine manages an active swarm; an engine that does not answer manages none. */
export async function isSwarmManager(swarm: SwarmDriver | undefined): Promise<boolean> {
  if (!swarm) return false;
  return swarm.status().then((s) => s.active && s.manager, () => false);
}

/** The overlay network of a Project whose runtime is swarm. */
export function overlayName(project: string): string {
  return `berth-${project}-swarm`;
}

/** The service of an Application. */
export function serviceName(project: string, name: string): string {
  return `berth-${project}-${name}`;
}

/** Task states after which a task never runs again. */
const FINAL = new Set(["complete", "shutdown", "failed", "rejected", "orphaned", "remove"]);

/** Whether a task is (or may become) one of the service's running replicas. */
export function isLiveTask(t: ObservedTask): boolean {
  return !FINAL.has(t.state) && (t.desiredState === "running" || t.state === "running");
}

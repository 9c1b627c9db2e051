import type { Readable, Writable } from "node:stream";
import type Docker from "dockerode";
import type { RegistryAuth } from "./registry-auth.js";

/**
 * The runtime driver: what reconcilers, sources and API handlers may do to the container
 * engine. Two implementations: `DockerDriver` (dockerode, one host) and `FakeDriver` (in
 * memory, for fast reconciler tests). Nothing outside runtime/ sees the engine's client.
 *
 * A driver is scoped to one Berth installation: it stamps `berth.dev/instance` on everything it
 * creates and adds it to every label query, so another installation's objects are invisible.
 */
export interface RuntimeDriver {
  readonly instance: string;
  ping(): Promise<void>;

  /** Containers of this installation carrying all of `labels`. */
  listContainers(labels: Record<string, string>): Promise<ObservedContainer[]>;
  /** Creates a container (not started); its labels get this installation's instance. */
  createContainer(spec: ContainerSpec): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** SIGTERM (or the container's stop signal), then SIGKILL after `graceSeconds`; a stopped one is fine. */
  stopContainer(id: string, graceSeconds: number): Promise<void>;
  restartContainer(id: string, graceSeconds: number): Promise<void>;
  renameContainer(id: string, name: string): Promise<void>;
  /** Removes (forcefully) a container; one already gone is fine. */
  removeContainer(id: string): Promise<void>;
  /** Waits until the container is not running and answers its exit code (at once for an exited one); NotFound when it is gone. */
  waitContainer(id: string): Promise<{ exitCode: number }>;

  /** Whether the engine has the image locally. */
  imageExists(image: string): Promise<boolean>;
  /**
   * Pulls an image, with `auth` when given (the login of the image's registry, ADR 0022). A
   * refusal is a RuntimeError: RegistryAuthFailed when the registry refused the credentials (or
   * wanted some), ImageNotFound when no registry provides the image, ImagePullFailed for
   * anything else the registry answered; each message names the registry and its answer, never
   * the password.
   */
  pullImage(image: string, auth?: RegistryAuth): Promise<void>;
  /**
   * Builds an image through the engine's build API from a tar of the context; every line of the
   * build's output goes to `onLine` as it comes. Rejects with a BuildError carrying the output's tail.
   */
  buildImage(context: Readable, opts: BuildOptions, onLine: (line: string) => void): Promise<BuildResult>;

  ensureNetwork(name: string, labels: Record<string, string>): Promise<void>;
  /** Removes this installation's network; false when one of that name is someone else's (left alone). */
  removeNetwork(name: string): Promise<boolean>;
  networkExists(name: string): Promise<boolean>;

  /** Who owns the named volume, as its labels say. */
  volumeOwner(name: string): Promise<VolumeOwner>;
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  /** Removes this installation's volume; false for another's or an unlabelled one (left alone). */
  removeVolume(name: string): Promise<boolean>;

  /** Runs a command inside a container; stdout goes to `sink` when given, else is collected (bounded). */
  exec(containerId: string, cmd: string[], opts?: { sink?: Writable; timeoutMs?: number }): Promise<ExecResult>;
  /** Copies a tar stream into a container (running or stopped) at `dir`. */
  putArchive(containerId: string, tar: Readable, dir: string): Promise<void>;
  /** A tar stream of `path` in a container (running or only created; its volumes included). */
  getArchive(containerId: string, path: string): Promise<Readable>;
  /** Freezes a running container's processes (docker pause); `unpauseContainer` thaws them. */
  pauseContainer(id: string): Promise<void>;
  unpauseContainer(id: string): Promise<void>;
  /** A container's log lines (stdout and stderr), demultiplexed. */
  logs(containerId: string, opts: LogOptions): Promise<Readable>;

  /** Engine events (containers, images, volumes) until the returned function is called. */
  watchEvents(filter: EventFilter, onEvent: (e: RuntimeEvent) => void, onEnd: (error?: Error) => void): Promise<() => void>;
}

/** A container as observed through one list call: enough to plan without inspecting each. */
export interface ObservedContainer {
  id: string;
  name: string;
  labels: Record<string, string>;
  state: string; // created | running | exited | restarting | paused | dead
  health: "healthy" | "unhealthy" | "starting" | "none";
  ports: { containerPort: number; hostIp: string; hostPort: number }[];
  created: number;
}

/** What a container is made from. Docker's create options: the shape both drivers understand. */
export type ContainerSpec = Docker.ContainerCreateOptions;

export type VolumeOwner = { state: "absent" } | { state: "ours" } | { state: "unlabelled" } | { state: "other"; instance: string };

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface LogOptions {
  follow: boolean;
  /** Unix seconds; 0 for all. */
  since: number;
  tail?: number;
}

export interface EventFilter {
  /** Only objects labelled by this installation (container events of Berth's own containers). */
  ownOnly: boolean;
  types: ("container" | "image" | "volume")[];
  actions?: string[];
}

export interface RuntimeEvent {
  type: "container" | "image" | "volume" | string;
  action: string;
  id: string;
  /** The container's or volume's name, or the image reference. */
  name: string;
  labels: Record<string, string>;
}

/**
 * Why the engine refused something, in words reconcilers report as a condition reason:
 * NameConflict (a container of that name exists), PortConflict (a host port is taken),
 * InvalidSpec (e.g. no command and the image has none), ImageNotFound, RegistryAuthFailed (a
 * registry refused a pull's credentials), ImagePullFailed (a registry failed a pull otherwise),
 * VolumeConflict, DockerUnavailable (the engine does not answer); anything else is EngineError.
 */
export type RuntimeReason =
  | "NameConflict"
  | "PortConflict"
  | "InvalidSpec"
  | "ImageNotFound"
  | "RegistryAuthFailed"
  | "ImagePullFailed"
  | "VolumeConflict"
  | "DockerUnavailable"
  | "NotFound"
  | "EngineError";

export class RuntimeError extends Error {
  constructor(
    readonly reason: RuntimeReason,
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

export interface BuildOptions {
  /** The tag the image gets, e.g. berth.local/shop/api:0123456789ab. */
  tag: string;
  /** Path of the Dockerfile inside the context. */
  dockerfile: string;
  buildArgs?: Record<string, string>;
  target?: string;
  labels?: Record<string, string>;
  /** Aborts the build (the engine stops it when the request goes). */
  signal?: AbortSignal;
}

export interface BuildResult {
  imageId: string;
  /** Bytes, as `docker image inspect` reports Size. */
  size: number;
  /** Steps the engine answered from its layer cache. */
  cacheHits: number;
  steps: number;
}

/** A build that did not produce an image: the engine's own words, and the last lines of the output. */
export class BuildError extends Error {
  constructor(
    message: string,
    readonly tail: string[],
  ) {
    super(message);
  }
}

/** Reads `created`, `running`… as the planners and status functions do. */
export function isReady(c: ObservedContainer): boolean {
  return c.state === "running" && (c.health === "healthy" || c.health === "none");
}

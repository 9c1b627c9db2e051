/**
 * The spec types of the kinds, as the CRDs in crds/ define them (the CRDs are the schema; these
 * are the shapes code reads after admission has validated and defaulted an object).
 */

export type Engine = "postgresql" | "mysql" | "mongodb" | "redis";

export interface PortSpec {
  containerPort: number;
  protocol?: string;
  publish?: { hostPort?: number; hostIP?: string };
}

export interface HealthcheckSpec {
  http?: { path?: string; port: number };
  tcp?: { port: number };
  command?: string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  startPeriod?: string;
}

/** Scheduled archives of one named volume (docs/backups.md "Volume backups", ADR 0024). */
export interface VolumeBackupSpec {
  schedule?: string;
  retention?: number;
  /** A BackupDestination of the Project; absent: the local backup directory. */
  destination?: string;
  /** Pause the Application's containers that mount the volume while it is read. */
  pause?: boolean;
}

export interface AppVolumeSpec {
  name: string;
  mountPath: string;
  sizeGb?: number;
  type?: string;
  backup?: VolumeBackupSpec;
}

export interface ApplicationSpec {
  source?: { image?: string; git?: GitSourceSpec; compose?: unknown; imagePolicy?: ImagePolicySpec };
  replicas?: number;
  command?: string[];
  args?: string[];
  env?: Record<string, string>;
  secretEnv?: Record<string, string>;
  envFrom?: { databaseRef?: string }[];
  ports?: PortSpec[];
  healthcheck?: HealthcheckSpec;
  resources?: { limits?: { memory?: string; cpus?: string } };
  volumes?: AppVolumeSpec[];
  restartPolicy?: string;
  strategy?: { type?: "RollingUpdate" | "Recreate"; maxSurge?: number; maxUnavailable?: number };
  stopGracePeriod?: string;
  progressDeadline?: string;
  rollback?: "auto" | "manual";
  dependsOn?: { kind: string; name: string }[];
  suspend?: boolean;
  deletionPolicy?: "Retain" | "Delete";
  /** Scheduled jobs (docs/jobs.md). */
  jobs?: JobSpec[];
  /** Where a swarm runtime may run the replicas (docs/scale-out.md); ignored by the docker runtime. */
  placement?: PlacementSpec;
}

/** spec.strategy with its defaults: a rolling update, one replica of surge, none unavailable. */
export function strategyOf(spec: ApplicationSpec): { type: "RollingUpdate" | "Recreate"; maxSurge: number; maxUnavailable: number } {
  return { type: spec.strategy?.type ?? "RollingUpdate", maxSurge: spec.strategy?.maxSurge ?? 1, maxUnavailable: spec.strategy?.maxUnavailable ?? 0 };
}

/** spec.placement: Swarm's placement constraints, spread preferences and a per-node cap. */
export interface PlacementSpec {
  /** Swarm constraint expressions: `node.role==worker`, `node.labels.zone!=b`. */
  constraints?: string[];
  /** Spread the replicas evenly over the values of a node label or attribute. */
  preferences?: { spread: string }[];
  maxReplicasPerNode?: number;
}

/** The runtime a Project's Applications run on (ADR 0025). */
export type RuntimeKind = "docker" | "swarm";

/** spec.source.imagePolicy: the image a registry's tags choose (docs/registries.md, ADR 0022). */
export interface ImagePolicySpec {
  /** Without tag or digest: `127.0.0.1:5000/team/web`. */
  repository: string;
  /** Exactly one: the highest tag in a semver range, or the digest a tag points at now. */
  policy: { semver?: { range: string }; digest?: { tag: string } };
  /** How often the registry is asked (default 1m). */
  interval?: string;
}

/** A scheduled job of an Application: a one-off container from its current image. */
export interface JobSpec {
  name: string;
  /** Cron: five fields, six with leading seconds, or a macro (@daily). */
  schedule: string;
  timeZone?: string;
  command: string[];
  /** Default 1h. */
  timeout?: string;
  concurrencyPolicy?: "Forbid" | "Replace" | "Allow";
  suspend?: boolean;
}

export interface DatabaseSpec {
  engine: Engine;
  version: string;
  image?: string;
  storage?: { size?: string };
  config?: Record<string, string>;
  backup?: DatabaseBackupSpec;
  deletionPolicy?: "Retain" | "Delete";
  suspend?: boolean;
}

/** How many backups of a Database are kept: the newest `retention`, plus one per day/week/month (ADR 0023). */
export interface BackupRotation {
  daily?: number;
  weekly?: number;
  monthly?: number;
}

export interface DatabaseBackupSpec {
  schedule?: string;
  retention?: number;
  rotation?: BackupRotation;
  /** A BackupDestination of the same Project; the local backup directory when absent. */
  destination?: string;
}

/** An S3-compatible bucket (issue 20). `secretAccessKey` is a secret field: ciphertext in a stored spec. */
export interface BackupDestinationSpec {
  endpoint: string;
  bucket: string;
  prefix?: string;
  region: string;
  forcePathStyle?: boolean;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface DomainSpec {
  host: string;
  path?: string;
  target: { application: string; port: number };
  tls?: { enabled?: boolean; issuer?: "acme" | "internal" };
  suspend?: boolean;
}

/** A Database's generated credentials; stored only as ciphertext. */
export interface Credentials {
  engine: Engine;
  username: string;
  password: string;
  database: string;
  /** mysql only: the root account's password (the application user is not root). */
  rootPassword?: string;
}

/** spec.source.git of an Application (crds/application.yaml; docs/git-builds.md). */
export interface GitSourceSpec {
  repository: string;
  branch?: string;
  tag?: string;
  commit?: string;
  dockerfile?: string;
  context?: string;
  buildArgs?: Record<string, string>;
  target?: string;
  interval?: string;
  provider?: "github" | "gitlab" | "bitbucket" | "gitea";
  /** token is ciphertext in the store; the runtime unseals it. */
  auth?: { username?: string; token?: string };
  webhook?: { secret?: string };
  commitStatus?: { enabled?: boolean; apiUrl?: string; targetUrl?: string };
}

/**
 * A revision's spec to go back to: for a git source the commit that revision ran, pinned (the
 * branch's head is the commit being left). Other specs unchanged.
 */
export function pinGitCommit(spec: Record<string, unknown>, commit: string | null): Record<string, unknown> {
  const git = (spec as ApplicationSpec).source?.git;
  if (!git || !commit) return spec;
  const { branch: _branch, tag: _tag, ...rest } = git;
  return { ...spec, source: { git: { ...rest, commit } } };
}

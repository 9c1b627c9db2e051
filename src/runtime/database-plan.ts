import { createHash } from "node:crypto";
import type Docker from "dockerode";
import type { DockerDriver, ObservedContainer } from "./docker.js";
import { DockerError } from "./docker.js";
import { containerEnv, ENGINE_INFO, serverCommand, type Credentials, type DatabaseSpec, type Engine } from "./database-engines.js";
import { containerName, LABEL, networkName, ownerLabels, volumeName } from "./labels.js";

/** Everything the runtime needs to run one Database, credentials already decrypted. */
export interface DatabaseRuntime {
  project: string;
  name: string;
  uid: string;
  engine: Engine;
  image: string;
  credentials: Credentials;
  config?: Record<string, string>;
}

export function databaseVolumeName(project: string, name: string): string {
  return volumeName(project, `${name}-data`);
}

/** The single container of a Database; replica 0 keeps DESIGN §4's `<project>-<name>-<replica>`. */
export function databaseContainerName(project: string, name: string): string {
  return containerName(project, name, 0);
}

interface ContainerDefinition {
  image: string;
  cmd: string[];
  env: Record<string, string>;
  port: number;
  dataPath: string;
  volume: string;
  network: string;
  stopSignal: string;
}

function definition(rt: DatabaseRuntime): ContainerDefinition {
  const info = ENGINE_INFO[rt.engine];
  return {
    image: rt.image,
    cmd: serverCommand(rt.credentials, rt.config),
    env: containerEnv(rt.credentials),
    port: info.port,
    dataPath: info.dataPath,
    volume: databaseVolumeName(rt.project, rt.name),
    network: networkName(rt.project),
    stopSignal: info.stopSignal,
  };
}

/**
 * Hash of everything that needs a recreate: image, command, environment, port, mounts. The
 * environment holds the password, so only a truncated SHA-256 of it ever leaves this function.
 */
export function databaseConfigHash(rt: DatabaseRuntime): string {
  const d = definition(rt);
  const canonical = JSON.stringify({ ...d, env: Object.entries(d.env).sort(([a], [b]) => a.localeCompare(b)) });
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

/** Docker create options: project network, named volume, port published on a free 127.0.0.1 port. */
export function databaseContainerOptions(rt: DatabaseRuntime, hash: string): Docker.ContainerCreateOptions {
  const d = definition(rt);
  const port = `${d.port}/tcp`;
  return {
    name: databaseContainerName(rt.project, rt.name),
    Image: d.image,
    Cmd: d.cmd,
    Env: Object.entries(d.env).map(([k, v]) => `${k}=${v}`),
    Labels: { ...ownerLabels("Database", rt.project, rt.name, rt.uid), [LABEL.configHash]: hash, [LABEL.replica]: "0" },
    ExposedPorts: { [port]: {} },
    StopSignal: d.stopSignal,
    // A database needs time to flush on shutdown; Docker's default of 10 s is short for a busy one.
    StopTimeout: 30,
    HostConfig: {
      PortBindings: { [port]: [{ HostIp: "127.0.0.1", HostPort: "" }] },
      RestartPolicy: { Name: "unless-stopped" },
      NetworkMode: d.network,
      Mounts: [{ Type: "volume", Source: d.volume, Target: d.dataPath }],
    },
    NetworkingConfig: { EndpointsConfig: { [d.network]: {} } },
  };
}

export type DbStep =
  | { op: "create"; cause: string }
  | { op: "start"; id: string; name: string; cause: string }
  | { op: "stop"; id: string; name: string; cause: string }
  | { op: "remove"; id: string; name: string; cause: string };

export interface DbPlanInput {
  hash: string;
  suspend: boolean;
}

const running = (c: ObservedContainer): boolean => c.state === "running" || c.state === "restarting";

/** Running first, then the newest: the container worth keeping when there are several. */
function best(list: ObservedContainer[]): ObservedContainer {
  return [...list].sort((a, b) => Number(running(b)) - Number(running(a)) || b.created - a.created)[0];
}

/**
 * The pure planner for a Database: observed containers in, ordered steps out. One server owns a
 * data volume, so a changed config is Recreate (stop and remove the old, then create), never a
 * surge; suspend stops the container and keeps it (and the volume).
 */
export function planDatabase(input: DbPlanInput, observed: ObservedContainer[]): DbStep[] {
  const steps: DbStep[] = [];
  const current = observed.filter((c) => c.labels[LABEL.configHash] === input.hash);
  const stale = observed.filter((c) => c.labels[LABEL.configHash] !== input.hash);
  for (const c of stale) steps.push({ op: "remove", id: c.id, name: c.name, cause: `config-hash changed ${(c.labels[LABEL.configHash] ?? "none").slice(0, 8)} → ${input.hash.slice(0, 8)}` });
  const keep = current.length ? best(current) : undefined;
  for (const c of current) if (c !== keep) steps.push({ op: "remove", id: c.id, name: c.name, cause: "duplicate container" });
  if (input.suspend) {
    if (keep && running(keep)) steps.push({ op: "stop", id: keep.id, name: keep.name, cause: "suspended (spec.suspend: true)" });
    return steps;
  }
  if (!keep) steps.push({ op: "create", cause: stale.length ? "config changed (recreate)" : "missing container" });
  else if (keep.state === "created") steps.push({ op: "start", id: keep.id, name: keep.name, cause: "created but never started" });
  else if (keep.state === "exited" || keep.state === "dead") steps.push({ op: "start", id: keep.id, name: keep.name, cause: `container ${keep.state} (drift)` });
  return steps;
}

export function formatDbPlan(steps: DbStep[]): string {
  return steps.map((s) => (s.op === "create" ? `create  ${s.cause}` : `${s.op.padEnd(7)} ${s.name}: ${s.cause}`)).join("\n");
}

/** Stops gracefully (the engine's stop signal, then its timeout); an already stopped container is fine. */
export async function stopContainer(driver: DockerDriver, id: string, timeoutSeconds = 30): Promise<void> {
  try {
    await driver.call("container_stop", () => driver.docker.getContainer(id).stop({ t: timeoutSeconds }));
  } catch (e) {
    if (e instanceof DockerError && (e.statusCode === 304 || e.statusCode === 404)) return;
    throw e;
  }
}

/** Carries out a plan in order; it decides nothing. Removal stops first, so the engine shuts down cleanly. */
export async function executeDbPlan(driver: DockerDriver, steps: DbStep[], createOptions: () => Docker.ContainerCreateOptions, onStep?: (s: DbStep) => void): Promise<void> {
  for (const s of steps) {
    onStep?.(s);
    switch (s.op) {
      case "create": {
        const id = await driver.createContainer(createOptions());
        await driver.startContainer(id);
        break;
      }
      case "start":
        await driver.startContainer(s.id);
        break;
      case "stop":
        await stopContainer(driver, s.id);
        break;
      case "remove":
        await stopContainer(driver, s.id);
        await driver.removeContainer(s.id);
        break;
    }
  }
}

export type { DatabaseSpec };

import { createHash } from "node:crypto";
import type Docker from "dockerode";
import type { Credentials, Engine } from "../core/specs.js";
import { containerEnv, ENGINE_INFO, serverCommand } from "./database-engines.js";
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

/** How long a database server may take to shut down cleanly before it is killed. */
export const DATABASE_STOP_GRACE_SECONDS = 30;

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
    StopTimeout: DATABASE_STOP_GRACE_SECONDS,
    HostConfig: {
      PortBindings: { [port]: [{ HostIp: "127.0.0.1", HostPort: "" }] },
      RestartPolicy: { Name: "unless-stopped" },
      NetworkMode: d.network,
      Mounts: [{ Type: "volume", Source: d.volume, Target: d.dataPath }],
    },
    NetworkingConfig: { EndpointsConfig: { [d.network]: {} } },
  };
}

import { createHash } from "node:crypto";
import { parseDurationMs } from "../core/duration.js";
import type { HealthcheckSpec, PortSpec } from "../core/specs.js";
import type { ContainerSpec } from "./driver.js";
import { containerName, LABEL, networkName, ownerLabels, volumeName } from "./labels.js";

/** The parts of an Application spec the runtime needs, secrets already decrypted. */
export interface AppRuntimeSpec {
  project: string;
  name: string;
  uid: string;
  image: string;
  command?: string[];
  args?: string[];
  env: Record<string, string>;
  ports: PortSpec[];
  healthcheck?: HealthcheckSpec;
  resources?: { limits?: { memory?: string; cpus?: string } };
  volumes: { name: string; mountPath: string }[];
  restartPolicy?: string;
  restartedAt?: string;
  /** More names on the Project network (a compose service's name); absent for other Applications. */
  aliases?: string[];
}

export function parseMemory(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T|k)?$/.exec(text);
  if (!m) return undefined;
  const mult: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, K: 1e3, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.round(Number(m[1]) * (m[2] ? mult[m[2]] : 1));
}

/**
 * Docker runs the check inside the container. wget (busybox, Alpine, Debian) or curl covers
 * most images; images with neither should use a `command` healthcheck.
 */
function healthTest(h: NonNullable<AppRuntimeSpec["healthcheck"]>): string[] | undefined {
  if (h.command?.length) return ["CMD", ...h.command];
  if (h.http) {
    const url = `http://127.0.0.1:${h.http.port}${h.http.path ?? "/"}`;
    return ["CMD-SHELL", `wget -q -O /dev/null '${url}' || curl -fsS -o /dev/null '${url}' || exit 1`];
  }
  if (h.tcp) return ["CMD-SHELL", `nc -z 127.0.0.1 ${h.tcp.port} || exit 1`];
  return undefined;
}

export function healthConfig(spec: AppRuntimeSpec): ContainerSpec["Healthcheck"] | undefined {
  const h = spec.healthcheck;
  if (!h) return undefined;
  const test = healthTest(h);
  if (!test) return undefined;
  const ns = 1_000_000;
  return {
    Test: test,
    Interval: parseDurationMs(h.interval, 10_000) * ns,
    Timeout: parseDurationMs(h.timeout, 5_000) * ns,
    Retries: h.retries ?? 3,
    StartPeriod: parseDurationMs(h.startPeriod, 0) * ns,
  };
}

/** Everything that, when changed, needs the container recreated; replicas is not in it. */
export function configHash(spec: AppRuntimeSpec): string {
  const { project: _p, name: _n, uid: _u, ...rest } = spec;
  const canonical = JSON.stringify(rest, Object.keys(flatten(rest)).sort());
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

function flatten(o: unknown, out: Record<string, true> = {}): Record<string, true> {
  if (o && typeof o === "object") {
    for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
      out[k] = true;
      flatten(v, out);
    }
  }
  return out;
}

function restartPolicy(p: string | undefined): NonNullable<ContainerSpec["HostConfig"]>["RestartPolicy"] {
  switch (p) {
    case "no":
      return { Name: "no" };
    case "on-failure":
      return { Name: "on-failure", MaximumRetryCount: 5 };
    case "always":
      return { Name: "always" };
    default:
      return { Name: "unless-stopped" };
  }
}

/** The stop grace period (spec.stopGracePeriod, default 10 s) in whole seconds. */
export function stopGraceSeconds(stopGracePeriod: string | undefined): number {
  return Math.max(0, Math.ceil(parseDurationMs(stopGracePeriod, 10_000) / 1000));
}

/** Exposed ports and their bindings: on hostIP (default 127.0.0.1), fixed only for a single replica. */
function portBindings(spec: AppRuntimeSpec, replicas: number): { exposed: Record<string, object>; bindings: Record<string, { HostIp: string; HostPort: string }[]> } {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of spec.ports) {
    const key = `${p.containerPort}/${p.protocol ?? "tcp"}`;
    exposed[key] = {};
    // A fixed host port can only serve one replica; the others get free ports.
    const hostPort = p.publish?.hostPort && replicas === 1 ? String(p.publish.hostPort) : "";
    bindings[key] = [{ HostIp: p.publish?.hostIP ?? "127.0.0.1", HostPort: hostPort }];
  }
  return { exposed, bindings };
}

export function limits(spec: AppRuntimeSpec): { Memory?: number; NanoCpus?: number } {
  const memory = parseMemory(spec.resources?.limits?.memory);
  const cpus = spec.resources?.limits?.cpus ? Math.round(Number(spec.resources.limits.cpus) * 1e9) : undefined;
  return { ...(memory ? { Memory: memory } : {}), ...(cpus ? { NanoCpus: cpus } : {}) };
}

/** The create options of replica `replica`. */
export function containerCreateOptions(spec: AppRuntimeSpec, replica: number, hash: string, opts: { replicas: number; graceSeconds: number }): ContainerSpec {
  const { exposed, bindings } = portBindings(spec, opts.replicas);
  const cmd = [...(spec.command ?? []), ...(spec.args ?? [])];
  return {
    name: containerName(spec.project, spec.name, replica),
    Image: spec.image,
    ...(cmd.length ? { Cmd: cmd } : {}),
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: { ...ownerLabels("Application", spec.project, spec.name, spec.uid), [LABEL.configHash]: hash, [LABEL.replica]: String(replica) },
    ExposedPorts: exposed,
    Healthcheck: healthConfig(spec),
    // What `docker stop` by anyone gives the process: SIGTERM, then SIGKILL after the grace period.
    StopTimeout: opts.graceSeconds,
    HostConfig: {
      // Docker's init (tini) as PID 1: forwards SIGTERM to the app (which, as PID 1, would ignore
      // it unless it installs a handler) and reaps zombies, so a stop is a real graceful stop.
      Init: true,
      PortBindings: bindings,
      RestartPolicy: restartPolicy(spec.restartPolicy),
      NetworkMode: networkName(spec.project),
      ...limits(spec),
      Mounts: spec.volumes.map((v) => ({ Type: "volume" as const, Source: volumeName(spec.project, v.name), Target: v.mountPath })),
    },
    NetworkingConfig: { EndpointsConfig: { [networkName(spec.project)]: { Aliases: [spec.name, `${spec.name}-${replica}`, ...(spec.aliases ?? [])] } } },
  };
}

import { Writable } from "node:stream";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync, chmodSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { missingPrerequisite } from "./prerequisites.js";

export const BUSYBOX_IMAGE = "berth-test/busybox:1";
export const docker = new Docker({ socketPath: process.env.DOCKER_SOCKET ?? "/var/run/docker.sock" });

/**
 * Suites that need a Docker engine: skipped with a message on a user's machine without one,
 * a hard failure under CI (CI=true), where a missing engine means the setup is broken.
 */
export async function requireDocker(ctx: Mocha.Context): Promise<void> {
  try {
    await docker.ping();
  } catch (e) {
    missingPrerequisite(ctx, `no Docker engine is reachable: ${(e as Error).message}`);
  }
}

/**
 * The test image (DESIGN §3): no registry is reachable, so a root filesystem with busybox-static
 * and its applet links is imported as an image. Built once per machine and reused by tag.
 */
export async function ensureBusyboxImage(): Promise<string> {
  try {
    await docker.getImage(BUSYBOX_IMAGE).inspect();
    return BUSYBOX_IMAGE;
  } catch {
    // not built yet
  }
  const root = mkdtempSync(path.join(os.tmpdir(), "berth-busybox-"));
  try {
    for (const d of ["bin", "www", "data", "tmp", "etc", "proc", "sys", "dev"]) mkdirSync(path.join(root, d), { recursive: true });
    copyFileSync("/bin/busybox", path.join(root, "bin", "busybox"));
    chmodSync(path.join(root, "bin", "busybox"), 0o755);
    const applets = execFileSync("/bin/busybox", ["--list"]).toString().split("\n").filter((a) => a && a !== "busybox");
    for (const a of applets) symlinkSync("busybox", path.join(root, "bin", a));
    writeFileSync(path.join(root, "www", "index.html"), "berth test page\n");
    writeFileSync(path.join(root, "www", "health"), "ok\n");
    writeFileSync(path.join(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
    writeFileSync(path.join(root, "etc", "group"), "root:x:0:\nnobody:x:65534:\n");
    const tar = spawnSync("sh", ["-c", `tar -C '${root}' -c . | docker import --change 'ENV PATH=/bin' --change 'CMD ["sh"]' - ${BUSYBOX_IMAGE}`], { encoding: "utf8" });
    if (tar.status !== 0) throw new Error(`building ${BUSYBOX_IMAGE} failed: ${tar.stderr}`);
    return BUSYBOX_IMAGE;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Removes every container, network and volume a test project left behind. */
export async function cleanupProject(project: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`berth.dev/project=${project}`] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  const volumes = await docker.listVolumes({ filters: { label: [`berth.dev/project=${project}`] } });
  await Promise.all((volumes.Volumes ?? []).map((v) => docker.getVolume(v.Name).remove().catch(() => undefined)));
  const networks = await docker.listNetworks({ filters: { name: [`berth-${project}`] } });
  await Promise.all(networks.map((n) => docker.getNetwork(n.Id).remove().catch(() => undefined)));
}

export async function appContainers(project: string, name: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`berth.dev/project=${project}`, `berth.dev/name=${name}`, "berth.dev/kind=Application"] } });
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** busybox httpd with a CGI endpoint, /cgi-bin/slow, that answers after 300 ms: requests are in flight when a replica goes. */
export const SLOW_HTTP_IMAGE = "berth-test/slow-http:1";

/**
 * The Application the traffic suite and bench/traffic.ts roll: 3 slow-http replicas behind a
 * health check, maxSurge 1 / maxUnavailable 0, 5 s to stop. `env` is what a rollout changes.
 */
export function handOverSpec(env: Record<string, string>): Record<string, unknown> {
  return {
    source: { image: SLOW_HTTP_IMAGE },
    replicas: 3,
    env,
    ports: [{ containerPort: 8080 }],
    healthcheck: { http: { path: "/health", port: 8080 }, interval: "1s", timeout: "2s", retries: 3 },
    strategy: { type: "RollingUpdate", maxSurge: 1, maxUnavailable: 0 },
    stopGracePeriod: "5s",
  };
}
const SLOW_CGI = ["#!/bin/sh", '[ -n "$CONTENT_LENGTH" ] && head -c "$CONTENT_LENGTH" > /dev/null', "usleep 300000", "printf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'"].join("\n");

/** Built once per machine from the busybox image (DESIGN §3) and reused by tag. */
export async function ensureSlowHttpImage(): Promise<string> {
  try {
    await docker.getImage(SLOW_HTTP_IMAGE).inspect();
    return SLOW_HTTP_IMAGE;
  } catch {
    // not built yet
  }
  await ensureBusyboxImage();
  const c = await docker.createContainer({ Image: BUSYBOX_IMAGE, Cmd: ["sh", "-c", `mkdir -p /www/cgi-bin && printf '%s\\n' "$SCRIPT" > /www/cgi-bin/slow && chmod 755 /www/cgi-bin/slow`], Env: [`SCRIPT=${SLOW_CGI}`] });
  try {
    await c.start();
    await c.wait();
    await c.commit({ repo: SLOW_HTTP_IMAGE.split(":")[0], tag: SLOW_HTTP_IMAGE.split(":")[1], changes: 'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]' } as never);
  } finally {
    await c.remove({ force: true });
  }
  return SLOW_HTTP_IMAGE;
}

/** Runs `sh -c script` in a running container; its stdout, trimmed (throws with stderr on a non-zero exit). */
export async function execIn(container: string, script: string): Promise<string> {
  const c = docker.getContainer(container);
  const e = await c.exec({ Cmd: ["sh", "-c", script], AttachStdout: true, AttachStderr: true });
  const stream = await e.start({ hijack: true, stdin: false });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const sink = (arr: Buffer[]): Writable => new Writable({ write: (chunk, _e, cb) => (arr.push(chunk as Buffer), cb()) });
  docker.modem.demuxStream(stream, sink(out), sink(err));
  await new Promise((r) => stream.on("end", r));
  let info = await e.inspect();
  for (let i = 0; i < 50 && info.Running; i++) info = await new Promise((r) => setTimeout(() => void e.inspect().then(r), 20));
  if (info.ExitCode !== 0) throw new Error(`exec in ${container} exited with ${info.ExitCode}: ${Buffer.concat(err).toString()}`);
  return Buffer.concat(out).toString().trim();
}

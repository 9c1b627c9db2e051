/**
 * A real private registry for the registry suites (ADR 0022): Debian's docker-registry
 * (distribution 2.8) on 127.0.0.1:<free port> with htpasswd (bcrypt) auth and storage in a
 * temporary directory. Plain HTTP: the engine treats 127.0.0.0/8 registries as insecure-allowed.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import bcrypt from "bcryptjs";
import { freePort } from "../../src/store/embedded.js";
import { removeDir, tempDir } from "./berth.js";
import { docker, waitFor } from "./docker.js";
import { missingPrerequisite } from "./prerequisites.js";

export interface TestRegistry {
  /** 127.0.0.1:PORT, as image references and spec.registries name it. */
  host: string;
  username: string;
  password: string;
  /** Tags the local image `source` as HOST/`repoTag` and pushes it with the registry's login; the pushed digest. */
  push(source: string, repoTag: string): Promise<string>;
  /** The registry's own log (its words about every request). */
  log(): string;
  stop(): Promise<void>;
}

export function requireRegistry(ctx: Mocha.Context): void {
  if (spawnSync("docker-registry", ["--version"]).status !== 0) missingPrerequisite(ctx, "docker-registry is not installed (apt-get install docker-registry)");
}

function config(dir: string, port: number): string {
  return [
    "version: 0.1",
    "log: {level: info}",
    `storage: {filesystem: {rootdirectory: ${path.join(dir, "data")}}, delete: {enabled: true}}`,
    `http: {addr: "127.0.0.1:${port}"}`,
    `auth: {htpasswd: {realm: berth-test, path: ${path.join(dir, "htpasswd")}}}`,
    "",
  ].join("\n");
}

export async function startRegistry(username = "pusher", password = `pw-${Math.random().toString(36).slice(2)}-registry`): Promise<TestRegistry> {
  const dir = tempDir("berth-registry-");
  const port = await freePort();
  writeFileSync(path.join(dir, "htpasswd"), `${username}:${bcrypt.hashSync(password, 8)}\n`);
  writeFileSync(path.join(dir, "config.yml"), config(dir, port));
  let log = "";
  const child: ChildProcess = spawn("docker-registry", ["serve", path.join(dir, "config.yml")], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (b: Buffer) => (log += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (log += b.toString()));
  const host = `127.0.0.1:${port}`;
  // 401 without credentials: the registry is up and asks for them.
  await waitFor("the registry answering", async () => (await fetch(`http://${host}/v2/`).then((r) => r.status).catch(() => 0)) === 401, 20_000, 100);
  const auth = { username, password, serveraddress: host };
  return {
    host,
    username,
    password,
    log: () => log,
    push: async (source, repoTag) => {
      const [repo, tag] = repoTag.split(":");
      await docker.getImage(source).tag({ repo: `${host}/${repo}`, tag });
      const stream = await docker.getImage(`${host}/${repoTag}`).push({ authconfig: auth });
      let digest = "";
      await new Promise<void>((resolve, reject) =>
        docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()), (e: { aux?: { Digest?: string }; error?: string }) => {
          if (e.aux?.Digest) digest = e.aux.Digest;
          if (e.error) reject(new Error(e.error));
        }),
      );
      if (!digest) throw new Error(`pushing ${host}/${repoTag} reported no digest`);
      return digest;
    },
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once("exit", r)));
      removeDir(dir);
    },
  };
}

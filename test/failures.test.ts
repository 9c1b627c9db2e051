/**
 * Issue 11: every failure that stops a reconcile reaches status (a condition with a specific
 * reason), `kubectl get` (READY/REASON columns), `kubectl describe` and a Warning event; and
 * once its real cause is removed — with no API call — the object converges within 2 s.
 * Real parts only: the Docker engine, Berth in-process with its controllers, the real kubectl.
 * The resync is set far out, so convergence can only come from engine events or the retry.
 */
import { expect } from "chai";
import { execFileSync, spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { freePort } from "../src/store/embedded.js";
import { call, removeDir, startTestBerth, tempDir } from "./helpers/berth.js";
import { BUSYBOX_IMAGE, cleanupProject, docker, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const P = `fail-${process.pid}`;
const HTTPD = `berth-test/httpd-${process.pid}:1`;
const NOCMD = `berth-test/nocmd-${process.pid}:1`;
const ABSENT = `berth-test/absent-${process.pid}:1`;
const KUBECTL = "/usr/bin/kubectl";

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const code: number = await new Promise((r) => child.on("close", (c) => r(c ?? -1)));
  return { code, stdout, stderr };
}

/** An image made from the test busybox image, with a CMD (httpd) or without any. */
async function makeImage(tag: string, cmd: string[] | undefined): Promise<void> {
  const c = await docker.createContainer({ Image: BUSYBOX_IMAGE, Cmd: ["true"] });
  try {
    if (cmd) await c.commit({ repo: tag.split(":")[0], tag: tag.split(":")[1], changes: `CMD ${JSON.stringify(cmd)}` } as never);
    else execFileSync("sh", ["-c", `docker export ${c.id} | docker import - ${tag}`]);
  } finally {
    await c.remove({ force: true });
  }
}

describe("failures reach status, kubectl and events; removing the cause converges (real engine)", function () {
  this.timeout(240_000);
  let berth: TestBerth;
  let cache: string;
  const kubectl = (args: string[]) => run(KUBECTL, args, { KUBECONFIG: berth.kubeconfigPath, KUBECACHEDIR: cache });
  const get = async (name: string) => (await call(berth, "GET", `${G}/namespaces/${P}/applications/${name}`)).body;
  const readyCond = (a: any) => a?.status?.conditions?.find((c: any) => c.type === "Ready");
  const create = async (name: string, spec: Record<string, unknown>) => {
    const r = await call(berth, "POST", `${G}/namespaces/${P}/applications`, { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace: P }, spec: { source: { image: HTTPD }, replicas: 1, stopGracePeriod: "1s", ...spec } });
    expect(r.status, r.text).to.equal(201);
  };
  const waitReason = (name: string, reason: string, timeoutMs = 30_000) =>
    waitFor(`${name} Ready=False ${reason}`, async () => {
      const a = await get(name);
      return readyCond(a)?.reason === reason && a.status.observedGeneration === a.metadata.generation ? a : undefined;
    }, timeoutMs, 100);
  /** Milliseconds until Ready=True for the current generation. */
  const msToReady = async (name: string, t0: number, timeoutMs = 10_000): Promise<number> => {
    await waitFor(`${name} Ready`, async () => {
      const a = await get(name);
      return readyCond(a)?.status === "True" && a.status.observedGeneration === a.metadata.generation;
    }, timeoutMs, 50);
    return Date.now() - t0;
  };

  /** What kubectl shows: the REASON column, describe's conditions and events, and Warning events. */
  async function shownByKubectl(name: string, reason: string): Promise<void> {
    const row = await kubectl(["get", "app", name, "-n", P]);
    expect(row.code, row.stderr).to.equal(0);
    const [header, line] = row.stdout.trim().split("\n");
    const cells = line.split(/\s{2,}/);
    expect(header.split(/\s+/).slice(0, 6)).to.deep.equal(["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "PHASE", "REASON"]);
    expect(cells[5], row.stdout).to.equal(reason);
    expect(cells[1], row.stdout).to.match(/^\d+\/\d+$/);
    const desc = await kubectl(["describe", "app", name, "-n", P]);
    expect(desc.code, desc.stderr).to.equal(0);
    expect(desc.stdout).to.contain(reason);
    expect(desc.stdout).to.match(new RegExp(`Warning\\s+${reason}`));
    const events = await kubectl(["events", "-n", P, "--types=Warning", "--for", `application.berth.dev/${name}`]);
    expect(events.code, events.stderr).to.equal(0);
    expect(events.stdout).to.contain(reason);
  }

  before(async function () {
    await requireDocker(this);
    await ensureBusyboxImage();
    await makeImage(HTTPD, ["httpd", "-f", "-p", "8080", "-h", "/www"]);
    await makeImage(NOCMD, undefined);
    cache = tempDir("berth-kubecache-");
    berth = await startTestBerth({ controllers: true, resyncMs: 600_000 });
    const r = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} });
    expect(r.status, r.text).to.equal(201);
  });

  after(async () => {
    await berth?.cleanup();
    await cleanupProject(P).catch(() => undefined);
    for (const image of [HTTPD, NOCMD, ABSENT]) await docker.getImage(image).remove({ force: true }).catch(() => undefined);
    removeDir(cache ?? "");
  });

  it("NameConflict: a container Berth did not create holds the replica's name; its removal converges at once", async () => {
    const squatter = await docker.createContainer({ Image: BUSYBOX_IMAGE, Cmd: ["sleep", "300"], name: `${P}-squat-0` });
    await squatter.start();
    await create("squat", {});
    const a = await waitReason("squat", "NameConflict");
    expect(readyCond(a).message).to.contain(`${P}-squat-0`).and.contain(squatter.id);
    await shownByKubectl("squat", "NameConflict");
    // Never touched: still running, same id.
    expect((await squatter.inspect()).State.Running).to.equal(true);
    const t0 = Date.now();
    await squatter.remove({ force: true });
    const ms = await msToReady("squat", t0);
    console.log(`      NameConflict cleared → Ready in ${ms} ms`);
    expect(ms).to.be.below(2000);
  });

  it("PortConflict: a fixed host port held by a process outside Docker", async () => {
    const port = await freePort();
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(port, "127.0.0.1", () => r()));
    await create("porty", { ports: [{ containerPort: 8080, publish: { hostPort: port } }] });
    const a = await waitReason("porty", "PortConflict");
    expect(readyCond(a).message).to.contain(String(port));
    await shownByKubectl("porty", "PortConflict");
    const t0 = Date.now();
    await new Promise<void>((r) => holder.close(() => r()));
    const ms = await msToReady("porty", t0);
    console.log(`      PortConflict cleared → Ready in ${ms} ms`);
    expect(ms).to.be.below(2000);
    expect((await get("porty")).status.endpoints).to.deep.equal([`127.0.0.1:${port}`]);
  });

  it("InvalidSpec: no command and the image has none (Stalled); an image with one under that tag converges", async () => {
    await create("bare", { source: { image: NOCMD } });
    const a = await waitReason("bare", "InvalidSpec");
    expect(a.status.conditions.find((c: any) => c.type === "Stalled")).to.include({ status: "True", reason: "InvalidSpec" });
    expect(readyCond(a).message).to.contain("No command specified");
    await shownByKubectl("bare", "InvalidSpec");
    const t0 = Date.now();
    await docker.getImage(HTTPD).tag({ repo: NOCMD.split(":")[0], tag: "1" });
    const ms = await msToReady("bare", t0);
    console.log(`      InvalidSpec cleared (image re-tagged) → Ready in ${ms} ms`);
    expect(ms).to.be.below(2000);
  });

  it("ImageNotFound: the image arrives on the engine", async () => {
    await create("late", { source: { image: ABSENT } });
    await waitReason("late", "ImageNotFound");
    await shownByKubectl("late", "ImageNotFound");
    const t0 = Date.now();
    await docker.getImage(HTTPD).tag({ repo: ABSENT.split(":")[0], tag: "1" });
    const ms = await msToReady("late", t0);
    console.log(`      ImageNotFound cleared → Ready in ${ms} ms`);
    expect(ms).to.be.below(2000);
  });

  it("VolumeConflict: another installation's volume goes", async () => {
    const volume = `berth-${P}-theirs`;
    await docker.createVolume({ Name: volume, Labels: { "berth.dev/managed-by": "berth", "berth.dev/instance": "another-installation" } });
    await create("vol", { volumes: [{ name: "theirs", mountPath: "/data" }] });
    await waitReason("vol", "VolumeConflict");
    await shownByKubectl("vol", "VolumeConflict");
    const t0 = Date.now();
    await docker.getVolume(volume).remove();
    const ms = await msToReady("vol", t0);
    console.log(`      VolumeConflict cleared → Ready in ${ms} ms`);
    expect(ms).to.be.below(2000);
  });

  it("DependencyNotReady: the dependency becomes Ready by itself (its own blocker goes)", async () => {
    const squatter = await docker.createContainer({ Image: BUSYBOX_IMAGE, Cmd: ["sleep", "300"], name: `${P}-base-0` });
    await squatter.start();
    await create("base", {});
    await waitReason("base", "NameConflict");
    await create("top", { dependsOn: [{ kind: "Application", name: "base" }] });
    const a = await waitReason("top", "DependencyNotReady");
    expect(readyCond(a).message).to.contain("Application/base");
    await shownByKubectl("top", "DependencyNotReady");
    const t0 = Date.now();
    await squatter.remove({ force: true });
    const ms = await msToReady("top", t0, 15_000);
    console.log(`      DependencyNotReady cleared → Ready in ${ms} ms`);
    expect(ms).to.be.below(2000);
  });

  it("RolloutFailed: past its progress deadline with nothing to roll back to; the new replica turning healthy converges", async () => {
    await create("roll", { healthcheck: { http: { path: "/health", port: 8080 }, interval: "1s", timeout: "1s", retries: 1 }, ports: [{ containerPort: 8080 }] });
    await msToReady("roll", Date.now(), 30_000);
    // The new config checks a path the image lacks: it never becomes healthy.
    const p = await call(berth, "PATCH", `${G}/namespaces/${P}/applications/roll`, { spec: { rollback: "manual", progressDeadline: "4s", healthcheck: { http: { path: "/ready-v2", port: 8080 }, interval: "1s", timeout: "1s", retries: 1 } } }, { contentType: "application/merge-patch+json" });
    expect(p.status, p.text).to.equal(200);
    const a = await waitReason("roll", "RolloutFailed", 60_000);
    expect(a.status.conditions.find((c: any) => c.type === "Stalled")).to.include({ status: "True", reason: "ProgressDeadlineExceeded" });
    expect(a.status.availableReplicas, "the old replica still serves").to.equal(1);
    const row = await kubectl(["describe", "app", "roll", "-n", P]);
    expect(row.stdout).to.contain("RolloutFailed").and.match(/Warning\s+ProgressDeadlineExceeded/);
    const fresh = (await docker.listContainers({ filters: { label: [`berth.dev/project=${P}`, "berth.dev/name=roll"] } })).find((c) => c.Names[0] === `/${P}-roll-0`)!;
    const t0 = Date.now();
    await (await docker.getContainer(fresh.Id).exec({ Cmd: ["sh", "-c", "echo ok > /www/ready-v2"] })).start({});
    const ms = await msToReady("roll", t0, 10_000);
    console.log(`      RolloutFailed cleared (new replica healthy) → Ready in ${ms} ms`);
    expect(ms).to.be.below(2000 + 1000 /* one healthcheck interval: the engine must see it healthy first */);
  });

  it("kubectl wait for Ready right after a spec change returns only once that change runs (jsonpath and condition)", async () => {
    const health = { http: { path: "/health", port: 8080 }, interval: "1s", timeout: "1s", retries: 1 };
    await create("waited", { replicas: 2, healthcheck: health, ports: [{ containerPort: 8080 }], env: { V: "1" } });
    await msToReady("waited", Date.now(), 30_000);
    const p = await call(berth, "PATCH", `${G}/namespaces/${P}/applications/waited`, { spec: { env: { V: "2" } } }, { contentType: "application/merge-patch+json" });
    expect(p.status, p.text).to.equal(200);
    const generation = p.body.metadata.generation;
    // Started the moment the write is answered, as a CI step would: nothing may say Ready for the old spec.
    const t0 = Date.now();
    const waits = ['--for=jsonpath={.status.conditions[?(@.type=="Ready")].status}=True', "--for=condition=Ready"].map(async (cond) => {
      const r = await kubectl(["wait", cond, "application/waited", "-n", P, "--timeout=60s"]);
      expect(r.code, `${cond}: ${r.stderr}`).to.equal(0);
      // What runs the moment kubectl returns: the new spec, on every replica, all ready.
      const a = await get("waited");
      const running = await docker.listContainers({ filters: { label: [`berth.dev/project=${P}`, "berth.dev/name=waited"] } });
      const envs = await Promise.all(running.map(async (c) => (await docker.getContainer(c.Id).inspect()).Config.Env));
      return { cond, ms: Date.now() - t0, a, hashes: running.map((c) => c.Labels["berth.dev/config-hash"]), envs };
    });
    for (const w of await Promise.all(waits)) {
      expect(w.a.status.observedGeneration, w.cond).to.equal(generation);
      expect(w.a.status.readyReplicas, w.cond).to.equal(2);
      expect(w.a.status.updatedReplicas, w.cond).to.equal(2);
      expect(w.hashes, `${w.cond}: every container on the new config`).to.deep.equal([w.a.status.configHash, w.a.status.configHash]);
      for (const env of w.envs) expect(env, w.cond).to.include("V=2");
      console.log(`      kubectl wait ${w.cond.split("=")[0]}=${w.cond.includes("jsonpath") ? "jsonpath" : "condition"} returned after ${w.ms} ms, on generation ${generation} with both replicas replaced`);
    }
  });

  it("DockerUnavailable: a Berth whose engine stops answering reports it, and converges when it answers again", async () => {
    const dir = tempDir("berth-proxy-");
    const socket = path.join(dir, "docker.sock");
    // A real unix-socket relay in front of the engine, so the engine itself keeps running for everyone else.
    let proxy: net.Server | undefined;
    const live = new Set<net.Socket>();
    const open = (): Promise<void> =>
      new Promise((resolve) => {
        proxy = net.createServer((client) => {
          const upstream = net.connect("/var/run/docker.sock");
          live.add(client);
          client.pipe(upstream).pipe(client);
          const end = (): void => void (client.destroy(), upstream.destroy(), live.delete(client));
          client.on("error", end);
          client.on("close", end);
          upstream.on("error", end);
          upstream.on("close", end);
        });
        proxy.listen(socket, () => resolve());
      });
    // Like an engine that went away: no new connections, and the open ones (event streams) cut.
    const close = (): Promise<void> =>
      new Promise((resolve) => {
        for (const c of live) c.destroy();
        if (proxy) proxy.close(() => resolve());
        else resolve();
        proxy = undefined;
      });
    await open();
    // Only this Berth talks through the relay; assigning undefined back would leave the string
    // "undefined" in the environment of every later suite's berth serve.
    const saved = process.env.DOCKER_SOCKET;
    process.env.DOCKER_SOCKET = socket;
    let other: Awaited<ReturnType<typeof startTestBerth>>;
    try {
      other = await startTestBerth({ controllers: true, resyncMs: 600_000 });
    } finally {
      if (saved === undefined) delete process.env.DOCKER_SOCKET;
      else process.env.DOCKER_SOCKET = saved;
    }
    const NS = `${P}-eng`;
    try {
      await close();
      const r = await call(other, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: NS }, spec: {} });
      expect(r.status, r.text).to.equal(201);
      const p = await waitFor("Project DockerUnavailable", async () => {
        const o = (await call(other, "GET", `${G}/projects/${NS}`)).body;
        return o.status?.conditions?.find((c: any) => c.type === "Ready" && c.reason === "DockerUnavailable") ? o : undefined;
      }, 30_000, 100);
      expect(p.status.conditions.find((c: any) => c.type === "Ready").message).to.contain("does not answer");
      const ev = (await call(other, "GET", `/api/v1/events?fieldSelector=involvedObject.name=${NS}`)).body.items;
      expect(ev.map((e: any) => `${e.type} ${e.reason}`)).to.include("Warning DockerUnavailable");
      const t0 = Date.now();
      await open();
      await waitFor("Project Ready again", async () => (await call(other, "GET", `${G}/projects/${NS}`)).body.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"), 10_000, 50);
      const ms = Date.now() - t0;
      console.log(`      DockerUnavailable cleared → Ready in ${ms} ms`);
      expect(ms).to.be.below(2000);
    } finally {
      await other.cleanup();
      await close();
      await cleanupProject(NS).catch(() => undefined);
      removeDir(dir);
    }
  });
});

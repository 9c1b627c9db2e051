import { expect } from "chai";
import http from "node:http";
import { call, startTestBerth } from "./helpers/berth.js";
import { appContainers, BUSYBOX_IMAGE, cleanupProject, docker, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const P = `ctl-${process.pid}`;

function webApp(name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: "berth.dev/v1alpha1",
    kind: "Application",
    metadata: { name, namespace: P },
    spec: {
      source: { image: BUSYBOX_IMAGE },
      replicas: 3,
      command: ["httpd", "-f", "-p", "8080", "-h", "/www"],
      env: { GREETING: "hello" },
      ports: [{ containerPort: 8080 }],
      healthcheck: { http: { path: "/health", port: 8080 }, interval: "1s", timeout: "3s", retries: 3 },
      ...spec,
    },
  };
}

function httpGet(endpoint: string, path = "/"): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(`http://${endpoint}${path}`, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => {
      req.destroy();
      resolve(0);
    });
  });
}

async function getApp(berth: TestBerth, name: string): Promise<any> {
  return (await call(berth, "GET", `${G}/namespaces/${P}/applications/${name}`)).body;
}

function ready(app: any): boolean {
  return app?.status?.observedGeneration === app?.metadata?.generation && app?.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");
}

async function waitReady(berth: TestBerth, name: string, timeoutMs = 60_000): Promise<any> {
  return waitFor(`${name} Ready`, async () => {
    const a = await getApp(berth, name);
    return ready(a) ? a : undefined;
  }, timeoutMs);
}

async function patch(berth: TestBerth, name: string, body: unknown): Promise<void> {
  const r = await call(berth, "PATCH", `${G}/namespaces/${P}/applications/${name}`, body, { contentType: "application/merge-patch+json" });
  expect(r.status, r.text).to.equal(200);
}

describe("control loop on a real Docker engine", function () {
  this.timeout(180_000);
  let berth: TestBerth;

  before(async function () {
    await requireDocker(this);
    await ensureBusyboxImage();
    berth = await startTestBerth({ controllers: true, resyncMs: 3000 });
    const r = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} });
    expect(r.status, r.text).to.equal(201);
  });

  after(async () => {
    await berth?.cleanup();
    await cleanupProject(P).catch(() => undefined);
  });

  it("runs 3 healthy replicas with labels, network and published endpoints, and reports Ready", async () => {
    await call(berth, "POST", `${G}/namespaces/${P}/applications`, webApp("web", { secretEnv: { API_KEY: "k-123" } }));
    const app = await waitReady(berth, "web");
    expect(app.status.readyReplicas).to.equal(3);
    expect(app.status.phase).to.equal("running");
    expect(app.status.endpoints).to.have.length(3);
    for (const ep of app.status.endpoints) {
      expect(ep).to.match(/^127\.0\.0\.1:\d+$/);
      expect(await httpGet(ep)).to.equal(200);
    }
    const containers = await appContainers(P, "web");
    expect(containers.map((c) => c.Names[0]).sort()).to.deep.equal([`/${P}-web-0`, `/${P}-web-1`, `/${P}-web-2`]);
    const labels = containers[0].Labels;
    expect(labels["berth.dev/managed-by"]).to.equal("berth");
    expect(labels["berth.dev/owner-uid"]).to.equal(app.metadata.uid);
    expect(labels["berth.dev/config-hash"]).to.match(/^[0-9a-f]{16}$/);
    const inspect = await docker.getContainer(containers[0].Id).inspect();
    expect(inspect.Config.Env).to.include("API_KEY=k-123");
    expect(Object.keys(inspect.NetworkSettings.Networks)).to.deep.equal([`berth-${P}`]);
    const events = await call(berth, "GET", `/api/v1/namespaces/${P}/events`);
    expect(events.body.items.some((e: any) => e.reason === "Ready" && e.involvedObject.name === "web")).to.equal(true);
  });

  it("replaces a container removed with docker rm -f, without any API call", async () => {
    const [victim] = (await appContainers(P, "web")).filter((c) => c.Names[0] === `/${P}-web-1`);
    const t0 = Date.now();
    await docker.getContainer(victim.Id).remove({ force: true });
    await waitFor("a replacement for replica 1", async () => (await appContainers(P, "web")).find((c) => c.Names[0] === `/${P}-web-1` && c.Id !== victim.Id && c.State === "running"), 30_000, 50);
    const delay = Date.now() - t0;
    console.log(`      drift repair delay after docker rm -f: ${delay} ms`);
    await waitReady(berth, "web");
    const metrics = await call(berth, "GET", "/metrics");
    expect(metrics.text).to.match(/controller_runtime_reconcile_total\{controller="application",result="success"\} \d+/);
  });

  it("starts a container stopped with docker stop", async () => {
    const [victim] = (await appContainers(P, "web")).filter((c) => c.Names[0] === `/${P}-web-2`);
    await docker.getContainer(victim.Id).stop({ t: 1 });
    await waitFor("replica 2 running again", async () => (await appContainers(P, "web")).find((c) => c.Id === victim.Id && c.State === "running"), 30_000);
    const metrics = await call(berth, "GET", "/metrics");
    expect(metrics.text).to.match(/berth_drift_repairs_total\{kind="Application",cause="stopped"\} [1-9]/);
  });

  it("rolls out an env change replica by replica without ever dropping below 3 ready (maxUnavailable 0)", async () => {
    await waitFor("3 healthy replicas before the rollout", async () => (await appContainers(P, "web")).filter((c) => c.State === "running" && /\(healthy\)/.test(c.Status)).length === 3);
    const before = new Set((await appContainers(P, "web")).map((c) => c.Id));
    let minReady = Infinity;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const list = await appContainers(P, "web");
        const readyCount = list.filter((c) => c.State === "running" && /\(healthy\)/.test(c.Status)).length;
        minReady = Math.min(minReady, readyCount);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await patch(berth, "web", { spec: { env: { GREETING: "bonjour" } } });
    const app = await waitReady(berth, "web", 90_000);
    sampling = false;
    await sampler;
    const after = await appContainers(P, "web");
    expect(after).to.have.length(3);
    expect(after.some((c) => before.has(c.Id))).to.equal(false);
    expect(minReady).to.be.at.least(3);
    const inspect = await docker.getContainer(after[0].Id).inspect();
    expect(inspect.Config.Env).to.include("GREETING=bonjour");
    const deployments = await berth.dataSource.query(`SELECT status, metadata->>'configHash' AS hash FROM deployments WHERE application_id = $1 ORDER BY started_at`, [app.metadata.uid]);
    expect(deployments.map((d: any) => d.status)).to.deep.equal(["success", "success"]);
    expect(deployments[1].hash).to.equal(app.status.configHash);
    const logs = await berth.dataSource.query(`SELECT message FROM deployment_logs l JOIN deployments d ON d.id = l.deployment_id WHERE d.application_id = $1`, [app.metadata.uid]);
    expect(logs.map((l: any) => l.message).join("\n")).to.contain("config-hash changed");
  });

  it("scales 3 → 1 → 2, removing the highest replicas first", async () => {
    await patch(berth, "web", { spec: { replicas: 1 } });
    await waitReady(berth, "web");
    expect((await appContainers(P, "web")).map((c) => c.Names[0])).to.deep.equal([`/${P}-web-0`]);
    await patch(berth, "web", { spec: { replicas: 2 } });
    const app = await waitReady(berth, "web");
    expect(app.status.readyReplicas).to.equal(2);
    expect((await appContainers(P, "web")).map((c) => c.Names[0]).sort()).to.deep.equal([`/${P}-web-0`, `/${P}-web-1`]);
  });

  it("keeps volume data across a recreate", async () => {
    await call(berth, "POST", `${G}/namespaces/${P}/applications`, webApp("store", { replicas: 1, volumes: [{ name: "data", mountPath: "/data", sizeGb: 1 }] }));
    await waitReady(berth, "store");
    const [first] = await appContainers(P, "store");
    const exec = async (id: string, cmd: string): Promise<string> => {
      const e = await docker.getContainer(id).exec({ Cmd: ["sh", "-c", cmd], AttachStdout: true, AttachStderr: true });
      const stream = await e.start({});
      const chunks: Buffer[] = [];
      await new Promise((r) => {
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", r);
      });
      // Docker multiplexes stdout/stderr with 8-byte binary frame headers; keep printable text.
      return Buffer.concat(chunks).toString("latin1").split("").filter((ch) => ch.charCodeAt(0) >= 32 || ch === "\n").join("");
    };
    await exec(first.Id, "echo persisted > /data/file");
    await patch(berth, "store", { spec: { env: { GREETING: "changed" } } });
    await waitFor("store recreated", async () => {
      const list = await appContainers(P, "store");
      return list.length === 1 && list[0].Id !== first.Id && /\(healthy\)/.test(list[0].Status);
    });
    const [second] = await appContainers(P, "store");
    expect(await exec(second.Id, "cat /data/file")).to.contain("persisted");
    const rows = await berth.dataSource.query(`SELECT name, mount_path, size_gb FROM volumes WHERE name = $1`, [`berth-${P}-data`]);
    expect(rows[0]).to.deep.include({ mount_path: "/data", size_gb: 1 });
  });

  it("removes a labelled container whose owner does not exist (orphan)", async () => {
    const instance = (await berth.dataSource.query(`SELECT id FROM berth_installation`))[0].id;
    const orphan = await docker.createContainer({
      Image: BUSYBOX_IMAGE,
      Cmd: ["sleep", "300"],
      name: `${P}-ghost-0`,
      Labels: { "berth.dev/managed-by": "berth", "berth.dev/instance": instance, "berth.dev/kind": "Application", "berth.dev/project": P, "berth.dev/name": "ghost", "berth.dev/owner-uid": "00000000-0000-4000-8000-000000000000", "berth.dev/replica": "0" },
    });
    await orphan.start();
    await waitFor("the orphan removed", async () => (await docker.listContainers({ all: true, filters: { id: [orphan.id] } })).length === 0, 30_000);
  });

  it("reports ImageNotFound for an image the engine does not have, without crash-looping", async () => {
    await call(berth, "POST", `${G}/namespaces/${P}/applications`, webApp("noimg", { replicas: 1, source: { image: "registry.invalid/nothing:9" } }));
    const app = await waitFor("ImageNotFound", async () => {
      const a = await getApp(berth, "noimg");
      return a.status?.conditions?.find((c: any) => c.type === "Ready" && c.reason === "ImageNotFound") ? a : undefined;
    });
    expect(app.status.phase).to.equal("failed");
    expect(await appContainers(P, "noimg")).to.have.length(0);
  });

  it("deletes an Application's containers, then the object (finalizer)", async () => {
    const d = await call(berth, "DELETE", `${G}/namespaces/${P}/applications/web`);
    expect(d.body.metadata.finalizers).to.include("berth.dev/runtime");
    await waitFor("web gone", async () => (await call(berth, "GET", `${G}/namespaces/${P}/applications/web`)).status === 404);
    expect(await appContainers(P, "web")).to.have.length(0);
  });

  it("keeps a Retain volume after the Application is deleted", async () => {
    await call(berth, "DELETE", `${G}/namespaces/${P}/applications/store`);
    await waitFor("store gone", async () => (await call(berth, "GET", `${G}/namespaces/${P}/applications/store`)).status === 404);
    const vol = await docker.getVolume(`berth-${P}-data`).inspect();
    expect(vol.Name).to.equal(`berth-${P}-data`);
    const rows = await berth.dataSource.query(`SELECT application_id FROM volumes WHERE name = $1`, [`berth-${P}-data`]);
    expect(rows[0].application_id).to.equal(null);
  });

  it("removes its own Project network on delete, and leaves one another installation made", async () => {
    const own = `${P}-own`;
    const shared = `${P}-shared`;
    // The shared name was created first by "another Berth": same fixed name, another instance id.
    const foreign = await docker.createNetwork({ Name: `berth-${shared}`, Labels: { "berth.dev/managed-by": "berth", "berth.dev/instance": "another-installation" } });
    try {
      for (const name of [own, shared]) {
        const r = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name }, spec: {} });
        expect(r.status, r.text).to.equal(201);
        await waitFor(`${name} Ready`, async () => (await call(berth, "GET", `${G}/projects/${name}`)).body.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"), 30_000);
      }
      const named = async (n: string) => (await docker.listNetworks({ filters: { name: [n] } })).filter((x) => x.Name === n);
      expect(await named(`berth-${shared}`), "the existing network is reused, not duplicated").to.have.length(1);
      expect((await named(`berth-${own}`))[0]?.Labels?.["berth.dev/instance"]).to.be.a("string").and.not.equal("another-installation");
      for (const name of [own, shared]) {
        await call(berth, "DELETE", `${G}/projects/${name}`);
        await waitFor(`${name} gone`, async () => (await call(berth, "GET", `${G}/projects/${name}`)).status === 404, 30_000);
      }
      expect(await named(`berth-${own}`)).to.have.length(0);
      expect((await named(`berth-${shared}`)).map((n) => n.Id)).to.deep.equal([foreign.id]);
    } finally {
      await foreign.remove().catch(() => undefined);
    }
  });

  it("refuses to mount a volume another installation owns, and never removes it", async () => {
    const volume = `berth-${P}-theirs`;
    await docker.createVolume({ Name: volume, Labels: { "berth.dev/managed-by": "berth", "berth.dev/instance": "another-installation" } });
    try {
      const spec = { replicas: 1, healthcheck: undefined, volumes: [{ name: "theirs", mountPath: "/data" }], deletionPolicy: "Delete" };
      const r = await call(berth, "POST", `${G}/namespaces/${P}/applications`, webApp("squatter", spec));
      expect(r.status, r.text).to.equal(201);
      const app = await waitFor("VolumeConflict", async () => {
        const a = await getApp(berth, "squatter");
        return a.status?.conditions?.some((c: any) => c.type === "Ready" && c.reason === "VolumeConflict") ? a : undefined;
      }, 30_000);
      expect(app.status.conditions.find((c: any) => c.type === "Ready").message).to.contain("belongs to another Berth installation");
      expect(await appContainers(P, "squatter")).to.have.length(0);
      await call(berth, "DELETE", `${G}/namespaces/${P}/applications/squatter`);
      await waitFor("squatter gone", async () => (await call(berth, "GET", `${G}/namespaces/${P}/applications/squatter`)).status === 404, 30_000);
      const still = await docker.getVolume(volume).inspect();
      expect(still.Labels["berth.dev/instance"]).to.equal("another-installation");
    } finally {
      await docker.getVolume(volume).remove().catch(() => undefined);
    }
  });
});

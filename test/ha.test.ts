import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { call, killServes, spawnServe, type ServeProcess } from "./helpers/berth.js";
import { BUSYBOX_IMAGE, cleanupProject, docker, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";
import { startSystemPostgres, type TestPostgres } from "./helpers/postgres.js";

const G = "/apis/berth.dev/v1alpha1";

function app(project: string, name: string): Record<string, unknown> {
  return {
    apiVersion: "berth.dev/v1alpha1",
    kind: "Application",
    metadata: { name, namespace: project },
    spec: { source: { image: BUSYBOX_IMAGE }, replicas: 1, command: ["httpd", "-f", "-p", "8080", "-h", "/www"], ports: [{ containerPort: 8080 }] },
  };
}

async function reconcileCount(server: ServeProcess): Promise<number> {
  const m = await call(server, "GET", "/metrics");
  const found = [...m.text.matchAll(/^controller_runtime_reconcile_total\{[^}]*\} (\d+)/gm)];
  return found.reduce((n, x) => n + Number(x[1]), 0);
}

async function readyCount(server: ServeProcess, project: string): Promise<number> {
  const list = await call(server, "GET", `${G}/namespaces/${project}/applications`);
  return list.body.items.filter((a: any) => a.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True")).length;
}

describe("berth serve processes: crashes and leader election", function () {
  this.timeout(240_000);
  let pg: TestPostgres;
  const servers: ServeProcess[] = [];
  const env = { BERTH_SECRET_KEY: randomBytes(32).toString("hex"), BERTH_RESYNC_SECONDS: "5" };

  before(async function () {
    await requireDocker(this);
    await ensureBusyboxImage();
    pg = await startSystemPostgres();
  });

  after(async () => {
    await killServes(servers);
    await cleanupProject(`crash-${process.pid}`).catch(() => undefined);
    await cleanupProject(`lead-${process.pid}`).catch(() => undefined);
    await pg?.stop();
  });

  it("after SIGKILL in the middle of creating 10 Applications, a restart converges with no duplicates and no orphans", async () => {
    const project = `crash-${process.pid}`;
    const first = await spawnServe({ databaseUrl: pg.url, env });
    servers.push(first);
    const items = [{ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: project }, spec: {} }, ...Array.from({ length: 10 }, (_, i) => app(project, `svc-${i}`))];
    const r = await call(first, "POST", "/berth/v1/apply", { items });
    expect(r.status, r.text).to.equal(200);
    await waitFor("some containers created", async () => (await docker.listContainers({ all: true, filters: { label: [`berth.dev/project=${project}`] } })).length >= 2, 60_000, 20);
    await first.stop("SIGKILL");
    const atKill = (await docker.listContainers({ all: true, filters: { label: [`berth.dev/project=${project}`] } })).length;
    console.log(`      containers when berth serve was killed: ${atKill} of 10`);
    const second = await spawnServe({ databaseUrl: pg.url, env, dataDir: first.dataDir });
    servers.push(second);
    await waitFor("all 10 Ready", async () => (await readyCount(second, project)) === 10, 120_000, 250);
    const containers = await docker.listContainers({ all: true, filters: { label: [`berth.dev/project=${project}`] } });
    expect(containers).to.have.length(10);
    const names = containers.map((c) => c.Names[0]).sort();
    expect(new Set(names).size).to.equal(10);
    expect(containers.every((c) => c.State === "running")).to.equal(true);
    const uids = new Set((await call(second, "GET", `${G}/namespaces/${project}/applications`)).body.items.map((a: any) => a.metadata.uid));
    expect(containers.every((c) => uids.has(c.Labels["berth.dev/owner-uid"]))).to.equal(true);
    await second.stop();
  });

  it("runs controllers in exactly one of two processes, and the other takes over when the leader dies", async () => {
    const project = `lead-${process.pid}`;
    const a = await spawnServe({ databaseUrl: pg.url, env });
    servers.push(a);
    const b = await spawnServe({ databaseUrl: pg.url, env });
    servers.push(b);
    const items = [{ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: project }, spec: {} }, app(project, "one")];
    expect((await call(b, "POST", "/berth/v1/apply", { items })).status).to.equal(200);
    await waitFor("one Ready", async () => (await readyCount(a, project)) === 1, 60_000).catch(async (e: Error) => {
      // What the two servers said and the status they wrote: the failure's cause, not just its timeout.
      const status = JSON.stringify((await call(a, "GET", `${G}/namespaces/${project}/applications/one`)).body.status);
      throw new Error(`${e.message}\nstatus: ${status}\nserver a:\n${a.logs().slice(-3000)}\nserver b:\n${b.logs().slice(-3000)}`);
    });
    const counts = [await reconcileCount(a), await reconcileCount(b)];
    expect(counts.filter((n) => n > 0)).to.have.length(1);
    const [leader, follower] = counts[0] > 0 ? [a, b] : [b, a];
    await leader.stop("SIGKILL");
    await call(follower, "PATCH", `${G}/namespaces/${project}/applications/one`, { spec: { replicas: 2 } }, { contentType: "application/merge-patch+json" });
    await waitFor("the follower scales to 2", async () => {
      const o = (await call(follower, "GET", `${G}/namespaces/${project}/applications/one`)).body;
      return o.status?.readyReplicas === 2 && o.status?.observedGeneration === o.metadata.generation;
    }, 60_000);
    expect(await reconcileCount(follower)).to.be.greaterThan(0);
  });
});

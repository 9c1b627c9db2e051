/**
 * Issue 18: the swarm runtime on a real one-node swarm (CI initialises it; ADR 0025). An
 * Application of a Project on `runtime: swarm` becomes one Swarm service; a start-first rolling
 * update through a Domain on a real Caddy drops no request; a service removed by hand comes
 * back; a bad image is rolled back by Swarm itself and status says so.
 */
import { expect } from "chai";
import os from "node:os";
import { startBerth, type Berth } from "../src/main.js";
import { call, quietLogger, tempDir, removeDir } from "./helpers/berth.js";
import { requireCommands, requireReloadSafety, startCaddy, type TestCaddy } from "./helpers/caddy.js";
import { cleanupProject, docker, ensureSlowHttpImage, handOverSpec, requireDocker, waitFor } from "./helpers/docker.js";
import { startLoad } from "./helpers/load.js";
import { CRASH_IMAGE, ensureCrashImage, ensureSwarm, listServices, removeServices, runningTasks } from "./helpers/swarm.js";

const G = "/apis/berth.dev/v1alpha1";
const P = `swarm-${process.pid}`;
const HOST = `web.${P}.test`;
const SERVICE = `berth-${P}-web`;

describe("the swarm runtime on a one-node swarm", function () {
  this.timeout(300_000);
  let leave: () => Promise<void> = async () => undefined;
  let caddy: TestCaddy;
  let berth: Berth;
  let dataDir: string;
  const get = async () => (await call(berth, "GET", `${G}/namespaces/${P}/applications/web`)).body;
  const patch = async (body: unknown) => {
    const r = await call(berth, "PATCH", `${G}/namespaces/${P}/applications/web`, body, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
    return r.body;
  };
  const cond = (a: any, type: string): any => a.status?.conditions?.find((c: any) => c.type === type);
  const readyAt = (generation: number, replicas: number) =>
    waitFor(`web Ready at generation ${generation}`, async () => {
      const a = await get();
      return cond(a, "Ready")?.status === "True" && a.status.observedGeneration >= generation && a.status.readyReplicas === replicas && a.status.replicas === replicas ? a : undefined;
    }, 120_000, 100);
  const services = () => listServices(P);

  before(async function () {
    await requireDocker(this);
    requireCommands(this, ["caddy"]);
    requireReloadSafety(this);
    leave = await ensureSwarm(this);
    await Promise.all([ensureSlowHttpImage(), ensureCrashImage()]);
    caddy = await startCaddy();
    dataDir = tempDir("berth-swarm-");
    berth = await startBerth({ dataDir, listen: "127.0.0.1:0", logger: quietLogger(), controllers: true, resyncMs: 5000, router: { adminUrl: caddy.adminUrl, httpPort: caddy.httpPort, httpsPort: caddy.httpsPort, bindHost: "127.0.0.1" } });
    const project = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: { runtime: "swarm" } });
    expect(project.status, project.text).to.equal(201);
    const app = await call(berth, "POST", `${G}/namespaces/${P}/applications`, { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "web", namespace: P }, spec: handOverSpec({ VERSION: "1" }) });
    expect(app.status, app.text).to.equal(201);
    const dom = await call(berth, "POST", `${G}/namespaces/${P}/domains`, { apiVersion: "berth.dev/v1alpha1", kind: "Domain", metadata: { name: "web", namespace: P }, spec: { host: HOST, target: { application: "web", port: 8080 } } });
    expect(dom.status, dom.text).to.equal(201);
  });

  after(async () => {
    await berth?.stop();
    await caddy?.stop();
    await removeServices(P).catch(() => undefined);
    // A removed service's tasks leave the overlay network a moment later.
    await waitFor("the test services' tasks gone", async () => (await docker.listContainers({ all: true, filters: { label: [`berth.dev/project=${P}`] } })).length === 0, 30_000).catch(() => undefined);
    await cleanupProject(P).catch(() => undefined);
    await leave();
    removeDir(dataDir ?? "");
  });

  it("an Application with 3 replicas converges as one service: status counts its tasks per node, the Domain routes to them", async () => {
    const a = await readyAt(1, 3);
    const [svc] = await services();
    expect(svc.Spec?.Name).to.equal(SERVICE);
    expect(svc.Spec?.Mode?.Replicated?.Replicas).to.equal(3);
    expect((svc.Spec as any).UpdateConfig).to.deep.include({ Order: "start-first", FailureAction: "rollback", Parallelism: 1 });
    expect((svc.Spec as any).EndpointSpec.Mode).to.equal("dnsrr");
    expect(await runningTasks(svc.ID)).to.have.length(3);
    const node = Object.keys(a.status.nodes)[0];
    expect(a.status).to.deep.include({ runtime: "swarm", service: SERVICE, nodes: { [node]: 3 } });
    expect([os.hostname(), (await docker.info()).Name]).to.include(node);
    expect(a.status.endpoints).to.have.length(3);
    // No container of the docker runtime: every replica is a task of the service.
    const containers = await docker.listContainers({ filters: { label: [`berth.dev/project=${P}`, "berth.dev/name=web"] } });
    expect(containers).to.have.length(3);
    expect(containers.every((c) => c.Labels["com.docker.swarm.service.name"] === SERVICE)).to.equal(true);
    const d = await waitFor("the Domain routed to the 3 tasks", async () => {
      const dom = (await call(berth, "GET", `${G}/namespaces/${P}/domains/web`)).body;
      return cond(dom, "Ready")?.status === "True" && dom.status.upstreams?.length === 3 ? dom : undefined;
    }, 60_000);
    expect([...d.status.upstreams].sort()).to.deep.equal([...a.status.endpoints].sort());
    const kubectlWide = (await call(berth, "GET", `${G}/namespaces/${P}/applications/web`, undefined, { accept: "application/json;as=Table;v=v1;g=meta.k8s.io" })).body;
    const col = kubectlWide.columnDefinitions.findIndex((c: any) => c.name === "Nodes");
    expect(kubectlWide.rows[0].cells[col]).to.equal(`${node}=3`);
  });

  it("a start-first rolling update through the Domain: 0 failed requests, readyReplicas never below 3", async () => {
    const load = startLoad({ port: caddy.httpPort, host: HOST, rate: 100 });
    let min = 3;
    let on = true;
    const sampler = (async () => {
      while (on) {
        min = Math.min(min, (await get()).status?.readyReplicas ?? 0);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const gen = (await patch({ spec: { env: { VERSION: "2" } } })).metadata.generation;
    const a = await readyAt(gen, 3);
    on = false;
    await sampler;
    await new Promise((r) => setTimeout(r, 1000));
    const r = await load.stop();
    console.log(`      swarm rolling update, GET: ${r.sent} requests at ${r.rate.toFixed(0)}/s, ${r.failed} failed, p50 ${r.p50} ms, p99 ${r.p99} ms`);
    expect(r.failed, r.failures.join("\n")).to.equal(0);
    expect(r.sent).to.be.greaterThan(200);
    expect(min, "readyReplicas dropped below 3 (start-first)").to.be.at.least(3);
    const [svc] = await services();
    const envs = (await runningTasks(svc.ID)).map((t: any) => t.Spec.ContainerSpec.Env);
    expect(envs.every((e: string[]) => e.includes("VERSION=2"))).to.equal(true);
    expect(a.status.updatedReplicas).to.equal(3);
  });

  it("a service removed by hand (docker service rm) is created again", async () => {
    const [before] = await services();
    await docker.getService(before.ID).remove();
    await waitFor("a new service of web, with 3 running tasks", async () => {
      const [s] = await services();
      return s && s.ID !== before.ID && (await runningTasks(s.ID)).length === 3;
    }, 60_000);
    await readyAt(1, 3);
    const events = (await call(berth, "GET", `/api/v1/namespaces/${P}/events?fieldSelector=involvedObject.name=web`)).body.items as any[];
    expect(events.some((e) => e.reason === "DriftRepaired" && e.message.includes("create-service"))).to.equal(true);
  });

  it("a bad image is rolled back by Swarm: the old tasks keep running, Ready=False RolledBack, a Warning, and it is not retried", async () => {
    const gen = (await patch({ spec: { source: { image: CRASH_IMAGE } } })).metadata.generation;
    const a = await waitFor("web RolledBack", async () => {
      const x = await get();
      return x.status?.observedGeneration >= gen && cond(x, "Ready")?.reason === "RolledBack" ? x : undefined;
    }, 120_000, 200);
    expect(cond(a, "Stalled")).to.include({ status: "True", reason: "SwarmRolledBack" });
    expect(cond(a, "Ready").message).to.match(/Swarm rolled back the update to config/);
    const [svc] = await services();
    expect((svc.Spec as any).TaskTemplate.ContainerSpec.Image).to.not.contain("crash");
    await waitFor("3 tasks of the old image running", async () => (await runningTasks(svc.ID)).length === 3, 60_000);
    const events = (await call(berth, "GET", `/api/v1/namespaces/${P}/events?fieldSelector=involvedObject.name=web`)).body.items as any[];
    expect(events.some((e) => e.type === "Warning" && e.reason === "RolledBack")).to.equal(true);
    // Not sent again: once Swarm's rollback completed, the service's version stays where it left it.
    const done = await waitFor("Swarm's rollback completed", async () => {
      const [x] = await services();
      return x.UpdateStatus?.State === "rollback_completed" ? x : undefined;
    }, 60_000);
    const version = done.Version?.Index;
    await new Promise((r) => setTimeout(r, 3000));
    const [later] = await services();
    expect(later.Version?.Index).to.equal(version);
    expect(later.Spec.TaskTemplate.ContainerSpec.Image).to.not.contain("crash");
  });

  it("a Project moved from docker to swarm and back: its Application moves with it, 0 failed requests through its Domain", async () => {
    const MV = `${P}-mv`;
    const mvHost = `mv.${MV}.test`;
    const appOf = async () => (await call(berth, "GET", `${G}/namespaces/${MV}/applications/mv`)).body;
    const dockerReplicas = async () => (await docker.listContainers({ filters: { label: [`berth.dev/project=${MV}`, "berth.dev/name=mv"] } })).filter((c) => !c.Labels["com.docker.swarm.task.id"]);
    const moveTo = async (runtime: string) => {
      const r = await call(berth, "PATCH", `${G}/projects/${MV}`, { spec: { runtime } }, { contentType: "application/merge-patch+json" });
      expect(r.status, r.text).to.equal(200);
    };
    try {
      expect((await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: MV }, spec: { runtime: "docker" } })).status).to.equal(201);
      expect((await call(berth, "POST", `${G}/namespaces/${MV}/applications`, { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "mv", namespace: MV }, spec: handOverSpec({ VERSION: "1" }) })).status).to.equal(201);
      expect((await call(berth, "POST", `${G}/namespaces/${MV}/domains`, { apiVersion: "berth.dev/v1alpha1", kind: "Domain", metadata: { name: "mv", namespace: MV }, spec: { host: mvHost, target: { application: "mv", port: 8080 } } })).status).to.equal(201);
      await waitFor("mv Ready on docker, routed", async () => {
        const [a, d] = [await appOf(), (await call(berth, "GET", `${G}/namespaces/${MV}/domains/mv`)).body];
        return cond(a, "Ready")?.status === "True" && a.status.readyReplicas === 3 && d.status?.upstreams?.length === 3;
      }, 120_000, 200);
      expect(await dockerReplicas()).to.have.length(3);
      const load = startLoad({ port: caddy.httpPort, host: mvHost, rate: 100 });
      await moveTo("swarm");
      const onSwarm = await waitFor("mv on swarm, the docker replicas gone", async () => {
        const a = await appOf();
        return a.status?.runtime === "swarm" && cond(a, "Ready")?.status === "True" && a.status.readyReplicas === 3 && (await dockerReplicas()).length === 0 ? a : undefined;
      }, 120_000, 200);
      expect(Object.values(onSwarm.status.nodes)).to.deep.equal([3]);
      await moveTo("docker");
      await waitFor("mv back on docker, its service gone", async () => {
        const a = await appOf();
        const svc = await listServices(MV);
        return a.status?.runtime === undefined && cond(a, "Ready")?.status === "True" && (await dockerReplicas()).length === 3 && svc.length === 0;
      }, 120_000, 200);
      await new Promise((r) => setTimeout(r, 1000));
      const r = await load.stop();
      console.log(`      docker → swarm → docker, GET: ${r.sent} requests at ${r.rate.toFixed(0)}/s, ${r.failed} failed, p99 ${r.p99} ms`);
      expect(r.failed, r.failures.join("\n")).to.equal(0);
    } finally {
      await call(berth, "DELETE", `${G}/projects/${MV}`);
      await waitFor("the moved Project gone", async () => (await call(berth, "GET", `${G}/projects/${MV}`)).status === 404, 90_000).catch(() => undefined);
      await removeServices(MV).catch(() => undefined);
      await cleanupProject(MV).catch(() => undefined);
    }
  });

  it("a Berth service whose Application is gone is removed as an orphan; a service Berth did not create is never touched", async () => {
    const labels = { "berth.dev/managed-by": "berth", "berth.dev/kind": "Application", "berth.dev/project": P, "berth.dev/name": "ghost", "berth.dev/owner-uid": "no-such-uid", "berth.dev/instance": berth.driver.instance };
    const spec = (name: string, l: Record<string, string>) => ({ Name: name, Labels: l, TaskTemplate: { ContainerSpec: { Image: CRASH_IMAGE, Args: ["sleep", "600"] } }, Mode: { Replicated: { Replicas: 0 } } });
    const orphan = await docker.createService(spec(`berth-${P}-ghost`, labels) as never);
    const foreign = await docker.createService(spec(`${P}-by-hand`, { "berth.dev/project": P }) as never);
    await waitFor("the orphan service removed", async () => !(await services()).some((s) => s.ID === orphan.id), 30_000);
    expect((await services()).some((s) => s.ID === foreign.id), "a service without Berth's labels was touched").to.equal(true);
    await docker.getService(foreign.id).remove();
  });

  it("spec.placement is validated: a constraint that is no Swarm expression answers 422 naming the field, and nothing is stored", async () => {
    const r = await call(berth, "POST", `${G}/namespaces/${P}/applications`, { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "placed", namespace: P }, spec: { source: { image: CRASH_IMAGE }, placement: { constraints: ["node.role==manager", "rm -rf /"], maxReplicasPerNode: 0 } } });
    expect(r.status, r.text).to.equal(422);
    expect(r.text).to.contain("spec.placement.constraints[1]");
    expect(r.text).to.contain("spec.placement.maxReplicasPerNode");
    expect((await call(berth, "GET", `${G}/namespaces/${P}/applications/placed`)).status).to.equal(404);
  });

  it("deleting the Application removes its service", async () => {
    const r = await call(berth, "DELETE", `${G}/namespaces/${P}/applications/web`);
    expect(r.status, r.text).to.be.oneOf([200, 202]);
    await waitFor("web gone", async () => (await call(berth, "GET", `${G}/namespaces/${P}/applications/web`)).status === 404, 60_000);
    expect(await services()).to.have.length(0);
  });

  it("deleting the Project removes its overlay network once the tasks are gone", async () => {
    expect((await docker.listNetworks({ filters: { name: [`berth-${P}-swarm`] } })).map((n) => n.Driver)).to.deep.equal(["overlay"]);
    const r = await call(berth, "DELETE", `${G}/projects/${P}`);
    expect(r.status, r.text).to.be.oneOf([200, 202]);
    await waitFor("the Project gone", async () => (await call(berth, "GET", `${G}/projects/${P}`)).status === 404, 90_000);
    // The swarm forgets a removed overlay at once; the node's copy goes a moment later.
    const left = async () => (await docker.listNetworks({ filters: { name: [`berth-${P}`] } })).map((n) => `${n.Name} ${n.Driver}`);
    await waitFor("the Project's networks gone", async () => (await left()).length === 0, 15_000).catch(() => undefined);
    expect(await left()).to.deep.equal([]);
  });
});

import { expect } from "chai";
import type { ResourceObject } from "../../src/core/types.js";
import { ApplicationReconciler } from "../../src/reconcilers/application/reconciler.js";
import { FakeDriver } from "../../src/runtime/fake.js";
import type { TrafficSwitch } from "../../src/runtime/traffic.js";
import { ctx, unitStore, type UnitStore } from "../helpers/unit-store.js";

const P = "shop";
const ADMIN = { user: "admin" };
const IMAGE = "berth-test/busybox:1";

function app(name: string, spec: Record<string, unknown> = {}): ResourceObject {
  return {
    apiVersion: "berth.dev/v1alpha1",
    kind: "Application",
    metadata: { name, namespace: P },
    spec: {
      source: { image: IMAGE },
      replicas: 3,
      command: ["httpd", "-f", "-p", "8080"],
      ports: [{ containerPort: 8080 }],
      healthcheck: { http: { path: "/health", port: 8080 } },
      stopGracePeriod: "2s",
      ...spec,
    },
  };
}

/** A router stand-in that logs, in the engine's call log, when a container leaves the routes. */
function trafficOf(fake: FakeDriver): TrafficSwitch & { out: Set<string> } {
  const out = new Set<string>();
  return {
    out,
    withdraw: async (ids) => {
      for (const id of ids) {
        out.add(id);
        fake.calls.push(`unroute ${fake.containers.get(id)?.name ?? id}`);
      }
    },
    isWithdrawn: (id) => out.has(id),
    removed: async (ids) => {
      for (const id of ids) out.delete(id);
    },
  };
}

describe("Application reconciler (fake runtime driver)", function () {
  this.timeout(20_000);
  let u: UnitStore;
  let fake: FakeDriver;
  let traffic: ReturnType<typeof trafficOf>;
  let reconciler: ApplicationReconciler;

  const get = async (name: string): Promise<ResourceObject> => (await u.stores.resources.get("Application", P, name))!;
  const reconcile = (name: string) => reconciler.reconcile({ kind: "Application", namespace: P, name }, ctx());
  const cond = (o: ResourceObject, type: string): any => (o.status?.conditions as any[] | undefined)?.find((c) => c.type === type);
  const warnings = async (name: string): Promise<{ reason: string; message: string; count: number }[]> =>
    ((await u.stores.events.list(P, `involvedObject.name=${name}`)).items as any[]).filter((e) => e.type === "Warning").map((e) => ({ reason: e.reason, message: e.message, count: e.count }));

  before(async () => {
    u = await unitStore();
  });

  beforeEach(async () => {
    await u.reset();
    fake = new FakeDriver();
    fake.images.set(IMAGE, { cmd: ["sh"] });
    traffic = trafficOf(fake);
    const s = u.stores;
    reconciler = new ApplicationReconciler({ store: s.resources, events: s.events, driver: fake, traffic, box: u.box, credentials: s.credentials, revisions: s.revisions, volumes: s.volumes, metrics: u.metrics });
    await s.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} }, ADMIN);
  });

  it("an event repeated on an object bumps its count; another message is another event", async () => {
    const web = await u.stores.resources.create(app("web"), ADMIN);
    const e = { type: "Warning" as const, reason: "NameConflict", message: "the name is taken" };
    await u.stores.events.record(web.object, e);
    await u.stores.events.record(web.object, e);
    await u.stores.events.record(web.object, { ...e, message: "another message" });
    expect(await warnings("web")).to.have.deep.members([
      { reason: e.reason, message: e.message, count: 2 },
      { reason: e.reason, message: "another message", count: 1 },
    ]);
  });

  it("runs the replicas with its network, reports Deployment-shaped counts and stamps every condition's generation", async () => {
    await u.stores.resources.create(app("web"), ADMIN);
    const r = await reconcile("web");
    expect(fake.names()).to.deep.equal(["shop-web-0", "shop-web-1", "shop-web-2"]);
    expect(fake.networks.has("berth-shop")).to.equal(true);
    expect(r).to.deep.equal({});
    const a = await get("web");
    expect(a.status).to.deep.include({ observedGeneration: 1, phase: "running", replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 0, readySummary: "3/3" });
    expect(a.status!.endpoints).to.have.length(3);
    expect(cond(a, "Ready")).to.include({ status: "True", reason: "ReplicasReady", observedGeneration: 1 });
    for (const c of a.status!.conditions as any[]) expect(c.observedGeneration, c.type).to.equal(1);
    expect(cond(a, "Reconciling")).to.equal(undefined);
    expect(cond(a, "Stalled")).to.equal(undefined);
  });

  it("writes status once per reconcile, and not at all when nothing changed", async () => {
    await u.stores.resources.create(app("web", { replicas: 1 }), ADMIN);
    await reconcile("web");
    const rv = (await get("web")).metadata.resourceVersion;
    await reconcile("web");
    expect((await get("web")).metadata.resourceVersion).to.equal(rv);
  });

  it("NameConflict: a container Berth did not create holds the name; reported, never touched, and cleared once it goes", async () => {
    const squatter = fake.addForeignContainer("shop-web-0");
    await u.stores.resources.create(app("web", { replicas: 1 }), ADMIN);
    const r = await reconcile("web");
    const a = await get("web");
    expect(cond(a, "Ready")).to.include({ status: "False", reason: "NameConflict" });
    expect(cond(a, "Ready").message).to.contain(squatter.id).and.contain("create replica 0");
    expect(cond(a, "Reconciling")).to.include({ status: "True" });
    expect(a.status!.phase).to.equal("failed");
    expect(r.requeueAfter).to.be.a("number");
    expect(fake.containers.get(squatter.id)).to.include({ state: "running", name: "shop-web-0" });
    expect(fake.calls.filter((c) => c.includes(squatter.id) || (c.startsWith("container_remove") && c.includes("shop-web-0")))).to.deep.equal([]);
    expect(await warnings("web")).to.deep.equal([{ reason: "NameConflict", message: cond(a, "Ready").message, count: 1 }]);
    // The same failure again is the same event, not a new one.
    await reconcile("web");
    expect(await warnings("web")).to.have.length(1);
    fake.destroy(squatter.id);
    await reconcile("web");
    expect(cond(await get("web"), "Ready")).to.include({ status: "True" });
  });

  it("PortConflict: a fixed host port held outside Berth", async () => {
    fake.busyPorts.add(18080);
    await u.stores.resources.create(app("web", { replicas: 1, ports: [{ containerPort: 8080, publish: { hostPort: 18080 } }] }), ADMIN);
    const r = await reconcile("web");
    const a = await get("web");
    expect(cond(a, "Ready")).to.include({ status: "False", reason: "PortConflict" });
    expect(cond(a, "Ready").message).to.contain("18080");
    expect(r.requeueAfter).to.be.at.most(1000);
    fake.busyPorts.delete(18080);
    await reconcile("web");
    const b = await get("web");
    expect(cond(b, "Ready")).to.include({ status: "True" });
    expect(b.status!.endpoints).to.deep.equal(["127.0.0.1:18080"]);
  });

  it("InvalidSpec: no command and the image has none is terminal (Stalled) until something changes", async () => {
    fake.images.set("bare:1", {});
    await u.stores.resources.create(app("bare", { replicas: 1, source: { image: "bare:1" }, command: undefined }), ADMIN);
    const r = await reconcile("bare");
    const a = await get("bare");
    expect(cond(a, "Ready")).to.include({ status: "False", reason: "InvalidSpec" });
    expect(cond(a, "Stalled")).to.include({ status: "True", reason: "InvalidSpec" });
    expect(cond(a, "Ready").message).to.contain("No command specified");
    expect(r).to.deep.equal({});
    expect((await warnings("bare")).map((w) => w.reason)).to.deep.equal(["InvalidSpec"]);
  });

  it("ImageNotFound: nothing is removed before the image is there; converges once it arrives", async () => {
    await u.stores.resources.create(app("web", { replicas: 1 }), ADMIN);
    await reconcile("web");
    const [before] = fake.names();
    await u.stores.resources.update({ kind: "Application", namespace: P, name: "web" }, ADMIN, "patch", (cur) => ({ ...cur!, spec: { ...cur!.spec, source: { image: "registry.invalid/app:2" }, strategy: { type: "Recreate" } } }));
    await reconcile("web");
    const a = await get("web");
    expect(cond(a, "Ready")).to.include({ status: "False", reason: "ImageNotFound" });
    expect(fake.names()).to.deep.equal([before]);
    expect(a.status!.availableReplicas).to.equal(1);
    fake.addImage("registry.invalid/app:2");
    await reconcile("web");
    expect(cond(await get("web"), "Ready")).to.include({ status: "True" });
  });

  it("VolumeConflict: another installation's volume is neither mounted nor removed", async () => {
    fake.volumes.set("berth-shop-data", { "berth.dev/instance": "someone-else" });
    await u.stores.resources.create(app("web", { replicas: 1, volumes: [{ name: "data", mountPath: "/data" }] }), ADMIN);
    await reconcile("web");
    const a = await get("web");
    expect(cond(a, "Ready")).to.include({ status: "False", reason: "VolumeConflict" });
    expect(fake.names()).to.deep.equal([]);
    expect(fake.volumes.get("berth-shop-data")).to.deep.equal({ "berth.dev/instance": "someone-else" });
  });

  it("DependencyNotReady: waits for the Database, with a Warning saying which", async () => {
    await u.stores.resources.create(app("web", { replicas: 1, dependsOn: [{ kind: "Database", name: "pg" }] }), ADMIN);
    const r = await reconcile("web");
    const a = await get("web");
    expect(cond(a, "Ready")).to.include({ status: "False", reason: "DependencyNotReady" });
    expect(cond(a, "Ready").message).to.contain("Database/pg");
    expect(r.requeueAfter).to.be.a("number");
    expect(fake.names()).to.deep.equal([]);
  });

  it("a rolling update (maxSurge 1, maxUnavailable 0) keeps readyReplicas ≥ 3 and endpoints serving, and unroutes before it stops", async () => {
    await u.stores.resources.create(app("web", { strategy: { type: "RollingUpdate", maxSurge: 1, maxUnavailable: 0 } }), ADMIN);
    await reconcile("web");
    fake.healthOnStart = "starting";
    await u.stores.resources.update({ kind: "Application", namespace: P, name: "web" }, ADMIN, "patch", (cur) => ({ ...cur!, spec: { ...cur!.spec, env: { V: "2" } } }));
    const seen: { ready: number; endpoints: number; reason: string }[] = [];
    for (let i = 0; i < 20; i++) {
      await reconcile("web");
      const a = await get("web");
      seen.push({ ready: a.status!.readyReplicas as number, endpoints: (a.status!.endpoints as string[]).length, reason: cond(a, "Ready").reason });
      if (cond(a, "Ready").status === "True") break;
      for (const c of fake.containers.values()) if (c.health === "starting") fake.setHealth(c.id, "healthy");
    }
    expect(seen.at(-1)!.reason).to.equal("ReplicasReady");
    expect(Math.min(...seen.map((s) => s.ready))).to.be.at.least(3);
    expect(Math.min(...seen.map((s) => s.endpoints))).to.be.at.least(3);
    expect(seen.some((s) => s.reason === "RollingUpdate")).to.equal(true);
    for (const name of fake.calls.filter((c) => c.startsWith("container_stop")).map((c) => c.split(" ")[1])) {
      const stop = fake.calls.findIndex((c) => c.startsWith(`container_stop ${name} `));
      expect(fake.calls.indexOf(`unroute ${name}`), `${name} left the route before it stopped`).to.be.within(0, stop);
    }
    expect(fake.names()).to.deep.equal(["shop-web-0", "shop-web-1", "shop-web-2"]);
    const revisions = await u.stores.revisions.history((await get("web")).metadata.uid!);
    expect(revisions.map((r) => r.status)).to.deep.equal(["success", "success"]);
  });

  it("after a revert over a broken rollout the surviving container takes its canonical name back", async () => {
    await u.stores.resources.create(app("web", { replicas: 1 }), ADMIN);
    await reconcile("web");
    fake.healthOnStart = "unhealthy";
    await u.stores.resources.update({ kind: "Application", namespace: P, name: "web" }, ADMIN, "patch", (cur) => ({ ...cur!, spec: { ...cur!.spec, env: { V: "broken" } } }));
    await reconcile("web");
    expect(fake.names()).to.have.length(2);
    expect(fake.names().some((n) => n.startsWith("shop-web-0-old-"))).to.equal(true);
    await u.stores.resources.update({ kind: "Application", namespace: P, name: "web" }, ADMIN, "patch", (cur) => ({ ...cur!, spec: { ...cur!.spec, env: undefined } }));
    await reconcile("web");
    expect(fake.names()).to.deep.equal(["shop-web-0"]);
    expect(cond(await get("web"), "Ready")).to.include({ status: "True" });
  });

  it("scales down highest first: each leaves the route, stops with the grace period, then goes", async () => {
    await u.stores.resources.create(app("web"), ADMIN);
    await reconcile("web");
    fake.calls.length = 0;
    await u.stores.resources.update({ kind: "Application", namespace: P, name: "web" }, ADMIN, "patch", (cur) => ({ ...cur!, spec: { ...cur!.spec, replicas: 1 } }));
    await reconcile("web");
    expect(fake.calls.filter((c) => /^(unroute|container_stop|container_remove)/.test(c))).to.deep.equal([
      "unroute shop-web-2",
      "unroute shop-web-1",
      "container_stop shop-web-2 grace=2",
      "container_stop shop-web-1 grace=2",
      "container_remove shop-web-2",
      "container_remove shop-web-1",
    ]);
    expect((await get("web")).status).to.deep.include({ replicas: 1, readyReplicas: 1, readySummary: "1/1" });
  });

  it("a spec change makes Ready Unknown at once, until a reconcile observes the new generation", async () => {
    await u.stores.resources.create(app("web", { replicas: 1 }), ADMIN);
    await reconcile("web");
    await u.stores.resources.update({ kind: "Application", namespace: P, name: "web" }, ADMIN, "patch", (cur) => ({ ...cur!, spec: { ...cur!.spec, replicas: 2 } }));
    const stale = await get("web");
    expect(cond(stale, "Ready")).to.include({ status: "Unknown", reason: "Reconciling" });
    expect(cond(stale, "Reconciling")).to.include({ status: "True", reason: "NewGeneration" });
    await reconcile("web");
    const fresh = await get("web");
    expect(cond(fresh, "Ready")).to.include({ status: "True", observedGeneration: 2 });
    expect(fresh.status!.observedGeneration).to.equal(2);
  });

  it("suspend leaves drift alone and says so", async () => {
    await u.stores.resources.create(app("web", { replicas: 1, suspend: true }), ADMIN);
    await reconcile("web");
    expect(fake.names()).to.deep.equal([]);
    expect(cond(await get("web"), "Ready")).to.include({ status: "Unknown", reason: "Suspended" });
  });

  it("deletion unroutes, stops and removes every container, keeps Retain volumes, then lets the object go", async () => {
    await u.stores.resources.create(app("web", { replicas: 2, volumes: [{ name: "data", mountPath: "/data" }] }), ADMIN);
    await reconcile("web");
    expect(fake.volumes.has("berth-shop-data")).to.equal(true);
    await u.stores.resources.delete({ kind: "Application", namespace: P, name: "web" }, ADMIN);
    await reconcile("web");
    expect(fake.names()).to.deep.equal([]);
    expect(fake.calls.filter((c) => c.startsWith("unroute"))).to.have.length(2);
    expect(fake.volumes.has("berth-shop-data")).to.equal(true);
    expect(await u.stores.resources.get("Application", P, "web")).to.equal(undefined);
  });

  it("DockerUnavailable: the failure reaches status and the error is rethrown for backoff", async () => {
    await u.stores.resources.create(app("web", { replicas: 1 }), ADMIN);
    fake.down = true;
    let thrown: Error | undefined;
    await reconcile("web").catch((e: Error) => (thrown = e));
    expect(thrown?.message).to.contain("DockerUnavailable");
    expect(cond(await get("web"), "Ready")).to.include({ status: "False", reason: "DockerUnavailable" });
    fake.down = false;
    await reconcile("web");
    expect(cond(await get("web"), "Ready")).to.include({ status: "True" });
  });
  it("a deposed leader's reconcile (its signal aborted) runs no plan step and writes no status", async () => {
    await u.stores.resources.create(app("fenced"), ADMIN);
    const deposed = new AbortController();
    deposed.abort();
    const r = await reconciler.reconcile({ kind: "Application", namespace: P, name: "fenced" }, { ...ctx(), signal: deposed.signal });
    expect(r).to.deep.equal({});
    expect(fake.calls.filter((c) => /^(create|start|pull)/.test(c)), "no container created or started").to.deep.equal([]);
    expect((await get("fenced")).status?.conditions, "no status written").to.equal(undefined);
    await reconcile("fenced");
    expect(cond(await get("fenced"), "Ready"), "the next leader reports afresh").to.not.equal(undefined);
  });
});

import { expect } from "chai";
import type { ResourceObject } from "../../src/core/types.js";
import { DatabaseMaintenance } from "../../src/reconcilers/database/maintenance.js";
import { DatabaseReconciler } from "../../src/reconcilers/database/reconciler.js";
import { DomainReconciler } from "../../src/reconcilers/domain/reconciler.js";
import { ProjectReconciler } from "../../src/reconcilers/project/reconciler.js";
import { FakeDriver } from "../../src/runtime/fake.js";
import { ctx, unitStore, type UnitStore } from "../helpers/unit-store.js";

const P = "shop";
const ADMIN = { user: "admin" };
const cond = (o: ResourceObject | undefined, type: string): any => (o?.status?.conditions as any[] | undefined)?.find((c) => c.type === type);

describe("Project, Database and Domain reconcilers (fake runtime driver)", function () {
  this.timeout(20_000);
  let u: UnitStore;
  let fake: FakeDriver;

  before(async () => {
    u = await unitStore();
  });

  beforeEach(async () => {
    await u.reset();
    fake = new FakeDriver();
  });

  const project = (): ProjectReconciler => new ProjectReconciler({ store: u.stores.resources, events: u.stores.events, driver: fake });
  const createProject = () => u.stores.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} }, ADMIN);

  describe("Project", () => {
    it("makes the project network, Ready; its deletion removes its objects, then the network", async () => {
      await createProject();
      await project().reconcile({ kind: "Project", namespace: undefined, name: P }, ctx());
      expect(fake.networks.has("berth-shop")).to.equal(true);
      const p = await u.stores.resources.get("Project", undefined, P);
      expect(cond(p, "Ready")).to.include({ status: "True", reason: "NetworkReady", observedGeneration: 1 });
      expect(p!.metadata.finalizers).to.include("berth.dev/network");
      await u.stores.resources.delete({ kind: "Project", namespace: undefined, name: P }, ADMIN);
      await project().reconcile({ kind: "Project", namespace: undefined, name: P }, ctx());
      expect(fake.networks.has("berth-shop")).to.equal(false);
      expect(await u.stores.resources.get("Project", undefined, P)).to.equal(undefined);
    });

    it("an engine that does not answer is a status, not only a log line", async () => {
      await createProject();
      fake.down = true;
      const err = await project().reconcile({ kind: "Project", namespace: undefined, name: P }, ctx()).catch((e: Error) => e);
      expect(err).to.be.instanceOf(Error);
      const p = await u.stores.resources.get("Project", undefined, P);
      expect(cond(p, "Ready")).to.include({ status: "False", reason: "DockerUnavailable" });
      const events = (await u.stores.events.list(undefined, "involvedObject.name=shop")).items as any[];
      expect(events.map((e) => `${e.type} ${e.reason}`)).to.include("Warning DockerUnavailable");
    });
  });

  describe("Database", () => {
    const db = (): DatabaseReconciler =>
      new DatabaseReconciler({ store: u.stores.resources, events: u.stores.events, driver: fake, credentials: u.stores.credentials, volumes: u.stores.volumes, backups: u.stores.backups, metrics: u.metrics, maintenance: new DatabaseMaintenance(), env: {} });
    const key = { kind: "Database", namespace: P, name: "pg" };
    const createDb = (spec: Record<string, unknown> = {}) => u.stores.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Database", metadata: { name: "pg", namespace: P }, spec: { engine: "postgresql", version: "16", ...spec } }, ADMIN);

    beforeEach(async () => {
      await createProject();
      fake.registry.set("postgres:16", { cmd: ["postgres"] });
      fake.execHandler = () => ({ exitCode: 0, stdout: "1\n", stderr: "", timedOut: false });
    });

    it("pulls the image, makes volume and network, generates credentials once, and is Ready when a query answers", async () => {
      await createDb();
      await db().reconcile(key, ctx());
      expect(fake.calls.filter((c) => /^(image_pull|network_ensure|volume_create|container_create)/.test(c))).to.deep.equal(["image_pull postgres:16", "network_ensure berth-shop", "volume_create berth-shop-pg-data", "container_create shop-pg-0"]);
      const d = await u.stores.resources.get("Database", P, "pg");
      expect(cond(d, "Ready")).to.include({ status: "True", reason: "EngineReady" });
      const creds = await u.stores.credentials.load(d!.metadata.uid!);
      expect(creds!.password).to.match(/^[A-Za-z0-9]{32}$/);
      expect(JSON.stringify(d!.status)).to.not.contain(creds!.password);
      await db().reconcile(key, ctx());
      expect((await u.stores.credentials.load(d!.metadata.uid!))!.password).to.equal(creds!.password);
    });

    it("ImageNotFound when no registry has the version; nothing is created", async () => {
      await createDb({ version: "99" });
      await db().reconcile(key, ctx());
      const d = await u.stores.resources.get("Database", P, "pg");
      expect(cond(d, "Ready")).to.include({ status: "False", reason: "ImageNotFound" });
      expect(fake.names()).to.deep.equal([]);
    });

    it("a failing readiness query keeps it Initializing with the engine's words, secrets scrubbed", async () => {
      await createDb();
      let password = "";
      fake.execHandler = (c) => {
        password = c.env.find((e) => e.startsWith("POSTGRES_PASSWORD="))!.split("=")[1];
        return { exitCode: 2, stdout: "", stderr: `FATAL: password authentication failed (tried ${password})\n`, timedOut: false };
      };
      const r = await db().reconcile(key, ctx());
      const d = await u.stores.resources.get("Database", P, "pg");
      expect(cond(d, "Ready")).to.include({ status: "False", reason: "Initializing" });
      expect(cond(d, "Ready").message).to.contain("password authentication failed").and.not.contain(password);
      expect(r.requeueAfter).to.equal(1000);
    });

    it("suspend stops the server and keeps volume and credentials; deletion with Retain keeps the volume", async () => {
      await createDb();
      await db().reconcile(key, ctx());
      await u.stores.resources.update({ kind: "Database", namespace: P, name: "pg" }, ADMIN, "patch", (cur) => ({ ...cur!, spec: { ...cur!.spec, suspend: true } }));
      await db().reconcile(key, ctx());
      expect([...fake.containers.values()].map((c) => c.state)).to.deep.equal(["exited"]);
      expect(fake.calls.some((c) => c.startsWith("container_stop shop-pg-0 grace=30"))).to.equal(true);
      expect(cond(await u.stores.resources.get("Database", P, "pg"), "Ready")).to.include({ reason: "Suspended" });
      await u.stores.resources.delete({ kind: "Database", namespace: P, name: "pg" }, ADMIN);
      await db().reconcile(key, ctx());
      expect(fake.names()).to.deep.equal([]);
      expect(fake.volumes.has("berth-shop-pg-data")).to.equal(true);
      expect(await u.stores.credentials.retained("berth-shop-pg-data")).to.not.equal(undefined);
    });
  });

  describe("Domain", () => {
    it("without a router: RouterNotConfigured, and its deletion does not wait for a route", async () => {
      await createProject();
      const d = new DomainReconciler({ store: u.stores.resources, events: u.stores.events, router: undefined, certificates: u.stores.certificates });
      await u.stores.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Domain", metadata: { name: "web", namespace: P }, spec: { host: "web.test", target: { application: "web", port: 8080 } } }, ADMIN);
      await d.reconcile({ kind: "Domain", namespace: P, name: "web" }, ctx());
      const dom = await u.stores.resources.get("Domain", P, "web");
      expect(cond(dom, "Ready")).to.include({ status: "Unknown", reason: "RouterNotConfigured", observedGeneration: 1 });
      await u.stores.resources.delete({ kind: "Domain", namespace: P, name: "web" }, ADMIN);
      await d.reconcile({ kind: "Domain", namespace: P, name: "web" }, ctx());
      expect(await u.stores.resources.get("Domain", P, "web")).to.equal(undefined);
    });
  });
});

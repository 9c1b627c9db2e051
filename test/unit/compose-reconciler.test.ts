import { expect } from "chai";
import { FINALIZER } from "../../src/core/kinds.js";
import type { ResourceObject } from "../../src/core/types.js";
import { ComposeReconciler } from "../../src/reconcilers/application/compose-reconciler.js";
import { ApplicationDispatch } from "../../src/reconcilers/application/dispatch.js";
import { ApplicationReconciler } from "../../src/reconcilers/application/reconciler.js";
import { FakeDriver } from "../../src/runtime/fake.js";
import { NO_TRAFFIC } from "../../src/runtime/traffic.js";
import { ctx, unitStore, type UnitStore } from "../helpers/unit-store.js";

const P = "shop";
const ADMIN = { user: "admin" };
const IMAGE = "berth-test/busybox:1";
const FILE = `services:
  api:
    image: ${IMAGE}
    command: sleep 3600
    deploy: {replicas: 2}
  cache:
    image: ${IMAGE}
`;

function composeApp(name: string, content = FILE, spec: Record<string, unknown> = {}): ResourceObject {
  return { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace: P }, spec: { source: { compose: { content } }, ...spec } };
}

describe("compose reconciler and the Application dispatch (fake runtime driver)", function () {
  this.timeout(30_000);
  let u: UnitStore;
  let fake: FakeDriver;
  let dispatch: ApplicationDispatch;
  let compose: ComposeReconciler;

  const get = async (name: string): Promise<ResourceObject | undefined> => u.stores.resources.get("Application", P, name);
  const reconcile = (name: string) => dispatch.reconcile({ kind: "Application", namespace: P, name }, ctx());
  const names = async (): Promise<string[]> => (await u.stores.resources.list("Application", { namespace: P })).items.map((o) => o.metadata.name).sort();
  /** Reconciles every Application of the Project until nothing changes any more (at most `rounds` passes). */
  const settle = async (rounds = 6): Promise<void> => {
    for (let i = 0; i < rounds; i++) for (const n of await names()) await reconcile(n);
  };
  const setSpec = (name: string, spec: Record<string, unknown>) => u.stores.resources.update({ kind: "Application", namespace: P, name }, ADMIN, "update", (cur) => ({ ...cur!, spec }));
  const ready = (o: ResourceObject | undefined): any => (o?.status?.conditions as any[] | undefined)?.find((c) => c.type === "Ready");

  before(async () => {
    u = await unitStore();
  });

  beforeEach(async () => {
    await u.reset();
    fake = new FakeDriver();
    fake.images.set(IMAGE, { cmd: ["sh"] });
    const s = u.stores;
    const deps = { store: s.resources, events: s.events, driver: fake, traffic: NO_TRAFFIC, box: u.box, credentials: s.credentials, revisions: s.revisions, volumes: s.volumes, metrics: u.metrics };
    compose = new ComposeReconciler(deps);
    dispatch = new ApplicationDispatch(s.resources, new ApplicationReconciler(deps), compose);
    await s.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} }, ADMIN);
  });

  it("makes one Application per service, which run the replicas; the parent is Ready once they are", async () => {
    await u.stores.resources.create(composeApp("stack"), ADMIN);
    await reconcile("stack");
    expect(await names()).to.deep.equal(["stack", "stack-api", "stack-cache"]);
    expect((await get("stack"))!.metadata.finalizers).to.deep.equal([FINALIZER.compose]);
    expect(ready(await get("stack"))).to.include({ status: "False", reason: "ServicesNotReady" });
    expect(compose.parentOf({ kind: "Application", namespace: P, name: "stack-api" })).to.deep.equal([{ kind: "Application", namespace: P, name: "stack" }]);
    await settle();
    expect(fake.names()).to.deep.equal(["shop-stack-api-0", "shop-stack-api-1", "shop-stack-cache-0"]);
    const parent = (await get("stack"))!;
    expect(ready(parent)).to.include({ status: "True", reason: "ServicesReady", message: "2/2 services ready" });
    expect(parent.status).to.deep.include({ phase: "running", readySummary: "2/2 services", replicas: 3, readyReplicas: 3 });
  });

  it("carries suspend to every service", async () => {
    await u.stores.resources.create(composeApp("stack", FILE, { suspend: true }), ADMIN);
    await reconcile("stack");
    expect((await get("stack-api"))!.spec!.suspend).to.equal(true);
    expect(ready(await get("stack"))).to.include({ status: "Unknown", reason: "Suspended" });
  });

  it("a service removed from the file: its Application is deleted, the others untouched", async () => {
    await u.stores.resources.create(composeApp("stack"), ADMIN);
    await settle();
    const api = (await get("stack-api"))!;
    await setSpec("stack", { source: { compose: { content: FILE.replace(/ {2}cache:\n.*\n$/, "") } } });
    await settle();
    expect(await names()).to.deep.equal(["stack", "stack-api"]);
    expect((await get("stack-api"))!.metadata.generation).to.equal(api.metadata.generation);
    expect(fake.names()).to.deep.equal(["shop-stack-api-0", "shop-stack-api-1"]);
  });

  it("deleting the parent deletes every service's Application and its replicas, then the parent", async () => {
    await u.stores.resources.create(composeApp("stack"), ADMIN);
    await settle();
    await u.stores.resources.delete({ kind: "Application", namespace: P, name: "stack" }, ADMIN);
    await settle();
    expect(await names()).to.deep.equal([]);
    expect(fake.names()).to.deep.equal([]);
  });

  it("an image Application turned compose loses its own replicas; turned back, its services' Applications go first", async () => {
    await u.stores.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "stack", namespace: P }, spec: { source: { image: IMAGE }, replicas: 2 } }, ADMIN);
    await settle();
    expect(fake.names()).to.deep.equal(["shop-stack-0", "shop-stack-1"]);
    await setSpec("stack", { source: { compose: { content: FILE } } });
    await settle();
    expect(fake.names()).to.deep.equal(["shop-stack-api-0", "shop-stack-api-1", "shop-stack-cache-0"]);
    await setSpec("stack", { source: { image: IMAGE }, replicas: 1 });
    await settle();
    expect(await names()).to.deep.equal(["stack"]);
    expect((await get("stack"))!.metadata.finalizers).to.deep.equal([FINALIZER.runtime]);
    expect(fake.names()).to.deep.equal(["shop-stack-0"]);
  });

  it("a file on the host that became invalid is reported and changes nothing", async () => {
    await u.stores.resources.create(composeApp("stack"), ADMIN);
    await settle();
    // Stored without admission, as a file on the host edited after the apply would read.
    await setSpec("stack", { source: { compose: { content: FILE.replace("deploy:", "privileged: true\n    deploy:") } } });
    await reconcile("stack");
    expect(ready(await get("stack"))).to.include({ status: "False", reason: "ComposeInvalid", message: "services.api.privileged: not supported by Berth" });
    expect(await names()).to.deep.equal(["stack", "stack-api", "stack-cache"]);
  });
});

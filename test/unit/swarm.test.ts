import { expect } from "chai";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ResourceObject } from "../../src/core/types.js";
import { ApplicationReconciler } from "../../src/reconcilers/application/reconciler.js";
import { replicasOf, SwarmApplications } from "../../src/reconcilers/application/swarm-app.js";
import type { AppRuntimeSpec } from "../../src/runtime/container-spec.js";
import { publishedPorts } from "../../src/runtime/docker.js";
import { FakeDriver } from "../../src/runtime/fake.js";
import { FakeSwarm } from "../../src/runtime/fake-swarm.js";
import { describeServiceStep, planService, type ServicePlanInput } from "../../src/runtime/service-plan.js";
import { SERVICE_HASH, serviceSpecFor, type ServiceOptions } from "../../src/runtime/service-spec.js";
import type { ObservedService, ObservedTask, ServiceSpec } from "../../src/runtime/swarm.js";
import { NO_TRAFFIC } from "../../src/runtime/traffic.js";
import { expectGolden } from "../helpers/golden.js";
import { ctx, unitStore, type UnitStore } from "../helpers/unit-store.js";

const GOLDEN = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "golden", "swarm.txt");
const P = "shop";
const ADMIN = { user: "admin" };
const IMAGE = "berth-test/busybox:1";

const runtime: AppRuntimeSpec = {
  project: P,
  name: "web",
  uid: "uid-web",
  image: IMAGE,
  command: ["httpd", "-f", "-p", "8080"],
  env: { MODE: "prod" },
  ports: [{ containerPort: 8080 }],
  healthcheck: { http: { path: "/health", port: 8080 }, interval: "2s", retries: 2 },
  volumes: [{ name: "data", mountPath: "/data" }],
};
const opts: ServiceOptions = { replicas: 3, graceSeconds: 5, strategy: { type: "RollingUpdate", maxSurge: 1, maxUnavailable: 0 }, network: "berth-shop-swarm" };

function observed(spec: ServiceSpec, extra: Partial<ObservedService> = {}): ObservedService {
  return { id: "svc-1", version: 7, name: spec.Name, labels: spec.Labels, spec, ...extra };
}

let seq = 0;
function task(slot: number, hash: string, state = "running", extra: Partial<ObservedTask> = {}): ObservedTask {
  seq++;
  return { id: `t${seq}`, serviceId: "svc-1", slot, nodeId: "n1", desiredState: state === "running" ? "running" : "shutdown", state, message: state, hash, ports: [], createdAt: `2026-01-01T00:00:${String(seq).padStart(2, "0")}Z`, ...extra };
}

const desired = serviceSpecFor(runtime, "new00000", opts);
const old = serviceSpecFor({ ...runtime, env: { MODE: "old" } }, "old00000", opts);
const net = { name: "berth-shop-swarm", exists: true };
const input = (over: Partial<ServicePlanInput>): ServicePlanInput => ({ desired, hash: "new00000", network: net, services: [observed(desired)], tasks: [], ...over });

const CASES: { title: string; input: ServicePlanInput }[] = [
  { title: "fresh application: the network, then the service", input: input({ network: { ...net, exists: false }, services: [] }) },
  { title: "steady state: nothing to do", input: input({}) },
  { title: "service removed by hand (docker service rm)", input: input({ services: [] }) },
  { title: "a new config: one update, Swarm rolls the tasks", input: input({ services: [observed(old)] }) },
  { title: "scaled by hand (docker service scale web=5)", input: input({ services: [observed({ ...desired, Mode: { Replicated: { Replicas: 5 } } })] }) },
  { title: "image edited by hand (docker service update --image)", input: input({ services: [observed({ ...desired, TaskTemplate: { ...desired.TaskTemplate, ContainerSpec: { ...desired.TaskTemplate.ContainerSpec, Image: "other:2" } } })] }) },
  { title: "a tag the engine pinned to its digest is no drift", input: input({ services: [observed({ ...desired, TaskTemplate: { ...desired.TaskTemplate, ContainerSpec: { ...desired.TaskTemplate.ContainerSpec, Image: `${IMAGE}@sha256:${"a".repeat(64)}` } } })] }) },
  { title: "a second service of the same Application goes", input: input({ services: [observed(desired), { ...observed(desired), id: "svc-2", name: "berth-shop-web-copy" }] }) },
  {
    title: "Swarm rolled the update back: the rejected config is not sent again",
    input: input({ services: [observed(old, { update: { state: "rollback_completed", message: "rollback completed" } })], tasks: [task(1, "old00000"), task(1, "new00000", "failed", { error: "task: non-zero exit (3)" })] }),
  },
  {
    title: "after a rollback, a new spec is a new attempt",
    input: input({ hash: "new00001", desired: serviceSpecFor(runtime, "new00001", { ...opts, replicas: 2 }), services: [observed(old, { update: { state: "rollback_completed", message: "rollback completed" } })], tasks: [task(1, "new00000", "failed")] }),
  },
];

function render(): string {
  const spec = (o: Partial<ServiceOptions>, r: Partial<AppRuntimeSpec> = {}): string => JSON.stringify(serviceSpecFor({ ...runtime, ...r }, "new00000", { ...opts, ...o }), null, 2);
  let out = "# service spec: 3 replicas, rolling update with surge, an HTTP healthcheck, a volume\n" + spec({}) + "\n\n";
  out += "# rollout configs\n";
  out += `maxSurge 1: ${JSON.stringify(serviceSpecFor(runtime, "h", opts).UpdateConfig)}\n`;
  out += `maxSurge 0, maxUnavailable 2: ${JSON.stringify(serviceSpecFor(runtime, "h", { ...opts, strategy: { type: "RollingUpdate", maxSurge: 0, maxUnavailable: 2 } }).UpdateConfig)}\n`;
  out += `Recreate: ${JSON.stringify(serviceSpecFor(runtime, "h", { ...opts, strategy: { type: "Recreate", maxSurge: 0, maxUnavailable: 0 } }).UpdateConfig)}\n`;
  out += `one replica on fixed host port 8080: ${JSON.stringify(serviceSpecFor({ ...runtime, ports: [{ containerPort: 8080, publish: { hostPort: 8080 } }] }, "h", { ...opts, replicas: 1 }).UpdateConfig)}\n`;
  out += `no healthcheck: ${JSON.stringify(serviceSpecFor({ ...runtime, healthcheck: undefined }, "h", opts).UpdateConfig)}\n`;
  out += `placement: ${JSON.stringify(serviceSpecFor(runtime, "h", { ...opts, placement: { constraints: ["node.role==worker"], preferences: [{ spread: "node.labels.zone" }], maxReplicasPerNode: 2 } }).TaskTemplate.Placement)}\n\n`;
  for (const c of CASES) {
    const plan = planService(c.input);
    out += `## ${c.title}\n`;
    out += plan.steps.length ? plan.steps.map(describeServiceStep).join("\n") : "(no steps)";
    if (plan.rejected) out += `\nrejected ${plan.rejected.hash}: ${plan.rejected.message}`;
    out += "\n\n";
  }
  return out;
}

describe("swarm runtime: service spec and plans (golden)", () => {
  it("produce test/golden/swarm.txt", () => {
    expectGolden(GOLDEN, render());
  });

  it("the service hash ignores the replica count, so scaling is no new config", () => {
    const three = serviceSpecFor(runtime, "h", opts);
    const five = serviceSpecFor(runtime, "h", { ...opts, replicas: 5 });
    expect(three.Labels[SERVICE_HASH]).to.equal(five.Labels[SERVICE_HASH]);
    expect(serviceSpecFor({ ...runtime, env: { MODE: "x" } }, "h", opts).Labels[SERVICE_HASH]).to.not.equal(three.Labels[SERVICE_HASH]);
  });

  it("live tasks become replicas: slot N is replica N-1, remote tasks serve at their node's address, history and a down node's tasks are left out", () => {
    const nodes = [
      { id: "n1", hostname: "one", addr: "10.0.0.1", state: "ready", availability: "active" },
      { id: "n2", hostname: "two", addr: "10.0.0.2", state: "ready", availability: "active" },
    ];
    const tasks = [task(1, "h", "running", { ports: [{ containerPort: 80, hostPort: 30001 }] }), task(2, "h", "running", { nodeId: "n2", ports: [{ containerPort: 80, hostPort: 30002 }] }), task(2, "h", "shutdown"), task(3, "h", "starting", { desiredState: "running" }), task(3, "h", "running", { nodeId: "n3", desiredState: "shutdown" })];
    nodes.push({ id: "n3", hostname: "three", addr: "10.0.0.3", state: "down", availability: "active" });
    const replicas = replicasOf("berth-shop-web", tasks, { nodes, localNode: "n1" });
    expect(replicas.map((r) => [r.name, r.state, r.health, r.labels["berth.dev/replica"], r.labels["berth.dev/node"], r.ports[0]?.hostIp, r.ports[0]?.hostPort])).to.deep.equal([
      ["berth-shop-web.1", "running", "none", "0", "one", "", 30001],
      ["berth-shop-web.2", "running", "none", "1", "two", "10.0.0.2", 30002],
      ["berth-shop-web.3", "created", "starting", "2", "one", undefined, undefined],
    ]);
  });
});

describe("swarm runtime: which host port a task serves on", () => {
  it("a container bound on both families keeps its IPv4 port, even when the engine gave IPv6 another one", () => {
    const ports = publishedPorts([
      { IP: "0.0.0.0", PrivatePort: 8080, PublicPort: 32768, Type: "tcp" },
      { IP: "::", PrivatePort: 8080, PublicPort: 32771, Type: "tcp" },
      { IP: "::", PrivatePort: 9090, PublicPort: 32772, Type: "tcp" },
      { PrivatePort: 7070, Type: "tcp" } as never,
    ]);
    expect(ports).to.deep.equal([
      { containerPort: 8080, hostIp: "0.0.0.0", hostPort: 32768 },
      { containerPort: 9090, hostIp: "::", hostPort: 32772 },
    ]);
  });

  it("a task of this node serves where its container is bound; a task elsewhere at its node's address and first listed port", () => {
    const nodes = [
      { id: "n1", hostname: "one", addr: "10.0.0.1", state: "ready", availability: "active" },
      { id: "n2", hostname: "two", addr: "10.0.0.2", state: "ready", availability: "active" },
    ];
    const here = task(1, "h", "running", { containerId: "c1", ports: [{ containerPort: 80, hostPort: 30009 }] });
    const there = task(2, "h", "running", { nodeId: "n2", ports: [{ containerPort: 80, hostPort: 30002 }] });
    const localPorts = new Map([["c1", [{ containerPort: 80, hostIp: "0.0.0.0", hostPort: 30001 }]]]);
    const [a, b] = replicasOf("s", [here, there], { nodes, localNode: "n1", localPorts });
    expect(a.ports).to.deep.equal([{ containerPort: 80, hostIp: "0.0.0.0", hostPort: 30001 }]);
    expect(b.ports).to.deep.equal([{ containerPort: 80, hostIp: "10.0.0.2", hostPort: 30002 }]);
  });
});

describe("Application reconciler on the swarm runtime (fake swarm)", function () {
  this.timeout(20_000);
  let u: UnitStore;
  let fake: FakeDriver;
  let swarm: FakeSwarm;
  let reconciler: ApplicationReconciler;

  const app = (spec: Record<string, unknown> = {}): ResourceObject => ({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "web", namespace: P }, spec: { source: { image: IMAGE }, replicas: 3, ports: [{ containerPort: 8080 }], ...spec } });
  const get = async (): Promise<ResourceObject> => (await u.stores.resources.get("Application", P, "web"))!;
  const reconcile = () => reconciler.reconcile({ kind: "Application", namespace: P, name: "web" }, ctx());
  const cond = (o: ResourceObject, type: string): any => (o.status?.conditions as any[] | undefined)?.find((c) => c.type === type);
  const events = async (): Promise<{ type: string; reason: string; message: string }[]> => ((await u.stores.events.list(P, "involvedObject.name=web")).items as any[]).map((e) => ({ type: e.type, reason: e.reason, message: e.message }));
  const patchSpec = async (spec: Record<string, unknown>): Promise<void> => {
    await u.stores.resources.update({ kind: "Application", namespace: P, name: "web" }, ADMIN, "update", (cur) => ({ ...cur!, spec: { ...cur!.spec, ...spec } }));
  };

  before(async () => {
    u = await unitStore();
  });

  beforeEach(async () => {
    await u.reset();
    fake = new FakeDriver();
    fake.images.set(IMAGE, { cmd: ["sh"] });
    swarm = new FakeSwarm();
    const s = u.stores;
    reconciler = new ApplicationReconciler({ store: s.resources, events: s.events, driver: fake, traffic: NO_TRAFFIC, box: u.box, credentials: s.credentials, revisions: s.revisions, volumes: s.volumes, metrics: u.metrics, swarm: new SwarmApplications({ swarm, store: s.resources, revisions: s.revisions }) });
    await s.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: { runtime: "swarm" } }, ADMIN);
  });

  it("runs the Application as one service on the Project's overlay network, no containers of its own; status counts the tasks per node", async () => {
    await u.stores.resources.create(app(), ADMIN);
    await reconcile();
    expect(swarm.calls).to.deep.equal(["network berth-shop-swarm", "create berth-shop-web"]);
    expect(fake.names()).to.deep.equal([]);
    const a = await get();
    expect(a.status).to.deep.include({ runtime: "swarm", service: "berth-shop-web", nodes: { "node-1": 3 }, nodeSummary: "node-1=3", replicas: 3, readyReplicas: 3, updatedReplicas: 3, readySummary: "3/3" });
    expect(cond(a, "Ready")).to.include({ status: "True", reason: "ReplicasReady" });
    expect(a.status!.endpoints).to.have.length(3);
    swarm.calls.length = 0;
    await reconcile();
    expect(swarm.calls, "a settled service is left alone").to.deep.equal([]);
  });

  it("a service removed by hand is created again, reported as repaired drift", async () => {
    await u.stores.resources.create(app(), ADMIN);
    await reconcile();
    await swarm.removeService([...swarm.services.keys()][0]);
    swarm.calls.length = 0;
    await reconcile();
    expect(swarm.calls).to.deep.equal(["create berth-shop-web"]);
    expect(cond(await get(), "Ready")).to.include({ status: "True" });
    expect((await events()).some((e) => e.reason === "DriftRepaired" && e.message.includes("create-service"))).to.equal(true);
  });

  it("Swarm's rollback of a bad image: Ready=False RolledBack, a Warning, and the image is not sent again until the spec changes", async () => {
    await u.stores.resources.create(app(), ADMIN);
    await reconcile();
    swarm.failing.add("bad:1");
    fake.images.set("bad:1", { cmd: ["sh"] });
    await patchSpec({ source: { image: "bad:1" } });
    await reconcile();
    await reconcile();
    const a = await get();
    expect(cond(a, "Ready")).to.include({ status: "False", reason: "RolledBack" });
    expect(cond(a, "Stalled")).to.include({ status: "True", reason: "SwarmRolledBack" });
    expect(cond(a, "Ready").message).to.match(/Swarm rolled back the update to config [0-9a-f]{8}/);
    expect(swarm.calls.filter((c) => c.startsWith("update"))).to.have.length(1);
    const warnings = (await events()).filter((e) => e.type === "Warning" && e.reason === "RolledBack");
    expect(warnings).to.have.length(1);
    expect((await u.stores.revisions.latest(a.metadata.uid!))?.status).to.equal("rolled_back");
    await patchSpec({ source: { image: IMAGE }, env: { FIXED: "1" } });
    await reconcile();
    expect(swarm.calls.filter((c) => c.startsWith("update"))).to.have.length(2);
    expect(cond(await get(), "Ready")).to.include({ status: "True", reason: "ReplicasReady" });
  });

  it("a Project on swarm while the engine is no swarm manager: SwarmUnavailable in status and a Warning", async () => {
    swarm.active = false;
    await u.stores.resources.create(app(), ADMIN);
    await reconcile();
    const a = await get();
    expect(cond(a, "Ready")).to.include({ status: "False", reason: "SwarmUnavailable" });
    expect(cond(a, "Ready").message).to.contain("docker swarm init");
    expect((await events()).some((e) => e.type === "Warning" && e.reason === "SwarmUnavailable")).to.equal(true);
  });

  it("deleting the Application removes its service", async () => {
    await u.stores.resources.create(app(), ADMIN);
    await reconcile();
    await u.stores.resources.delete({ kind: "Application", namespace: P, name: "web" }, ADMIN);
    await reconcile();
    expect(swarm.services.size).to.equal(0);
    expect(await u.stores.resources.get("Application", P, "web")).to.equal(undefined);
  });
});

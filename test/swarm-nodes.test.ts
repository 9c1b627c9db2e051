/**
 * Issue 18 on several nodes: three Docker engines on this machine as one swarm (each in its own
 * network namespace, test/helpers/swarm-nodes.ts), Berth started with `--runtime swarm` as its
 * default and talking to the manager. An Application spread over the nodes converges with a task
 * on each; when one node's engine dies, Swarm reschedules its task and status shows where the
 * replicas run now.
 */
import { expect } from "chai";
import { startBerth, type Berth } from "../src/main.js";
import { call, quietLogger, tempDir, removeDir } from "./helpers/berth.js";
import { BUSYBOX_IMAGE, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";
import { startSwarmNodes, type SwarmNodes } from "./helpers/swarm-nodes.js";

const G = "/apis/berth.dev/v1alpha1";
const P = `nodes-${process.pid}`;

describe("the swarm runtime on a swarm of three engines", function () {
  this.timeout(300_000);
  let swarm: SwarmNodes;
  let berth: Berth;
  let dataDir: string;
  const socket = process.env.DOCKER_SOCKET;
  const get = async () => (await call(berth, "GET", `${G}/namespaces/${P}/applications/web`)).body;
  const cond = (a: any, type: string): any => a.status?.conditions?.find((c: any) => c.type === type);

  before(async function () {
    await requireDocker(this);
    await ensureBusyboxImage();
    const t0 = Date.now();
    swarm = await startSwarmNodes(this, 3, [BUSYBOX_IMAGE]);
    console.log(`      3 engines started and joined in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // Both drivers read DOCKER_SOCKET when made: this server talks to the swarm's manager.
    process.env.DOCKER_SOCKET = swarm.manager.socket;
    dataDir = tempDir("berth-swarm-nodes-");
    berth = await startBerth({ dataDir, listen: "127.0.0.1:0", logger: quietLogger(), controllers: true, resyncMs: 2000, runtime: "swarm" });
    const project = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} });
    expect(project.status, project.text).to.equal(201);
  });

  after(async () => {
    await berth?.stop();
    if (socket === undefined) delete process.env.DOCKER_SOCKET;
    else process.env.DOCKER_SOCKET = socket;
    await swarm?.destroy();
    removeDir(dataDir ?? "");
  });

  it("an Application spread over the nodes (--runtime swarm by default) runs a task on each; status names the nodes and their addresses", async () => {
    const app = await call(berth, "POST", `${G}/namespaces/${P}/applications`, {
      apiVersion: "berth.dev/v1alpha1",
      kind: "Application",
      metadata: { name: "web", namespace: P },
      spec: { source: { image: BUSYBOX_IMAGE }, replicas: 3, command: ["httpd", "-f", "-p", "8080", "-h", "/www"], ports: [{ containerPort: 8080 }], placement: { preferences: [{ spread: "node.hostname" }], maxReplicasPerNode: 2 } },
    });
    expect(app.status, app.text).to.equal(201);
    const a = await waitFor("web Ready on 3 nodes", async () => {
      const x = await get();
      return cond(x, "Ready")?.status === "True" && Object.keys(x.status.nodes ?? {}).length === 3 ? x : undefined;
    }, 120_000, 250);
    expect(a.status.nodes).to.deep.equal({ swnode1: 1, swnode2: 1, swnode3: 1 });
    expect(a.status.runtime).to.equal("swarm");
    // The manager's own task answers at 127.0.0.1; the workers' at their node's address.
    const hosts = a.status.endpoints.map((e: string) => e.split(":")[0]).sort();
    expect(hosts).to.deep.equal(["10.233.250.12", "10.233.250.13", "127.0.0.1"]);
  });

  it("one node's engine dies: Swarm reschedules its task on the others, and status shows where the 3 replicas run now", async () => {
    const t0 = Date.now();
    swarm.killEngine(2);
    const a = await waitFor("web Ready without swnode3", async () => {
      const x = await get();
      const nodes = x.status?.nodes ?? {};
      return cond(x, "Ready")?.status === "True" && !nodes.swnode3 && (nodes.swnode1 ?? 0) + (nodes.swnode2 ?? 0) === 3 ? x : undefined;
    }, 120_000, 250).catch(async (e) => {
      const x = await get();
      throw new Error(`${(e as Error).message}; status: ${JSON.stringify({ nodes: x.status?.nodes, replicas: x.status?.replicas, ready: cond(x, "Ready") })}; swarm nodes: ${JSON.stringify(((await swarm.manager.docker.listNodes()) as any[]).map((n) => [n.Description?.Hostname, n.Status?.State]))}`);
    });
    console.log(`      node swnode3 lost: 3 replicas on ${a.status.nodeSummary} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const nodes = (await swarm.manager.docker.listNodes()) as any[];
    expect(nodes.find((n) => n.Description?.Hostname === "swnode3")?.Status?.State).to.equal("down");
    expect(a.status.readyReplicas).to.equal(3);
  });
});

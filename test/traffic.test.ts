/**
 * Issue 11: traffic keeps flowing while Berth changes things. A steady load goes through a
 * Domain on a real Caddy to a 3-replica Application on the real engine while Berth rolls it
 * (maxSurge 1, maxUnavailable 0), loses a replica to `docker rm -f` (drift), and scales it
 * 3 → 1. Every replica Berth stops leaves the route table first; Caddy retries a refused or
 * broken connection of a safe request on another upstream. Target: zero failed requests, and
 * status telling the truth throughout: endpoints never empty, readyReplicas never below 3.
 */
import { expect } from "chai";
import { startBerth, type Berth } from "../src/main.js";
import { call, quietLogger, tempDir, removeDir } from "./helpers/berth.js";
import { requireCommands, requireReloadSafety, startCaddy, type TestCaddy } from "./helpers/caddy.js";
import { appContainers, cleanupProject, docker, ensureSlowHttpImage, handOverSpec, requireDocker, waitFor } from "./helpers/docker.js";
import { startLoad, type LoadResult } from "./helpers/load.js";

const G = "/apis/berth.dev/v1alpha1";
const P = `traffic-${process.pid}`;
const HOST = `web.${P}.test`;
interface StatusSample {
  at: number;
  readyReplicas: number;
  endpoints: number;
  phase: string;
}

describe("zero-downtime hand-over through a real Caddy", function () {
  this.timeout(300_000);
  let caddy: TestCaddy;
  let berth: Berth;
  let dataDir: string;
  const get = async () => (await call(berth, "GET", `${G}/namespaces/${P}/applications/web`)).body;
  const patch = async (body: unknown) => {
    const r = await call(berth, "PATCH", `${G}/namespaces/${P}/applications/web`, body, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
    return r.body;
  };
  const readyAt = (generation: number, replicas: number) =>
    waitFor(`web Ready at generation ${generation}`, async () => {
      const a = await get();
      const ready = a.status?.conditions?.find((c: any) => c.type === "Ready");
      return ready?.status === "True" && a.status.observedGeneration >= generation && a.status.readyReplicas === replicas ? a : undefined;
    }, 120_000, 100);

  /** Samples the Application's status every 100 ms while `fn` runs. */
  async function watchStatus<T>(fn: () => Promise<T>): Promise<{ result: T; samples: StatusSample[] }> {
    const samples: StatusSample[] = [];
    let on = true;
    const loop = (async () => {
      while (on) {
        const a = await get();
        samples.push({ at: Date.now(), readyReplicas: a.status?.readyReplicas ?? 0, endpoints: (a.status?.endpoints ?? []).length, phase: a.status?.phase });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      return { result: await fn(), samples };
    } finally {
      on = false;
      await loop;
    }
  }

  function report(what: string, r: LoadResult): void {
    console.log(`      ${what}: ${r.sent} requests at ${r.rate.toFixed(0)}/s, ${r.failed} failed, ${r.retried} retried after a keep-alive close, p50 ${r.p50} ms, p99 ${r.p99} ms${r.stalls.length ? `; ${r.stalls.join("; ")}` : ""}`);
  }

  /** GETs on keep-alive connections (100/s) and slow POSTs, never retried by anyone (20/s, 300 ms each). */
  function startTraffic(): { stop: () => Promise<{ gets: LoadResult; posts: LoadResult }> } {
    const gets = startLoad({ port: caddy.httpPort, host: HOST, rate: 100 });
    const posts = startLoad({ port: caddy.httpPort, host: HOST, path: "/cgi-bin/slow", method: "POST", keepAlive: false, rate: 20 });
    return { stop: async () => ({ gets: await gets.stop(), posts: await posts.stop() }) };
  }

  function expectNoFailures(what: string, t: { gets: LoadResult; posts: LoadResult }): void {
    if ((t.posts.failed || t.gets.failed) && process.env.BERTH_TEST_CADDY_LOGS) console.log(caddy.logs().split("\n").filter((l) => /error|502|upstream|load/i.test(l)).slice(-40).join("\n"));
    report(`${what}, GET`, t.gets);
    report(`${what}, slow POST`, t.posts);
    expect(t.gets.failed, t.gets.failures.join("\n")).to.equal(0);
    expect(t.posts.failed, t.posts.failures.join("\n")).to.equal(0);
    expect(t.posts.sent).to.be.greaterThan(10);
  }

  before(async function () {
    await requireDocker(this);
    requireCommands(this, ["caddy"]);
    requireReloadSafety(this);
    await ensureSlowHttpImage();
    caddy = await startCaddy();
    dataDir = tempDir("berth-traffic-");
    berth = await startBerth({ dataDir, listen: "127.0.0.1:0", logger: quietLogger(), controllers: true, resyncMs: 5000, router: { adminUrl: caddy.adminUrl, httpPort: caddy.httpPort, httpsPort: caddy.httpsPort, bindHost: "127.0.0.1" } });
    const project = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} });
    expect(project.status, project.text).to.equal(201);
    const app = await call(berth, "POST", `${G}/namespaces/${P}/applications`, {
      apiVersion: "berth.dev/v1alpha1",
      kind: "Application",
      metadata: { name: "web", namespace: P },
      spec: handOverSpec({ VERSION: "1" }),
    });
    expect(app.status, app.text).to.equal(201);
    const dom = await call(berth, "POST", `${G}/namespaces/${P}/domains`, { apiVersion: "berth.dev/v1alpha1", kind: "Domain", metadata: { name: "web", namespace: P }, spec: { host: HOST, target: { application: "web", port: 8080 } } });
    expect(dom.status, dom.text).to.equal(201);
    await readyAt(1, 3);
    await waitFor("the Domain routed to 3 upstreams", async () => {
      const d = (await call(berth, "GET", `${G}/namespaces/${P}/domains/web`)).body;
      return d.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True") && d.status.upstreams?.length === 3;
    }, 60_000);
  });

  after(async () => {
    await berth?.stop();
    await caddy?.stop();
    await cleanupProject(P).catch(() => undefined);
    removeDir(dataDir ?? "");
  });

  it("a rolling update of 3 replicas: 0 failed requests; endpoints never empty, readyReplicas never below 3", async () => {
    const load = startTraffic();
    const { samples } = await watchStatus(async () => {
      const gen = (await patch({ spec: { env: { VERSION: "2" } } })).metadata.generation;
      await readyAt(gen, 3);
    });
    const t = await load.stop();
    expectNoFailures("rolling update", t);
    expect(t.gets.sent).to.be.greaterThan(200);
    expect(Math.min(...samples.map((s) => s.endpoints)), "status.endpoints emptied while replicas were ready").to.be.at.least(3);
    expect(Math.min(...samples.map((s) => s.readyReplicas)), "readyReplicas dropped below 3 (maxUnavailable 0)").to.be.at.least(3);
    // The Domain's upstreams are exactly the Application's endpoints once it settled.
    const [a, d] = [await get(), (await call(berth, "GET", `${G}/namespaces/${P}/domains/web`)).body];
    expect(d.status.upstreams).to.deep.equal(a.status.endpoints);
  });

  it("a replica removed with docker rm -f (drift): 0 failed requests", async () => {
    const load = startLoad({ port: caddy.httpPort, host: HOST, rate: 100 });
    await new Promise((r) => setTimeout(r, 1000));
    // Only GETs here: a container killed unasked takes its in-flight requests with it; safe ones are retried by Caddy.
    const [victim] = (await appContainers(P, "web")).filter((c) => c.Names[0] === `/${P}-web-1`);
    await docker.getContainer(victim.Id).remove({ force: true });
    // Ready means the new container's own address is in status.endpoints: until its first
    // reconcile after the replacement, status still shows the victim's three.
    await waitFor("replica 1 replaced and Ready", async () => {
      const a = await get();
      const fresh = (await appContainers(P, "web")).find((c) => c.Names[0] === `/${P}-web-1` && c.Id !== victim.Id);
      const port = fresh?.Ports.find((p) => p.PublicPort)?.PublicPort;
      return port && a.status?.readyReplicas === 3 && a.status.endpoints.length === 3 && a.status.endpoints.includes(`127.0.0.1:${port}`);
    }, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    const r = await load.stop();
    report("docker rm -f of one replica", r);
    expect(r.failed, r.failures.join("\n")).to.equal(0);
  });

  it("a scale 3 → 1: the two that go leave the route before they stop; 0 failed requests", async () => {
    const load = startTraffic();
    const { samples } = await watchStatus(async () => {
      const gen = (await patch({ spec: { replicas: 1 } })).metadata.generation;
      await readyAt(gen, 1);
    });
    await new Promise((r) => setTimeout(r, 500));
    expectNoFailures("scale 3 → 1", await load.stop());
    expect(Math.min(...samples.map((s) => s.endpoints))).to.be.at.least(1);
    expect((await appContainers(P, "web")).map((c) => c.Names[0])).to.deep.equal([`/${P}-web-0`]);
  });
});

/**
 * Lists and watches at scale, as kubectl and client-node informers use them: pages (`limit`,
 * `continue`, one snapshot, `remainingItemCount`, 410 for a compacted token), selector-correct
 * watches (an object entering a label selection is ADDED, one leaving it DELETED) and the scale
 * subresource's API. One API-only `berth serve` on the machine's Postgres 15 (the suite holds
 * the controllers' leader lock, as test/kubectl.test.ts does); the scale subresource converging
 * containers is in test/rollout.test.ts.
 */
import { expect } from "chai";
import * as k8s from "@kubernetes/client-node";
import pg from "pg";
import { call, removeDir, spawnServe, tempDir, type ServeProcess } from "./helpers/berth.js";
import { failed, holdLeaderLock, killKubectls, ok, startKubectl, until, type KubectlRun } from "./helpers/kubectl.js";
import { startSystemPostgres, type TestPostgres } from "./helpers/postgres.js";

const G = "/apis/berth.dev/v1alpha1";
const A = "pages-a";
const B = "pages-b";

function app(namespace: string, name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  return { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace, labels }, spec: { source: { image: "berth-test/busybox:1" }, replicas: 1 } };
}

/** 150 Applications in A and 100 in B; every fifth one is labelled tier=web. */
function fleet(): Record<string, unknown>[] {
  const items: Record<string, unknown>[] = [];
  for (let i = 0; i < 250; i++) {
    const ns = i < 150 ? A : B;
    items.push(app(ns, `app-${String(i).padStart(3, "0")}`, i % 5 === 0 ? { tier: "web" } : { tier: "worker" }));
  }
  return items;
}

describe("pages, selector-correct watches and the scale subresource", function () {
  this.timeout(60_000);
  let postgres: TestPostgres;
  let work: string;
  let srv: ServeProcess;
  let db: pg.Client;
  let lock: pg.Client;
  const kubectl = (args: string[]): Promise<KubectlRun> => startKubectl(srv.kubeconfig, work, args).result;
  const patchLabels = async (ns: string, name: string, labels: Record<string, string | null>): Promise<void> => {
    const r = await call(srv, "PATCH", `${G}/namespaces/${ns}/applications/${name}`, { metadata: { labels } }, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
  };
  const list = async (query: string): Promise<any> => {
    const r = await call(srv, "GET", `${G}/applications?${query}`);
    expect(r.status, r.text).to.equal(200);
    return r.body;
  };
  /** Every page of a list, following `continue`. */
  const allPages = async (query: string, first?: any): Promise<{ pages: any[]; names: string[] }> => {
    const pages = [first ?? (await list(query))];
    while (pages[pages.length - 1].metadata.continue) pages.push(await list(`${query}&continue=${encodeURIComponent(pages[pages.length - 1].metadata.continue)}`));
    return { pages, names: pages.flatMap((p) => p.items.map((i: any) => `${i.metadata.namespace}/${i.metadata.name}`)) };
  };

  before(async () => {
    postgres = await startSystemPostgres();
    work = tempDir("berth-pages-");
    lock = await holdLeaderLock(postgres.url);
    srv = await spawnServe({ databaseUrl: postgres.url });
    db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    for (const ns of [A, B]) {
      const r = await call(srv, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: ns }, spec: {} });
      expect(r.status, r.text).to.equal(201);
    }
    const r = await call(srv, "POST", "/berth/v1/apply", { items: fleet() });
    expect(r.status, r.text).to.equal(200);
  });

  after(async () => {
    killKubectls();
    await srv?.stop();
    await db?.end();
    await lock?.end();
    await postgres?.stop();
    if (srv) removeDir(srv.dataDir);
    if (work) removeDir(work);
  });

  it("kubectl get applications -A --chunk-size=50 pages through 250 objects in 5 requests and prints all of them", async () => {
    const r = ok(await kubectl(["get", "applications", "-A", "--chunk-size=50", "-v=6"]));
    const requests = r.stderr.split("\n").filter((l) => /GET https:\S+\/applications\?\S*limit=50/.test(l));
    expect(requests.length, r.stderr).to.be.at.least(5);
    expect(requests.filter((l) => /continue=/.test(l)).length).to.be.at.least(4);
    const rows = r.stdout.trim().split("\n").slice(1);
    expect(requests.length, r.stderr).to.equal(5);
    expect(rows).to.have.length(250);
    expect(new Set(rows.map((l) => l.split(/\s+/).slice(0, 2).join("/"))).size).to.equal(250);
  });

  it("pages are one snapshot: what changes after the first page does not show, remainingItemCount counts the rest", async () => {
    const first = await list("limit=100");
    expect(first.items).to.have.length(100);
    expect(first.metadata.remainingItemCount).to.equal(150);
    expect(first.metadata.continue).to.be.a("string");
    const rv = Number(first.metadata.resourceVersion);
    const before = (await allPages("limit=100", first)).names;
    // Changed after the first page was read: a delete, a relabel and a create further on.
    expect((await call(srv, "DELETE", `${G}/namespaces/${B}/applications/app-200`)).status).to.equal(200);
    await patchLabels(B, "app-210", { tier: "changed" });
    expect((await call(srv, "POST", `${G}/namespaces/${B}/applications`, app(B, "app-999"))).status).to.equal(201);

    const { pages, names } = await allPages("limit=100", first);
    expect(names).to.deep.equal(before);
    expect(names).to.have.length(250).and.include(`${B}/app-200`).and.not.include(`${B}/app-999`);
    expect(pages.map((p) => p.items.length)).to.deep.equal([100, 100, 50]);
    expect(pages.map((p) => p.metadata.resourceVersion)).to.deep.equal([String(rv), String(rv), String(rv)]);
    expect(pages[1].metadata.remainingItemCount).to.equal(50);
    expect(pages[2].metadata).to.not.have.property("continue");
    const relabelled = pages.flatMap((p) => p.items).find((i: any) => i.metadata.name === "app-210");
    expect(relabelled.metadata.labels).to.deep.equal({ tier: "web" });
    expect(Number(relabelled.metadata.resourceVersion)).to.be.at.most(rv);

    // A new list sees the changes.
    const fresh = (await allPages("limit=100")).names;
    expect(fresh).to.include(`${B}/app-999`).and.not.include(`${B}/app-200`);
  });

  it("a label selector fills each page with matches and reports no remainingItemCount", async () => {
    const { pages, names } = await allPages(`labelSelector=${encodeURIComponent("tier=web")}&limit=10`);
    expect(pages.length).to.be.at.least(5);
    expect(pages.slice(0, -1).every((p) => p.items.length === 10 && p.metadata.continue)).to.equal(true);
    expect(pages.every((p) => p.metadata.remainingItemCount === undefined)).to.equal(true);
    const all = (await list(`labelSelector=${encodeURIComponent("tier=web")}`)).items.map((i: any) => `${i.metadata.namespace}/${i.metadata.name}`);
    expect(names).to.deep.equal(all);
    expect(names.length).to.be.greaterThan(40);
  });

  it("a continue token whose history was compacted is 410 Expired; one the server never issued is 400", async () => {
    const first = await list("limit=5");
    await patchLabels(A, "app-100", { touched: "yes" });
    await db.query(`DELETE FROM resource_changes WHERE rv < (SELECT max(rv) FROM resource_changes)`);
    const gone = await call(srv, "GET", `${G}/applications?limit=5&continue=${encodeURIComponent(first.metadata.continue)}`);
    expect(gone.status, gone.text).to.equal(410);
    expect(gone.body).to.include({ kind: "Status", reason: "Expired", code: 410 });
    const forged = await call(srv, "GET", `${G}/applications?limit=5&continue=not-a-token`);
    expect(forged.status, forged.text).to.equal(400);
    expect(forged.body.message).to.match(/continue key is not valid/);
    const badLimit = await call(srv, "GET", `${G}/applications?limit=-1`);
    expect(badLimit.status, badLimit.text).to.equal(400);
  });

  it("a label-selector watch sends ADDED when an object gains the label and DELETED when it loses it", async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(srv.kubeconfig);
    const from = (await list("limit=1")).metadata.resourceVersion;
    const events: string[] = [];
    const req = await new k8s.Watch(kc).watch(`${G}/namespaces/${A}/applications`, { labelSelector: "tier=web", resourceVersion: from }, (type, obj) => events.push(`${type} ${obj.metadata.name}`), () => undefined);
    try {
      await patchLabels(A, "app-001", { tier: "web" });
      await patchLabels(A, "app-001", { extra: "x" });
      await patchLabels(A, "app-001", { tier: "worker" });
      await patchLabels(A, "app-002", { extra: "y" });
      await until(`ADDED, MODIFIED, DELETED of app-001 (seen ${JSON.stringify(events)})`, () => events.length >= 3);
      await new Promise((r) => setTimeout(r, 300));
      expect(events).to.deep.equal(["ADDED app-001", "MODIFIED app-001", "DELETED app-001"]);
    } finally {
      req.abort();
    }
  });

  it("a label-selector informer sees objects enter and leave its selection, and a relist after 410 still pages", async function () {
    this.timeout(90_000);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(srv.kubeconfig);
    const api = kc.makeApiClient(k8s.CustomObjectsApi);
    let lists = 0;
    let pageRequests = 0;
    const listFn = async (): Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> => {
      lists++;
      const items: k8s.KubernetesObject[] = [];
      let token: string | undefined;
      let last: any;
      do {
        pageRequests++;
        last = await api.listNamespacedCustomObject({ group: "berth.dev", version: "v1alpha1", namespace: A, plural: "applications", labelSelector: "tier=web", limit: 10, _continue: token });
        items.push(...last.items);
        token = last.metadata.continue;
      } while (token);
      return { ...last, items, metadata: { resourceVersion: last.metadata.resourceVersion } };
    };
    const informer = k8s.makeInformer(kc, `${G}/namespaces/${A}/applications`, listFn, "tier=web");
    const seen: string[] = [];
    let informing = true;
    informer.on("add", (o) => seen.push(`add ${o.metadata!.name}`));
    informer.on("delete", (o) => seen.push(`delete ${o.metadata!.name}`));
    informer.on("error", () => {
      if (informing) setTimeout(() => informing && void informer.start().catch(() => undefined), 200);
    });
    await informer.start();
    try {
      const initial = informer.list(A).length;
      expect(initial).to.equal(30);
      expect(pageRequests, "30 matches in pages of 10").to.equal(3);
      await patchLabels(A, "app-003", { tier: "web" });
      await until(`add app-003 (seen ${JSON.stringify(seen)})`, () => seen.includes("add app-003"));
      await patchLabels(A, "app-003", { tier: "worker" });
      await until(`delete app-003 (seen ${JSON.stringify(seen)})`, () => seen.includes("delete app-003"));
      expect(informer.list(A).map((o) => o.metadata!.name)).to.not.include("app-003");

      // The log moves on and is compacted past the informer's version; the restarted server
      // answers its re-watch with 410 and the informer relists, page by page.
      await patchLabels(B, "app-150", { moved: "on" });
      await patchLabels(B, "app-151", { moved: "on" });
      await db.query(`DELETE FROM resource_changes WHERE rv < (SELECT max(rv) FROM resource_changes)`);
      const relisted = lists;
      const pagesBefore = pageRequests;
      const port = Number(new URL(srv.url).port);
      await srv.stop();
      srv = await spawnServe({ dataDir: srv.dataDir, port, databaseUrl: postgres.url });
      await until("the informer to relist after 410 Expired, in 3 pages", () => lists > relisted && pageRequests - pagesBefore >= 3, 20_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(pageRequests - pagesBefore).to.equal(3);
      expect(informer.list(A)).to.have.length(30);
      await patchLabels(A, "app-004", { tier: "web" });
      await until(`add app-004 after the relist (seen ${JSON.stringify(seen)})`, () => seen.includes("add app-004"));
    } finally {
      informing = false;
      await informer.stop();
    }
  });

  it("the scale subresource: kubectl scale sets spec.replicas, get --raw shows an autoscaling/v1 Scale, a stale precondition fails", async () => {
    ok(await kubectl(["scale", "app", "app-005", "-n", A, "--replicas=3"]));
    const stored = (await call(srv, "GET", `${G}/namespaces/${A}/applications/app-005`)).body;
    expect(stored.spec.replicas).to.equal(3);
    const raw = JSON.parse(ok(await kubectl(["get", "--raw", `${G}/namespaces/${A}/applications/app-005/scale`])).stdout);
    expect(raw).to.deep.include({ kind: "Scale", apiVersion: "autoscaling/v1" });
    expect(raw.spec).to.deep.equal({ replicas: 3 });
    expect(raw.metadata).to.include({ name: "app-005", namespace: A, resourceVersion: stored.metadata.resourceVersion });
    const stale = failed(await kubectl(["scale", "app", "app-005", "-n", A, "--current-replicas=2", "--replicas=4"]));
    expect(stale.stderr).to.match(/Expected replicas to be 2, was 3|precondition/i);
    const tooMany = failed(await kubectl(["scale", "app", "app-005", "-n", A, "--replicas=1000"]));
    expect(tooMany.stderr).to.match(/spec\.replicas/);
    expect((await call(srv, "GET", `${G}/namespaces/${A}/applications/app-005`)).body.spec.replicas).to.equal(3);
    const noScale = await call(srv, "GET", `${G}/namespaces/${A}/databases/x/scale`);
    expect(noScale.status).to.equal(404);
  });
});

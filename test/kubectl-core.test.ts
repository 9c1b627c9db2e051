/**
 * The remaining kubectl verbs (issue 14): generateName, field selectors with `!=`, selectors and
 * watches on core namespaces and events, `--sort-by` on events, `cluster-info`, `get all` and
 * `explain namespaces` — the real kubectl v1.32 against a real `berth serve` on the machine's
 * Postgres 15, set up as test/kubectl.test.ts does: the tests hold the controllers' leader lock,
 * so the server runs API-only and nothing touches Docker.
 */
import { expect } from "chai";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import type { DataSource } from "typeorm";
import { createDataSource } from "../src/store/data-source.js";
import { EventStore } from "../src/store/events.js";
import type { ResourceObject } from "../src/core/types.js";
import { call, removeDir, spawnServe, tempDir, type ServeProcess } from "./helpers/berth.js";
import { startSystemPostgres, type TestPostgres } from "./helpers/postgres.js";
import { missingPrerequisite } from "./helpers/prerequisites.js";
import { failed, holdLeaderLock, KUBECTL, killKubectls, ok, startKubectl, until, type KubectlBackground, type KubectlRun } from "./helpers/kubectl.js";

const G = "/apis/berth.dev/v1alpha1";
const NS = "core-a";
const NS2 = "core-b";
const SUFFIX = "[bcdfghjklmnpqrstvwxz2456789]{5}";

type Run = KubectlRun;
type Background = KubectlBackground;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `-o name` output as a sorted list. */
const names = (r: Run): string[] => r.stdout.split("\n").filter(Boolean).sort();

const app = (name: string, ns: string, labels: Record<string, string> = {}): Record<string, unknown> => ({
  apiVersion: "berth.dev/v1alpha1",
  kind: "Application",
  metadata: { name, namespace: ns, labels },
  spec: { source: { image: "berth-test/busybox:1" }, replicas: 1 },
});

describe("kubectl 1.32: the remaining verbs against berth serve", function () {
  this.timeout(60_000);
  let postgres: TestPostgres;
  let work: string;
  let srv: ServeProcess;
  let lock: pg.Client;
  let ds: DataSource;
  let events: EventStore;
  let cache: string;
  const kubectl = (args: string[], timeoutMs?: number): Promise<Run> => startKubectl(srv.kubeconfig, cache, args, timeoutMs).result;
  const background = (args: string[], timeoutMs?: number): Background => startKubectl(srv.kubeconfig, cache, args, timeoutMs);
  const file = (name: string, text: string): string => {
    const p = path.join(work, name);
    writeFileSync(p, text);
    return p;
  };
  const create = async (urlPath: string, body: unknown): Promise<any> => {
    const r = await call(srv, "POST", urlPath, body);
    expect(r.status, r.text).to.equal(201);
    return r.body;
  };
  const project = (name: string, labels: Record<string, string> = {}): Promise<any> => create(`${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name, labels }, spec: {} });
  const application = (name: string, ns: string, labels?: Record<string, string>): Promise<ResourceObject> => create(`${G}/namespaces/${ns}/applications`, app(name, ns, labels));

  before(async function () {
    if (!existsSync(KUBECTL)) missingPrerequisite(this, `kubectl is not installed at ${KUBECTL}`);
    postgres = await startSystemPostgres();
    work = tempDir("berth-kubectl-core-");
    cache = path.join(work, "kube-cache");
    lock = await holdLeaderLock(postgres.url);
    srv = await spawnServe({ databaseUrl: postgres.url });
    ds = createDataSource(postgres.url);
    await ds.initialize();
    events = new EventStore(ds);
    await project(NS, { team: "a" });
    await project(NS2, { team: "b" });
    await application("web", NS);
    await application("api", NS);
    await application("web", NS2);
  });

  after(async () => {
    killKubectls();
    await srv?.stop();
    if (ds?.isInitialized) await ds.destroy();
    await lock?.end();
    await postgres?.stop();
    if (srv) removeDir(srv.dataDir);
    if (work) removeDir(work);
  });

  describe("create with metadata.generateName", () => {
    const manifest = (prefix: string): string =>
      `apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata: {generateName: ${prefix}, namespace: ${NS}}\nspec: {source: {image: "berth-test/busybox:1"}}\n`;

    it("`kubectl create -f` names the object generateName + 5 random characters, a new name each time", async () => {
      const f = file("generated.yaml", manifest("worker-"));
      const first = ok(await kubectl(["create", "-f", f])).stdout.trim();
      const second = ok(await kubectl(["create", "-f", f])).stdout.trim();
      expect(first).to.match(new RegExp(`^application\\.berth\\.dev/worker-${SUFFIX} created$`));
      expect(second).to.match(new RegExp(`^application\\.berth\\.dev/worker-${SUFFIX} created$`));
      expect(second).to.not.equal(first);
      const name = first.split(" ")[0].split("/")[1];
      const got = ok(await kubectl(["get", "application", name, "-n", NS, "-o", "jsonpath={.metadata.name}"]));
      expect(got.stdout).to.equal(name);
    });

    it("cuts a long prefix so the generated name is still a valid 63-character name", async () => {
      const prefix = "a".repeat(70);
      const r = ok(await kubectl(["create", "-f", file("long.yaml", manifest(prefix)), "-o", "jsonpath={.metadata.name}"]));
      expect(r.stdout).to.match(new RegExp(`^a{58}${SUFFIX}$`));
    });

    it("validates the generated name (422), and a create with neither name nor generateName is still refused", async () => {
      const bad = failed(await kubectl(["create", "-f", file("bad.yaml", manifest("Bad_"))]));
      expect(bad.stderr).to.match(/is invalid: metadata\.name/);
      const r = await call(srv, "POST", `${G}/namespaces/${NS}/applications`, { ...app("", NS), metadata: { namespace: NS } });
      expect(r.status, r.text).to.equal(422);
      expect(r.body.message).to.contain("name or generateName is required");
    });
  });

  describe("field selectors with = == and !=", () => {
    it("lists with `metadata.name!=web` across namespaces, and combines terms", async () => {
      const all = names(ok(await kubectl(["get", "applications", "-A", "--field-selector", "metadata.name!=web", "-o", "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{\"\\n\"}{end}"])));
      expect(all).to.include(`${NS}/api`);
      expect(all.filter((n) => n.endsWith("/web"))).to.deep.equal([]);
      const two = names(ok(await kubectl(["get", "applications", "-A", "--field-selector", `metadata.namespace==${NS2},metadata.name=web`, "-o", "name"])));
      expect(two).to.deep.equal(["application.berth.dev/web"]);
      const none = ok(await kubectl(["get", "applications", "-A", "--field-selector", `metadata.namespace!=${NS},metadata.namespace!=${NS2}`]));
      expect(none.stdout + none.stderr).to.contain("No resources found");
    });

    it("refuses field labels it does not know (400 field label not supported)", async () => {
      const r = failed(await kubectl(["get", "applications", "-n", NS, "--field-selector", "spec.replicas=1"]));
      expect(r.stderr).to.contain("field label not supported: spec.replicas");
    });

    it("watches with `metadata.name!=web`: changes of web are not sent, of others they are", async () => {
      const w = background(["get", "applications", "-A", "-w", "--field-selector", "metadata.name!=web", "-o", "name"], 20_000);
      await until("the initial list", () => w.stdout().includes("application.berth.dev/api"));
      const r = await call(srv, "PATCH", `${G}/namespaces/${NS}/applications/web`, { metadata: { labels: { touched: "yes" } } }, { contentType: "application/merge-patch+json" });
      expect(r.status, r.text).to.equal(200);
      await application("watched", NS);
      await until(`the new object in\n${w.stdout()}`, () => w.stdout().includes("application.berth.dev/watched"));
      await sleep(500);
      w.child.kill("SIGTERM");
      expect(w.stdout()).to.not.match(/\/web$/m);
    });
  });

  describe("namespaces", () => {
    it("honours -l and --field-selector (metadata.name, status.phase)", async () => {
      expect(names(ok(await kubectl(["get", "namespaces", "-l", "team=a", "-o", "name"])))).to.deep.equal([`namespace/${NS}`]);
      expect(names(ok(await kubectl(["get", "namespaces", "-l", "team", "-o", "name"])))).to.deep.equal([`namespace/${NS}`, `namespace/${NS2}`]);
      expect(names(ok(await kubectl(["get", "namespaces", "--field-selector", `metadata.name!=${NS}`, "-o", "name"])))).to.deep.equal([`namespace/${NS2}`]);
      expect(names(ok(await kubectl(["get", "namespaces", "--field-selector", `status.phase=Active,metadata.name=${NS2}`, "-o", "name"])))).to.deep.equal([`namespace/${NS2}`]);
      const none = ok(await kubectl(["get", "namespaces", "--field-selector", "status.phase=Terminating"]));
      expect(none.stdout + none.stderr).to.contain("No resources found");
      failed(await kubectl(["get", "namespaces", "--field-selector", "spec.x=1"]));
    });

    it("`kubectl get ns -w` streams: a new Project appears as a Namespace row", async () => {
      const w = background(["get", "namespaces", "-w", "-l", "watch=me"], 20_000);
      await sleep(1500);
      await project("core-watched", { watch: "me" });
      await project("core-unwatched", { watch: "not-me" });
      await until("the new namespace", () => /^core-watched\s+Active\s+/m.test(w.stdout()));
      await sleep(500);
      expect(w.child.exitCode, `still streaming\n${w.stderr()}`).to.equal(null);
      w.child.kill("SIGTERM");
      expect(w.stdout()).to.not.contain("core-unwatched");
    });
  });

  describe("events", () => {
    let web: ResourceObject;
    let api: ResourceObject;

    before(async () => {
      web = (await call(srv, "GET", `${G}/namespaces/${NS}/applications/web`)).body;
      api = (await call(srv, "GET", `${G}/namespaces/${NS}/applications/api`)).body;
      await events.record(web, { type: "Normal", reason: "Deployed", message: "web is up" });
      await sleep(20);
      await events.record(api, { type: "Warning", reason: "HealthcheckFailed", message: "api answered 503" });
      await sleep(20);
      await events.record(web, { type: "Warning", reason: "Degraded", message: "web lost a replica" });
    });

    const objects = async (args: string[]): Promise<string[]> => names(ok(await kubectl(["get", "events", "-n", NS, ...args, "-o", "jsonpath={range .items[*]}{.involvedObject.name}/{.reason}{\"\\n\"}{end}"])));

    it("honours --field-selector on involvedObject.*, type, reason and metadata.*, with = and !=", async () => {
      expect(await objects(["--field-selector", "involvedObject.name=web"])).to.deep.equal(["web/Degraded", "web/Deployed"]);
      expect(await objects(["--field-selector", "involvedObject.name!=web"])).to.deep.equal(["api/HealthcheckFailed"]);
      expect(await objects(["--field-selector", "type=Warning,involvedObject.kind=Application"])).to.deep.equal(["api/HealthcheckFailed", "web/Degraded"]);
      expect(await objects(["--field-selector", "reason!=Deployed,involvedObject.namespace=" + NS])).to.deep.equal(["api/HealthcheckFailed", "web/Degraded"]);
      expect(await objects(["--field-selector", `metadata.namespace=${NS},type!=Warning`])).to.deep.equal(["web/Deployed"]);
      const r = failed(await kubectl(["get", "events", "-n", NS, "--field-selector", "involvedObject.colour=red"]));
      expect(r.stderr).to.contain("field label not supported: involvedObject.colour");
    });

    it("honours -l: Berth's events carry no labels, so `-l x=y` finds none and `-l '!x'` finds all", async () => {
      const none = ok(await kubectl(["get", "events", "-n", NS, "-l", "x=y"]));
      expect(none.stdout + none.stderr).to.contain("No resources found");
      expect(await objects(["-l", "!x"])).to.have.length(3);
    });

    it("`--sort-by=.lastTimestamp` prints the rows, oldest first", async () => {
      const r = ok(await kubectl(["get", "events", "-n", NS, "--sort-by=.lastTimestamp"]));
      const rows = r.stdout.split("\n").filter((l) => /application\//.test(l));
      expect(rows.map((l) => l.match(/(Deployed|HealthcheckFailed|Degraded)/)?.[1])).to.deep.equal(["Deployed", "HealthcheckFailed", "Degraded"]);
      const reversed = ok(await kubectl(["get", "events", "-n", NS, "--sort-by=.metadata.creationTimestamp", "-o", "name"]));
      expect(reversed.stdout.trim().split("\n")).to.have.length(3);
    });

    it("`kubectl get events -w` streams new and repeated events", async () => {
      const w = background(["get", "events", "-n", NS, "-w", "--field-selector", "involvedObject.name=api"], 25_000);
      await until("the listed event", () => w.stdout().includes("HealthcheckFailed"));
      await events.record(api, { type: "Normal", reason: "ScaledUp", message: "api has 2 replicas" });
      await events.record(web, { type: "Normal", reason: "NotForThisWatch", message: "web" });
      await until("the new event", () => w.stdout().includes("ScaledUp"), 10_000);
      await sleep(1500);
      expect(w.child.exitCode, `still streaming\n${w.stderr()}`).to.equal(null);
      w.child.kill("SIGTERM");
      expect(w.stdout()).to.not.contain("NotForThisWatch");
    });

    it("`kubectl events -w` keeps streaming", async () => {
      const w = background(["events", "-n", NS, "-w"], 25_000);
      await until("the listed events", () => w.stdout().includes("Degraded"));
      await sleep(1500);
      expect(w.child.exitCode, `kubectl events -w must not exit\nstdout: ${w.stdout()}\nstderr: ${w.stderr()}`).to.equal(null);
      await events.record(api, { type: "Warning", reason: "BackOff", message: "api restarts" });
      await until("the new event", () => w.stdout().includes("BackOff"), 10_000);
      w.child.kill("SIGTERM");
    });

    it("serves the watch protocol on /api/v1/events: ADDED for a new event, MODIFIED for a repeat", async () => {
      const list = await call(srv, "GET", `/api/v1/namespaces/${NS}/events`);
      expect(list.status, list.text).to.equal(200);
      const rv = list.body.metadata.resourceVersion;
      expect(Number(rv)).to.be.greaterThan(0);
      const got: any[] = [];
      const w = background(["get", "--raw", `/api/v1/namespaces/${NS}/events?watch=true&resourceVersion=${rv}&fieldSelector=involvedObject.name%3Dweb`], 20_000);
      await sleep(500);
      await events.record(web, { type: "Normal", reason: "Fresh", message: "new" });
      await events.record(web, { type: "Normal", reason: "Deployed", message: "web is up" });
      await until("two watch events", () => {
        got.splice(0, got.length, ...w.stdout().split("\n").filter(Boolean).map((l) => JSON.parse(l)));
        return got.length >= 2;
      });
      w.child.kill("SIGTERM");
      expect(got.map((e) => [e.type, e.object.reason, e.object.count])).to.deep.equal([
        ["ADDED", "Fresh", 1],
        ["MODIFIED", "Deployed", 2],
      ]);
    });
  });

  describe("services, cluster-info, get all, explain", () => {
    it("`kubectl cluster-info` prints the control plane line", async () => {
      const r = ok(await kubectl(["cluster-info"]));
      expect(r.stdout).to.contain(`Kubernetes control plane is running at ${srv.url}`);
    });

    it("serves an empty core services list; GET of one is 404", async () => {
      const r = ok(await kubectl(["get", "services", "-A"]));
      expect(r.stdout + r.stderr).to.contain("No resources found");
      const one = failed(await kubectl(["get", "service", "kubernetes", "-n", NS]));
      expect(one.stderr).to.contain(`services "kubernetes" not found`);
    });

    it("`kubectl get all -n NS` lists the Berth objects in the Project", async () => {
      const r = ok(await kubectl(["get", "all", "-n", NS2, "-o", "name"]));
      expect(names(r)).to.deep.equal(["application.berth.dev/web"]);
      const table = ok(await kubectl(["get", "all", "-n", NS]));
      expect(table.stdout).to.match(/^application\.berth\.dev\/api\s/m);
      const short = ok(await kubectl(["get", "app,dom,db", "-n", NS2, "-o", "name"]));
      expect(names(short)).to.deep.equal(["application.berth.dev/web"]);
    });

    it("`kubectl explain namespaces` describes Namespace and its fields", async () => {
      const r = ok(await kubectl(["explain", "namespaces"]));
      expect(r.stdout).to.match(/^KIND:\s+Namespace$/m);
      expect(r.stdout).to.match(/^VERSION:\s+v1$/m);
      for (const field of ["apiVersion", "kind", "metadata", "spec", "status"]) expect(r.stdout).to.match(new RegExp(`^\\s+${field}\\s+<`, "m"));
      const phase = ok(await kubectl(["explain", "namespaces.status.phase"]));
      expect(phase.stdout).to.contain("Terminating");
      const meta = ok(await kubectl(["explain", "namespace.metadata.labels"]));
      expect(meta.stdout).to.match(/FIELD:\s+labels/);
    });
  });
});

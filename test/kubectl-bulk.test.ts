/**
 * Bulk operations with the real kubectl (/usr/bin/kubectl, v1.32) against a real `berth serve`
 * on the machine's Postgres 15, with its controllers on the real Docker engine (issue 14):
 *   - deletecollection (`kubectl delete --raw` on a collection URL): one transaction, the list of
 *     what was deleted, dryRun=All;
 *   - `kubectl delete --cascade=orphan`: refused with a 400 naming the option, nothing deleted;
 *   - kubectl's ApplySet (`KUBECTL_APPLYSET=true kubectl apply --prune --applyset=projects.berth.dev/P`)
 *     with a Project as the parent, served through the read-only apiextensions API.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import YAML from "yaml";
import { call, removeDir, spawnServe, tempDir, type ServeProcess } from "./helpers/berth.js";
import { appContainers, BUSYBOX_IMAGE, cleanupProject, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";
import { startSystemPostgres, type TestPostgres } from "./helpers/postgres.js";

const KUBECTL = "/usr/bin/kubectl";
const G = "/apis/berth.dev/v1alpha1";
const HOLD = "example.com/hold";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function ok(r: Run): Run {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
  return r;
}

function suspended(ns: string, name: string, labels: Record<string, string> = {}, finalizers: string[] = []): string {
  return JSON.stringify({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace: ns, labels, ...(finalizers.length ? { finalizers } : {}) }, spec: { source: { image: BUSYBOX_IMAGE }, suspend: true } });
}

describe("kubectl bulk operations: deletecollection, --cascade=orphan, ApplySet", function () {
  this.timeout(120_000);
  let postgres: TestPostgres;
  let srv: ServeProcess;
  let db: pg.Client;
  let work: string;
  let cache: string;
  const projects: string[] = [];

  const kubectl = (args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<Run> =>
    new Promise((resolve) => {
      const child = spawn(KUBECTL, args, { env: { ...process.env, KUBECONFIG: srv.kubeconfig, KUBECACHEDIR: cache, ...env }, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  const file = (name: string, text: string): string => {
    const p = path.join(work, name);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
    return p;
  };
  const project = async (name: string): Promise<string> => {
    const full = `${name}-${process.pid}`;
    projects.push(full);
    ok(await kubectl(["apply", "-f", file(`${full}.json`, JSON.stringify({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: full }, spec: {} }))]));
    return full;
  };
  const getApp = async (ns: string, name: string): Promise<any> => {
    const r = await call(srv, "GET", `${G}/namespaces/${ns}/applications/${name}`);
    return r.status === 200 ? r.body : undefined;
  };
  const appNames = async (ns: string): Promise<string[]> => (await call(srv, "GET", `${G}/namespaces/${ns}/applications`)).body.items.map((o: any) => o.metadata.name).sort();

  before(async function () {
    await requireDocker(this);
    await ensureBusyboxImage();
    postgres = await startSystemPostgres();
    work = tempDir("berth-bulk-");
    cache = path.join(work, "kube-cache");
    srv = await spawnServe({ databaseUrl: postgres.url });
    db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
  });

  after(async () => {
    for (const p of projects) await cleanupProject(p).catch(() => undefined);
    await srv?.stop();
    await db?.end();
    await postgres?.stop();
    if (srv) removeDir(srv.dataDir);
    if (work) removeDir(work);
  });

  describe("deletecollection", () => {
    let ns: string;

    before(async () => {
      ns = await project("bulk-dc");
      const docs = [
        suspended(ns, "batch-a", { tier: "batch" }),
        suspended(ns, "batch-b", { tier: "batch" }),
        suspended(ns, "batch-held", { tier: "batch" }, [HOLD]),
        suspended(ns, "web", { tier: "web" }),
        suspended(ns, "solo", { tier: "solo" }),
      ];
      ok(await kubectl(["apply", "-f", file("dc.yaml", docs.map((d) => YAML.stringify(JSON.parse(d))).join("---\n"))]));
      // The controller's own finalizer is on before anything is deleted, as in real use.
      await waitFor("finalizers added", async () => {
        const items = (await call(srv, "GET", `${G}/namespaces/${ns}/applications`)).body.items as any[];
        return items.length === 5 && items.every((o) => (o.metadata.finalizers ?? []).includes("berth.dev/runtime"));
      });
    });

    it("is in discovery (kubectl api-resources -o wide lists the verb)", async () => {
      const r = ok(await kubectl(["api-resources", "--api-group=berth.dev", "-o", "wide"]));
      const line = r.stdout.split("\n").find((l) => l.startsWith("applications "));
      expect(line, r.stdout).to.include("deletecollection");
    });

    it("dryRun=All answers with the list and deletes nothing", async () => {
      const before = (await db.query(`SELECT coalesce(max(rv), 0) AS rv FROM resource_changes`)).rows[0].rv;
      const r = ok(await kubectl(["delete", "--raw", `${G}/namespaces/${ns}/applications?labelSelector=tier%3Dbatch&dryRun=All`]));
      const list = JSON.parse(r.stdout);
      expect(list.kind).to.equal("ApplicationList");
      expect(list.items.map((o: any) => o.metadata.name).sort()).to.deep.equal(["batch-a", "batch-b", "batch-held"]);
      expect(await appNames(ns)).to.deep.equal(["batch-a", "batch-b", "batch-held", "solo", "web"]);
      for (const name of ["batch-a", "batch-b", "batch-held"]) expect((await getApp(ns, name)).metadata.deletionTimestamp).to.equal(undefined);
      expect((await db.query(`SELECT coalesce(max(rv), 0) AS rv FROM resource_changes`)).rows[0].rv).to.equal(before);
    });

    it("deletes every object the label selector matches in one transaction and lists them, with deletionTimestamp where finalizers hold them", async () => {
      const before = Number((await db.query(`SELECT coalesce(max(rv), 0) AS rv FROM resource_changes`)).rows[0].rv);
      const r = ok(await kubectl(["delete", "--raw", `${G}/namespaces/${ns}/applications?labelSelector=tier%3Dbatch`]));
      const list = JSON.parse(r.stdout);
      expect(list.kind).to.equal("ApplicationList");
      expect(list.apiVersion).to.equal("berth.dev/v1alpha1");
      const byName = Object.fromEntries(list.items.map((o: any) => [o.metadata.name, o]));
      expect(Object.keys(byName).sort()).to.deep.equal(["batch-a", "batch-b", "batch-held"]);
      // The controller's finalizer holds all three at first: marked, not yet gone.
      for (const o of Object.values(byName) as any[]) expect(o.metadata.deletionTimestamp, o.metadata.name).to.be.a("string");
      // One transaction: the three change-log rows of the request share one inserting transaction id.
      const rows = (await db.query(`SELECT name, xmin::text AS tx FROM resource_changes WHERE rv > $1 AND namespace = $2 AND name LIKE 'batch-%' AND event_type = 'MODIFIED' AND NOT status_only ORDER BY rv LIMIT 3`, [before, ns])).rows;
      expect(rows.map((x) => x.name).sort()).to.deep.equal(["batch-a", "batch-b", "batch-held"]);
      expect(new Set(rows.map((x) => x.tx)).size).to.equal(1);
      // The controller finalizes them; the user's finalizer keeps one Terminating.
      await waitFor("batch-a and batch-b gone", async () => !(await getApp(ns, "batch-a")) && !(await getApp(ns, "batch-b")));
      const held = await getApp(ns, "batch-held");
      expect(held.metadata.deletionTimestamp).to.be.a("string");
      expect(held.metadata.finalizers).to.deep.equal([HOLD]);
      expect(await getApp(ns, "web")).to.not.equal(undefined);
      // Deleting it again lists it again (still held), and stores nothing new.
      const again = JSON.parse(ok(await kubectl(["delete", "--raw", `${G}/namespaces/${ns}/applications?labelSelector=tier%3Dbatch`])).stdout);
      expect(again.items.map((o: any) => o.metadata.name)).to.deep.equal(["batch-held"]);
      ok(await kubectl(["patch", "application", "batch-held", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}']));
      await waitFor("batch-held gone", async () => !(await getApp(ns, "batch-held")));
    });

    it("honours a field selector on metadata.name", async () => {
      const r = ok(await kubectl(["delete", "--raw", `${G}/namespaces/${ns}/applications?fieldSelector=metadata.name%3Dsolo`]));
      expect(JSON.parse(r.stdout).items.map((o: any) => o.metadata.name)).to.deep.equal(["solo"]);
      await waitFor("solo gone", async () => !(await getApp(ns, "solo")));
      expect(await appNames(ns)).to.deep.equal(["web"]);
    });
  });

  describe("--cascade=orphan", () => {
    let ns: string;

    before(async () => {
      ns = await project("bulk-orphan");
      const web = { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "web", namespace: ns }, spec: { source: { image: BUSYBOX_IMAGE }, replicas: 1, command: ["httpd", "-f", "-p", "8080", "-h", "/www"], stopGracePeriod: "1s" } };
      ok(await kubectl(["apply", "-f", file("orphan.json", JSON.stringify(web))]));
      await waitFor("web running", async () => (await appContainers(ns, "web")).some((c) => c.State === "running"), 90_000);
    });

    it("kubectl delete app web --cascade=orphan is refused with a 400 naming the option; the Application and its container stay", async () => {
      const [container] = await appContainers(ns, "web");
      const r = await kubectl(["delete", "app", "web", "-n", ns, "--cascade=orphan"]);
      expect(r.code, r.stdout + r.stderr).to.not.equal(0);
      expect(r.stderr).to.include("Error from server (BadRequest)");
      expect(r.stderr).to.include(`propagationPolicy "Orphan"`);
      expect(r.stderr).to.include("--cascade=orphan");
      const app = await getApp(ns, "web");
      expect(app.metadata.deletionTimestamp).to.equal(undefined);
      const now = await appContainers(ns, "web");
      expect(now.map((c) => [c.Id, c.State])).to.deep.equal([[container.Id, "running"]]);
    });

    it("the query parameter and orphanDependents are refused the same way, also on a collection", async () => {
      for (const q of ["propagationPolicy=Orphan", "orphanDependents=true"]) {
        const r = await call(srv, "DELETE", `${G}/namespaces/${ns}/applications/web?${q}`);
        expect(r.status, r.text).to.equal(400);
        expect(r.body.kind).to.equal("Status");
        expect(r.body.details.causes[0].field).to.equal("propagationPolicy");
      }
      const c = await call(srv, "DELETE", `${G}/namespaces/${ns}/applications`, { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Orphan" });
      expect(c.status, c.text).to.equal(400);
      const bad = await call(srv, "DELETE", `${G}/namespaces/${ns}/applications/web`, { propagationPolicy: "Sideways" });
      expect(bad.status, bad.text).to.equal(400);
      expect((await getApp(ns, "web")).metadata.deletionTimestamp).to.equal(undefined);
    });

    it("--cascade=foreground keeps today's behaviour: the container is removed, then the Application", async () => {
      ok(await kubectl(["delete", "app", "web", "-n", ns, "--cascade=foreground", "--timeout=60s"], {}, 90_000));
      expect(await getApp(ns, "web")).to.equal(undefined);
      expect(await appContainers(ns, "web")).to.deep.equal([]);
    });
  });

  describe("ApplySet with a Project as the parent", () => {
    it("serves the CRDs read-only through apiextensions.k8s.io, the Project's labelled as an ApplySet parent type", async () => {
      const r = ok(await kubectl(["get", "crd", "-l", "applyset.kubernetes.io/is-parent-type", "-o", "name"]));
      expect(r.stdout.trim()).to.equal("customresourcedefinition.apiextensions.k8s.io/projects.berth.dev");
      expect(ok(await kubectl(["get", "crd", "applications.berth.dev", "-o", "jsonpath={.spec.names.kind}"])).stdout).to.equal("Application");
      const del = await kubectl(["delete", "crd", "applications.berth.dev"]);
      expect(del.code).to.not.equal(0);
      expect(del.stderr).to.include("MethodNotAllowed");
    });

    it("prunes an Application removed from the directory, and leaves one created by hand alone", async () => {
      const ns = await project("bulk-as");
      const id = `applyset-${createHash("sha256").update(`${ns}..Project.berth.dev`).digest("base64url")}-v1`;
      // kubectl creates no custom-resource parent itself: the Project is made one (docs/kubectl.md).
      ok(await kubectl(["label", "project", ns, `applyset.kubernetes.io/id=${id}`]));
      ok(await kubectl(["annotate", "project", ns, "applyset.kubernetes.io/tooling=kubectl/v1.32", "applyset.kubernetes.io/contains-group-kinds="]));
      const dir = path.join(work, "applyset");
      file("applyset/one.json", suspended(ns, "one"));
      file("applyset/two.json", suspended(ns, "two"));
      const env = { KUBECTL_APPLYSET: "true" };
      const apply = (): Promise<Run> => kubectl(["apply", "--prune", `--applyset=projects.berth.dev/${ns}`, "-f", dir], env);
      const first = ok(await apply());
      expect(first.stdout).to.include("application.berth.dev/one created").and.include("application.berth.dev/two created");
      ok(await kubectl(["create", "-f", file("byhand.json", suspended(ns, "byhand"))]));
      const parent = (await call(srv, "GET", `${G}/projects/${ns}`)).body;
      expect(parent.metadata.annotations["applyset.kubernetes.io/contains-group-kinds"]).to.equal("Application.berth.dev");
      expect((await getApp(ns, "one")).metadata.labels["applyset.kubernetes.io/part-of"]).to.equal(id);

      rmSync(path.join(dir, "two.json"));
      const second = ok(await apply());
      expect(second.stdout).to.include("application.berth.dev/one unchanged").and.include("application.berth.dev/two pruned");
      await waitFor("two gone", async () => !(await getApp(ns, "two")));
      expect(await appNames(ns)).to.deep.equal(["byhand", "one"]);
    });
  });
});

/**
 * The real kubectl (/usr/bin/kubectl, which picks its bundled v1.32 from our /version) and
 * @kubernetes/client-node 1.4 against a real `berth serve` process, through the kubeconfig
 * that `berth serve` writes. See docs/kubectl.md for what is expected to work and why.
 *
 * One `berth serve` for the whole file, on an external Postgres (the machine's Postgres 15)
 * so the tests can read the store's tables and compact its change log. The tests hold the
 * controllers' leader lock on that database, so the server runs as an API-only replica
 * (DESIGN.md §2, HA): no controller rewrites the status and finalizers the tests set by
 * hand, and nothing is started in Docker. The client-node suite runs last and restarts it.
 */
import { expect } from "chai";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";
import pg from "pg";
import YAML from "yaml";
import { findKind } from "../src/core/kinds.js";
import { createDataSource } from "../src/store/data-source.js";
import { EventStore } from "../src/store/events.js";
import { SecretBox } from "../src/store/secrets.js";
import { call, removeDir, REPO, spawnServe, tempDir, type ServeProcess } from "./helpers/berth.js";
import { failed, holdLeaderLock, KUBECTL, killKubectls, ok, startKubectl, until, type KubectlBackground, type KubectlRun } from "./helpers/kubectl.js";
import { startSystemPostgres, type TestPostgres } from "./helpers/postgres.js";
import { missingPrerequisite } from "./helpers/prerequisites.js";

const G = "/apis/berth.dev/v1alpha1";
const NS = "my-saas-app";
const STACK = path.join(REPO, "examples", "stack.yaml");
const SEALED = /^sealed:v1:[A-Za-z0-9_-]+$/;

type Run = KubectlRun;
type Background = KubectlBackground;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A table printed by kubectl as rows of cells (split on runs of 2+ spaces). */
function tableOf(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split("\n").filter((l) => l.trim());
  const starts: number[] = [];
  const header = lines[0];
  for (const m of header.matchAll(/\S+/g)) starts.push(m.index);
  const cut = (l: string): string[] => starts.map((s, i) => l.slice(s, starts[i + 1]).trim());
  return { header: header.split(/\s+/).filter(Boolean), rows: lines.slice(1).map(cut) };
}

/** Reads a raw watch stream until `done` says stop (or timeout), returning the events. */
async function readWatch(srv: ServeProcess, urlPath: string, accept: string, done: (events: any[]) => boolean, timeoutMs = 8000): Promise<any[]> {
  const url = new URL(urlPath, srv.url);
  return await new Promise((resolve, reject) => {
    const events: any[] = [];
    const req = https.request(url, { headers: { Authorization: `Bearer ${srv.token}`, Accept: accept }, ca: srv.caPem }, (res) => {
      let buf = "";
      res.on("data", (c: Buffer) => {
        buf += c.toString();
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) {
          events.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
        if (done(events)) {
          clearTimeout(timer);
          req.destroy();
          resolve(events);
        }
      });
      res.on("end", () => resolve(events));
    });
    const timer = setTimeout(() => {
      req.destroy();
      resolve(events);
    }, timeoutMs);
    req.on("error", (e) => (done(events) ? resolve(events) : reject(e)));
    req.end();
  });
}

describe("kubectl and Kubernetes client libraries against berth serve", function () {
  this.timeout(60_000);
  let postgres: TestPostgres;
  let work: string;
  let srv: ServeProcess;
  let db: pg.Client;
  let lock: pg.Client;

  before(async () => {
    postgres = await startSystemPostgres();
    work = tempDir("berth-kubectl-");
    lock = await holdLeaderLock(postgres.url);
    srv = await spawnServe({ databaseUrl: postgres.url });
    db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
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

  describe("kubectl 1.32", () => {
    let cache: string;
    const kubectl = (args: string[], timeoutMs?: number): Promise<Run> => startKubectl(srv.kubeconfig, cache, args, timeoutMs).result;
    const background = (args: string[], timeoutMs?: number): Background => startKubectl(srv.kubeconfig, cache, args, timeoutMs);
    const file = (name: string, text: string): string => {
      const p = path.join(work, name);
      writeFileSync(p, text);
      return p;
    };
    /** The stored object, read directly (faster than kubectl where kubectl is not under test). */
    const getJson = async (kind: string, name: string): Promise<any> => {
      const k = findKind(kind)!;
      const r = await call(srv, "GET", k.namespaced ? `${G}/namespaces/${NS}/${k.plural}/${name}` : `${G}/${k.plural}/${name}`);
      expect(r.status, r.text).to.equal(200);
      return r.body;
    };
    const maxRv = async (): Promise<number> => Number((await db.query(`SELECT coalesce(max(rv), 0) AS rv FROM resource_changes`)).rows[0].rv);
    const rvOf = async (plural: string, name: string): Promise<string> => {
      const r = await call(srv, "GET", plural === "projects" ? `${G}/projects/${name}` : `${G}/namespaces/${NS}/${plural}/${name}`);
      expect(r.status, r.text).to.equal(200);
      return r.body.metadata.resourceVersion;
    };
    const setStatus = async (plural: string, name: string, status: Record<string, unknown>): Promise<void> => {
      const r = await call(srv, "PATCH", `${G}/namespaces/${NS}/${plural}/${name}/status`, { status }, { contentType: "application/merge-patch+json" });
      expect(r.status, r.text).to.equal(200);
    };

    before(function () {
      if (!existsSync(KUBECTL)) missingPrerequisite(this, `kubectl is not installed at ${KUBECTL}`);
      cache = path.join(work, "kube-cache");
    });

    it("uses the kubeconfig berth serve wrote, and talks to it as v1.32", async () => {
      const r = ok(await kubectl(["version", "-o", "json"]));
      const v = JSON.parse(r.stdout);
      expect(v.serverVersion.minor).to.equal("32");
      expect(v.clientVersion.gitVersion, "the dispatcher ran its bundled v1.32").to.match(/^v1\.32\./);
      const kc = YAML.parse(readFileSync(srv.kubeconfig, "utf8"));
      expect(kc.clusters[0].cluster.server).to.equal(srv.url);
    });

    describe("apply (client-side)", () => {
      it("creates the example stack", async () => {
        const r = ok(await kubectl(["apply", "-f", STACK]));
        expect(r.stdout.trim().split("\n")).to.deep.equal([
          "project.berth.dev/my-saas-app created",
          "database.berth.dev/app-postgres created",
          "application.berth.dev/api-service created",
          "domain.berth.dev/api created",
        ]);
      });

      it("re-applied unchanged, stores nothing: `unchanged`, and `configured` for the Application whose secretEnv it cannot read back", async () => {
        const before = { rv: await maxRv(), app: await rvOf("applications", "api-service") };
        const r = ok(await kubectl(["apply", "-f", STACK]));
        expect(r.stdout.trim().split("\n")).to.deep.equal([
          "project.berth.dev/my-saas-app unchanged",
          "database.berth.dev/app-postgres unchanged",
          // kubectl's three-way merge sees "s3cr3t" against a sealed string and sends a patch;
          // the server finds the same secret and stores nothing (docs/kubectl.md).
          "application.berth.dev/api-service configured",
          "domain.berth.dev/api unchanged",
        ]);
        expect(await rvOf("applications", "api-service")).to.equal(before.app);
        expect(await maxRv(), "no change was written anywhere").to.equal(before.rv);
        const app = await getJson("application", "api-service");
        expect(app.spec.secretEnv.API_KEY).to.match(SEALED);
        expect(JSON.stringify(app)).to.not.contain("s3cr3t");
      });

      it("applies an edited copy: `configured` for what changed, `unchanged` for the rest; the secret is not re-encrypted", async () => {
        const secretBefore = (await db.query(`SELECT spec->'secretEnv'->>'API_KEY' AS s FROM applications WHERE name = 'api-service'`)).rows[0].s;
        expect(secretBefore).to.match(/^enc:v1:/);
        const edited = file("stack-edited.yaml", readFileSync(STACK, "utf8").replace("replicas: 3", "replicas: 5").replace("retention: 7", "retention: 14"));
        const r = ok(await kubectl(["apply", "-f", edited]));
        expect(r.stdout.trim().split("\n")).to.deep.equal([
          "project.berth.dev/my-saas-app unchanged",
          "database.berth.dev/app-postgres configured",
          "application.berth.dev/api-service configured",
          "domain.berth.dev/api unchanged",
        ]);
        const app = await getJson("application", "api-service");
        expect(app.spec.replicas).to.equal(5);
        expect(app.metadata.generation).to.equal(2);
        expect((await getJson("database", "app-postgres")).spec.backup.retention).to.equal(14);
        const secretAfter = (await db.query(`SELECT spec->'secretEnv'->>'API_KEY' AS s FROM applications WHERE name = 'api-service'`)).rows[0].s;
        expect(secretAfter).to.equal(secretBefore);
      });

      it("round-trips `get -o yaml` through `replace` without losing the secret it shows sealed", async () => {
        const secretOf = async (): Promise<string> => (await db.query(`SELECT spec->'secretEnv'->>'API_KEY' AS s FROM applications WHERE name = 'api-service'`)).rows[0].s;
        const before = { secret: await secretOf() };
        const dump = file("api-service.yaml", ok(await kubectl(["get", "app", "api-service", "-n", NS, "-o", "yaml"])).stdout);
        expect(readFileSync(dump, "utf8")).to.match(/API_KEY: sealed:v1:/).and.not.contain("s3cr3t");
        expect(ok(await kubectl(["replace", "-f", dump])).stdout.trim()).to.equal("application.berth.dev/api-service replaced");
        expect(await secretOf()).to.equal(before.secret);
        // kubectl replace rewrites the last-applied annotation (a real change); the spec is untouched.
        expect((await getJson("application", "api-service")).metadata.generation).to.equal(2);
      });
    });

    describe("secretEnv read back as sealed strings (ADR 0006)", () => {
      const A = "sealed-a";
      const B = "sealed-b";
      const secret = "tok-" + Math.random().toString(36).slice(2);
      const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
      let dump: string;
      const manifest = (token: string): string =>
        YAML.stringify({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "vault", namespace: A }, spec: { source: { image: "berth-test/busybox:1" }, secretEnv: { TOKEN: token } } });
      /** What the store holds for TOKEN, decrypted with the server's own key from its data dir. */
      const storedSecret = async (ns: string, name: string): Promise<string> => {
        const r = await db.query(`SELECT a.spec->'secretEnv'->>'TOKEN' AS t FROM applications a JOIN projects p ON p.id = a.project_id WHERE p.name = $1 AND a.name = $2`, [ns, name]);
        expect(r.rows[0]?.t).to.match(/^enc:v1:/);
        return SecretBox.fromEnvOrDataDir(srv.dataDir).decrypt(r.rows[0].t);
      };
      const uidOf = async (ns: string, name: string): Promise<string> => (await call(srv, "GET", `${G}/namespaces/${ns}/applications/${name}`)).body.metadata.uid;
      const stored = async (): Promise<{ rv: number; apps: number }> => ({ rv: await maxRv(), apps: Number((await db.query(`SELECT count(*) AS n FROM applications`)).rows[0].n) });
      /** The dump, edited as someone re-using it elsewhere would. */
      const edited = (fileName: string, edit: (o: any) => void): string => {
        const o = YAML.parse(readFileSync(dump, "utf8"));
        edit(o);
        return file(fileName, YAML.stringify(o));
      };

      before(async () => {
        for (const name of [A, B]) {
          const r = await call(srv, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name }, spec: {} });
          expect(r.status, r.text).to.equal(201);
        }
        expect(ok(await kubectl(["apply", "-f", file("vault.yaml", manifest(secret))])).stdout.trim()).to.equal("application.berth.dev/vault created");
      });

      after(async () => {
        for (const [ns, name] of [[A, "vault"], [A, "vault-copy"], [B, "vault"]]) await call(srv, "DELETE", `${G}/namespaces/${ns}/applications/${name}`);
        for (const name of [A, B]) await call(srv, "DELETE", `${G}/projects/${name}`);
      });

      it("get -o yaml shows the secret as one sealed string, in the spec and in the last-applied annotation, the same on every read", async () => {
        const text = ok(await kubectl(["get", "app", "vault", "-n", A, "-o", "yaml"])).stdout;
        dump = file("vault-dump.yaml", text);
        expect(text).to.not.contain(secret).and.not.contain("<redacted>");
        const o = YAML.parse(text);
        expect(o.spec.secretEnv.TOKEN).to.match(SEALED);
        expect(JSON.parse(o.metadata.annotations[LAST_APPLIED]).spec.secretEnv.TOKEN).to.equal(o.spec.secretEnv.TOKEN);
        expect(ok(await kubectl(["get", "app", "vault", "-n", A, "-o", "yaml"])).stdout).to.equal(text);
      });

      it("kubectl diff -f of its own get -o yaml output exits 0", async () => {
        const before = await stored();
        const r = await kubectl(["diff", "-f", dump]);
        expect(r.code, r.stdout + r.stderr).to.equal(0);
        expect(r.stdout).to.equal("");
        expect(await stored()).to.deep.equal(before);
      });

      it("is re-created from that output by delete + create -f, with the original secret stored", async () => {
        const uid = await uidOf(A, "vault");
        ok(await kubectl(["delete", "app", "vault", "-n", A]));
        expect(ok(await kubectl(["create", "-f", dump])).stdout.trim()).to.equal("application.berth.dev/vault created");
        expect(await uidOf(A, "vault"), "a new object").to.not.equal(uid);
        expect(await storedSecret(A, "vault")).to.equal(secret);
      });

      it("is re-created from that output by replace --force -f, with the original secret stored", async () => {
        const uid = await uidOf(A, "vault");
        const r = ok(await kubectl(["replace", "--force", "-f", dump]));
        expect(r.stdout).to.contain('application.berth.dev "vault" deleted').and.contain("application.berth.dev/vault replaced");
        expect(await uidOf(A, "vault"), "a new object").to.not.equal(uid);
        expect(await storedSecret(A, "vault")).to.equal(secret);
        const again = YAML.parse(ok(await kubectl(["get", "app", "vault", "-n", A, "-o", "yaml"])).stdout);
        expect(again.spec.secretEnv.TOKEN).to.equal(YAML.parse(readFileSync(dump, "utf8")).spec.secretEnv.TOKEN);
      });

      it("refuses the sealed string moved into another object or another Project with 422, storing nothing", async () => {
        const before = await stored();
        const copy = failed(await kubectl(["create", "-f", edited("vault-copy.yaml", (o) => (o.metadata.name = "vault-copy"))]));
        expect(copy.stderr).to.contain('The Application "vault-copy" is invalid').and.match(/spec\.secretEnv\.TOKEN: Invalid value: "sealed:v1:[^"]+": this sealed value belongs to another object or key/);
        const moved = failed(await kubectl(["create", "-f", edited("vault-moved.yaml", (o) => (o.metadata.namespace = B))]));
        expect(moved.stderr).to.contain('The Application "vault" is invalid').and.contain("this sealed value belongs to another object or key");
        const applied = failed(await kubectl(["apply", "-f", edited("vault-applied.yaml", (o) => (o.metadata.namespace = B))]));
        expect(applied.stderr).to.contain("this sealed value belongs to another object or key");
        expect(await stored()).to.deep.equal(before);
        failed(await kubectl(["get", "app", "vault-copy", "-n", A]));
        failed(await kubectl(["get", "app", "vault", "-n", B]));
      });

      it("refuses a create with <redacted> where no value is stored with 422, storing nothing", async () => {
        const before = await stored();
        const placeholder = edited("vault-placeholder.yaml", (o) => {
          o.metadata.name = "vault-copy";
          o.spec.secretEnv.TOKEN = "<redacted>";
          delete o.metadata.annotations;
        });
        const r = failed(await kubectl(["create", "-f", placeholder]));
        expect(r.stderr).to.contain('The Application "vault-copy" is invalid: spec.secretEnv.TOKEN: "<redacted>" keeps a stored value, and this object has none');
        expect(await stored()).to.deep.equal(before);
        failed(await kubectl(["get", "app", "vault-copy", "-n", A]));
      });
    });

    describe("apply --server-side", () => {
      const manifest = (replicas: number): string =>
        YAML.stringify({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "ssa-app", namespace: NS, labels: { tier: "worker" } }, spec: { source: { image: "berth-test/busybox:1" }, replicas } });

      it("creates and re-applies with managedFields for the kubectl manager", async () => {
        const f = file("ssa.yaml", manifest(2));
        expect(ok(await kubectl(["apply", "--server-side", "-f", f])).stdout.trim()).to.equal("application.berth.dev/ssa-app serverside-applied");
        const rv = await rvOf("applications", "ssa-app");
        expect(ok(await kubectl(["apply", "--server-side", "-f", f])).stdout.trim()).to.equal("application.berth.dev/ssa-app serverside-applied");
        expect(await rvOf("applications", "ssa-app"), "a repeated apply is a no-op").to.equal(rv);
        const o = JSON.parse(ok(await kubectl(["get", "app", "ssa-app", "-n", NS, "-o", "json", "--show-managed-fields"])).stdout);
        const mine = o.metadata.managedFields.find((m: any) => m.manager === "kubectl");
        expect(mine.operation).to.equal("Apply");
        expect(mine.fieldsV1["f:spec"]).to.have.property("f:replicas");
      });

      it("refuses a change to a field another Apply manager owns, and --force-conflicts takes it over", async () => {
        const f = file("ssa-other.yaml", manifest(4));
        const conflict = failed(await kubectl(["apply", "--server-side", "--field-manager=other", "-f", f]));
        expect(conflict.stderr).to.contain('error: Apply failed with 1 conflict: conflict with "kubectl" using berth.dev/v1alpha1: .spec.replicas');
        expect(conflict.stderr).to.contain("--force-conflicts");
        expect((await getJson("application", "ssa-app")).spec.replicas).to.equal(2);
        ok(await kubectl(["apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", f]));
        const o = await getJson("app", "ssa-app");
        expect(o.spec.replicas).to.equal(4);
        const owners = (field: string): string[] => o.metadata.managedFields.filter((m: any) => m.fieldsV1["f:spec"]?.[field]).map((m: any) => m.manager);
        expect(owners("f:replicas")).to.deep.equal(["other"]);
        expect(owners("f:source").sort(), "equal values are shared").to.deep.equal(["kubectl", "other"]);
      });

      it("server-side applies the client-side applied stack, migrating last-applied without warnings", async () => {
        const edited = path.join(work, "stack-edited.yaml");
        const r = ok(await kubectl(["apply", "--server-side", "-f", edited]));
        expect(r.stdout.trim().split("\n")).to.have.length(4);
        expect(r.stdout).to.not.match(/created|configured/);
        expect(r.stderr).to.not.contain("Warning");
        expect((await getJson("application", "api-service")).spec.replicas).to.equal(5);
      });
    });

    describe("get", () => {
      it("prints tables with the CRDs' printer columns", async () => {
        await setStatus("applications", "api-service", { phase: "running", readyReplicas: 5, updatedReplicas: 5, availableReplicas: 5, readySummary: "5/5", conditions: [{ type: "Ready", status: "True", reason: "ReplicasReady", message: "5/5 replicas ready", lastTransitionTime: "2026-01-01T00:00:00Z" }] });
        const apps = tableOf(ok(await kubectl(["get", "applications", "-n", NS])).stdout);
        expect(apps.header).to.deep.equal(["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "PHASE", "REASON", "AGE"]);
        const api = apps.rows.find((r) => r[0] === "api-service")!;
        expect(api.slice(0, 6)).to.deep.equal(["api-service", "5/5", "5", "5", "running", "ReplicasReady"]);
        expect(api[6]).to.match(/^\d+s$|^\d+m/);
        const dbs = tableOf(ok(await kubectl(["get", "databases", "-n", NS])).stdout);
        expect(dbs.header).to.deep.equal(["NAME", "ENGINE", "VERSION", "READY", "PHASE", "REASON", "AGE"]);
        expect(dbs.rows[0].slice(0, 3)).to.deep.equal(["app-postgres", "postgresql", "16"]);
        const doms = tableOf(ok(await kubectl(["get", "domains", "-n", NS])).stdout);
        expect(doms.header).to.deep.equal(["NAME", "HOST", "TARGET", "TLS", "READY", "REASON", "AGE"]);
        expect(doms.rows[0].slice(0, 4)).to.deep.equal(["api", "api.example.com", "api-service", "true"]);
        const projects = tableOf(ok(await kubectl(["get", "projects"])).stdout);
        expect(projects.header).to.deep.equal(["NAME", "DESCRIPTION", "TEAM", "PHASE", "READY", "AGE"]);
        expect(projects.rows[0].slice(0, 2)).to.deep.equal(["my-saas-app", "Production SaaS application"]);
      });

      it("prints -o wide, -A with the NAMESPACE column, --show-labels and short names", async () => {
        const wide = tableOf(ok(await kubectl(["get", "app", "-n", NS, "-o", "wide"])).stdout);
        expect(wide.header).to.deep.equal(["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "PHASE", "REASON", "AGE", "IMAGE", "REPLICAS", "STATUS", "NODES"]);
        const api = wide.rows.find((r) => r[0] === "api-service")!;
        expect(api.slice(7)).to.deep.equal(["berth-test/busybox:1", "5", "True", ""]);
        const all = tableOf(ok(await kubectl(["get", "app", "-A"])).stdout);
        expect(all.header.slice(0, 2)).to.deep.equal(["NAMESPACE", "NAME"]);
        expect(all.rows.map((r) => `${r[0]}/${r[1]}`).sort()).to.deep.equal([`${NS}/api-service`, `${NS}/ssa-app`]);
        const labels = tableOf(ok(await kubectl(["get", "app", "-n", NS, "--show-labels"])).stdout);
        expect(labels.header.at(-1)).to.equal("LABELS");
        expect(labels.rows.find((r) => r[0] === "api-service")!.at(-1)).to.equal("tier=backend");
        const mixed = ok(await kubectl(["get", "proj,db,dom", "-A"])).stdout;
        expect(mixed).to.contain("project.berth.dev/my-saas-app").and.contain("database.berth.dev/app-postgres").and.contain("domain.berth.dev/api");
        const selected = ok(await kubectl(["get", "app", "-A", "-l", "tier=worker", "-o", "name"])).stdout;
        expect(selected.trim()).to.equal("application.berth.dev/ssa-app");
      });

      it("prints -o yaml and -o json, secrets sealed", async () => {
        const y = YAML.parse(ok(await kubectl(["get", "app", "api-service", "-n", NS, "-o", "yaml"])).stdout);
        expect(y.kind).to.equal("Application");
        expect(y.apiVersion).to.equal("berth.dev/v1alpha1");
        expect(y.metadata.namespace).to.equal(NS);
        expect(y.spec.secretEnv.API_KEY).to.match(SEALED);
        expect(y.status.phase).to.equal("running");
        const list = JSON.parse(ok(await kubectl(["get", "app", "-n", NS, "-o", "json"])).stdout);
        expect(list.kind).to.equal("List");
        expect(list.items.map((i: any) => i.metadata.name)).to.deep.equal(["api-service", "ssa-app"]);
        expect(list.items.every((i: any) => i.kind === "Application")).to.equal(true);
        const jp = ok(await kubectl(["get", "app", "-n", NS, "-o", "jsonpath={.items[*].spec.replicas}"])).stdout;
        expect(jp).to.equal("5 4");
      });

      it("get -w prints the rows, then an update made while it watches, and runs until stopped", async () => {
        const w = background(["get", "app", "-n", NS, "-w"], 20_000);
        await until("the initial rows", () => /ssa-app/.test(w.stdout()));
        await setStatus("applications", "ssa-app", { phase: "deploying" });
        await until("the watched update", () => w.stdout().split("\n").some((l) => /^ssa-app\s+.*deploying/.test(l)));
        const one = background(["get", "app", "ssa-app", "-n", NS, "-w", "-o", "custom-columns=NAME:.metadata.name,PHASE:.status.phase"], 20_000);
        await until("the single object's row", () => /ssa-app\s+deploying/.test(one.stdout()));
        await setStatus("applications", "ssa-app", { phase: "running" });
        await until("both watches to see the second update", () => /ssa-app\s+running/.test(one.stdout()) && /^ssa-app\s+.*running/m.test(w.stdout()));
        await sleep(300);
        expect(w.child.exitCode, "kubectl get -w exits only when the server closes the stream").to.equal(null);
        w.child.kill("SIGTERM");
        one.child.kill("SIGTERM");
        await Promise.all([w.result, one.result]);
        const lines = w.stdout().trim().split("\n");
        expect(lines[0]).to.match(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+PHASE\s+REASON\s+AGE$/);
        expect(lines.filter((l) => l.startsWith("ssa-app"))).to.have.length(3);
      });
    });

    describe("the watch protocol kubectl and informers rely on", () => {
      const TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

      it("serves Table watches, with a synthetic ADDED for resourceVersion 0", async () => {
        const events = await readWatch(srv, `${G}/namespaces/${NS}/applications?watch=true&resourceVersion=0&fieldSelector=metadata.name%3Dapi-service`, TABLE, (ev) => ev.length >= 1);
        expect(events[0].type).to.equal("ADDED");
        expect(events[0].object.kind).to.equal("Table");
        expect(events[0].object.columnDefinitions.map((c: any) => c.name)).to.deep.equal(["Name", "Ready", "Up-to-date", "Available", "Phase", "Reason", "Age", "Image", "Replicas", "Status", "Nodes"]);
        expect(events[0].object.rows[0].cells.slice(0, 6)).to.deep.equal(["api-service", "5/5", 5, 5, "running", "ReplicasReady"]);
        expect(events[0].object.rows[0].object.kind).to.equal("PartialObjectMetadata");
        expect(events[0].object.rows[0].object.metadata.namespace).to.equal(NS);
        const json = await readWatch(srv, `${G}/namespaces/${NS}/applications?watch=true&resourceVersion=0`, "application/json", (ev) => ev.length >= 2);
        expect(json.map((e) => `${e.type} ${e.object.kind} ${e.object.metadata.name}`)).to.deep.equal(["ADDED Application api-service", "ADDED Application ssa-app"]);
      });

      it("sends BOOKMARK events when allowWatchBookmarks=true, for changes the watch filters out", async () => {
        const from = await maxRv();
        const watching = readWatch(srv, `${G}/namespaces/${NS}/applications?watch=true&allowWatchBookmarks=true&resourceVersion=${from}&fieldSelector=metadata.name%3Dnobody`, "application/json", (ev) => ev.some((e) => e.type === "BOOKMARK"), 8000);
        await sleep(200);
        await setStatus("applications", "ssa-app", { phase: "running", observedGeneration: 2 });
        const events = await watching;
        const bookmark = events.find((e) => e.type === "BOOKMARK");
        expect(bookmark, JSON.stringify(events)).to.not.equal(undefined);
        expect(Number(bookmark.object.metadata.resourceVersion)).to.be.greaterThan(from);
        expect(events.filter((e) => e.type !== "BOOKMARK")).to.deep.equal([]);
        const plain = await readWatch(srv, `${G}/namespaces/${NS}/applications?watch=true&resourceVersion=${from}&fieldSelector=metadata.name%3Dnobody`, "application/json", () => false, 1200);
        expect(plain, "no bookmarks unless asked for").to.deep.equal([]);
      });
    });

    describe("describe, diff, explain, wait", () => {
      it("describe shows conditions set through the status subresource and recorded events", async () => {
        const cond = { type: "Degraded", status: "True", reason: "ReplicaUnhealthy", message: "api-service-2 failed its health check", lastTransitionTime: "2026-01-01T00:00:00Z" };
        const current = await getJson("application", "api-service");
        const patch = JSON.stringify({ status: { conditions: [...current.status.conditions, cond] } });
        ok(await kubectl(["patch", "app", "api-service", "-n", NS, "--subresource=status", "--type=merge", "-p", patch]));
        const ds = createDataSource(postgres.url);
        await ds.initialize();
        try {
          await new EventStore(ds).record(current, { type: "Warning", reason: "HealthcheckFailed", message: "replica api-service-2: GET /health answered 503" });
        } finally {
          await ds.destroy();
        }
        const out = ok(await kubectl(["describe", "application", "api-service", "-n", NS])).stdout;
        expect(out).to.match(/^Name:\s+api-service$/m);
        expect(out).to.match(/^Namespace:\s+my-saas-app$/m);
        const status = out.slice(out.indexOf("\nStatus:"), out.indexOf("\nEvents:"));
        expect(status).to.match(/^\s+Conditions:$/m);
        expect(status).to.match(/^\s+Type:\s+Ready$/m);
        expect(status).to.match(/^\s+Message:\s+api-service-2 failed its health check$/m);
        expect(status).to.match(/^\s+Reason:\s+ReplicaUnhealthy$/m);
        expect(status).to.match(/^\s+Type:\s+Degraded$/m);
        expect(status).to.match(/^\s+Phase:\s+running$/m);
        expect(out).to.match(/Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n.*\n\s+Warning\s+HealthcheckFailed\s+\S+\s+berth-controller\s+replica api-service-2: GET \/health answered 503/);
        expect(out).to.not.contain("s3cr3t");
        const events = ok(await kubectl(["get", "events", "-n", NS])).stdout;
        expect(events).to.match(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/m);
        expect(events).to.match(/^\d+s\s+Warning\s+HealthcheckFailed\s+application\/api-service\s+replica api-service-2: GET \/health answered 503$/m);
        const project = ok(await kubectl(["describe", "project", NS])).stdout;
        expect(project).to.match(/^Name:\s+my-saas-app$/m);
        expect(project).to.match(/Events:\s+<none>/);
      });

      it("diff exits 1 with a readable diff for a change and 0 when equal", async () => {
        const changed = await kubectl(["diff", "-f", STACK]);
        expect(changed.code, changed.stderr).to.equal(1);
        const lines = changed.stdout.split("\n").filter((l) => /^[-+] /.test(l) || /^[-+]\s/.test(l));
        expect(changed.stdout).to.match(/^--- .*Application\.my-saas-app\.api-service/m);
        expect(lines).to.include("-  replicas: 5");
        expect(lines).to.include("+  replicas: 3");
        expect(lines).to.include("-    retention: 14");
        expect(lines).to.include("+    retention: 7");
        expect(lines.filter((l) => /resourceVersion/.test(l)), "a dry run keeps the resourceVersion").to.deep.equal([]);
        expect(changed.stdout).to.not.contain("s3cr3t");
        expect(changed.stdout).to.not.match(/Domain|Project/);
        const same = await kubectl(["diff", "-f", path.join(work, "stack-edited.yaml")]);
        expect(same.code, same.stderr).to.equal(0);
        expect(same.stdout).to.equal("");
        const fresh = file("new-domain.yaml", YAML.stringify({ apiVersion: "berth.dev/v1alpha1", kind: "Domain", metadata: { name: "www", namespace: NS }, spec: { host: "www.example.com", target: { application: "api-service", port: 8080 } } }));
        const created = await kubectl(["diff", "-f", fresh]);
        expect(created.code, created.stderr).to.equal(1);
        expect(created.stdout).to.contain("+  host: www.example.com");
        failed(await kubectl(["get", "domain", "www", "-n", NS]));
      });

      it("explain reads the full schemas from /openapi/v3", async () => {
        const out = ok(await kubectl(["explain", "application.spec.healthcheck"])).stdout;
        expect(out).to.match(/^GROUP:\s+berth\.dev$/m);
        expect(out).to.match(/^KIND:\s+Application$/m);
        expect(out).to.match(/^VERSION:\s+v1alpha1$/m);
        expect(out).to.match(/^FIELD: healthcheck <Object>$/m);
        expect(out).to.match(/^\s+http\s+<Object>$/m);
        expect(out).to.match(/^\s+interval\s+<string>$/m);
        const recursive = ok(await kubectl(["explain", "domain.spec", "--recursive"])).stdout;
        expect(recursive).to.match(/^\s+host\s+<string> -required-$/m);
        expect(recursive).to.match(/^\s+issuer\s+<string>/m);
      });

      it("wait --for=condition=Ready returns once the condition is set while it waits", async () => {
        const w = background(["wait", "--for=condition=Ready", "application/ssa-app", "-n", NS, "--timeout=20s"], 30_000);
        await sleep(1000);
        expect(w.child.exitCode, `still waiting: ${w.stderr()}`).to.equal(null);
        await setStatus("applications", "ssa-app", { conditions: [{ type: "Ready", status: "True", reason: "ReplicasReady", message: "4/4", lastTransitionTime: "2026-01-01T00:00:00Z" }] });
        const r = ok(await w.result);
        expect(r.stdout.trim()).to.equal("application.berth.dev/ssa-app condition met");
        expect(r.ms).to.be.lessThan(15_000);
        const timeout = failed(await kubectl(["wait", "--for=condition=Degraded", "application/ssa-app", "-n", NS, "--timeout=1s"]));
        expect(timeout.stderr).to.contain("timed out waiting for the condition");
      });
    });

    describe("label, annotate, patch, delete", () => {
      it("labels and annotates", async () => {
        expect(ok(await kubectl(["label", "app", "api-service", "-n", NS, "team=core"])).stdout.trim()).to.equal("application.berth.dev/api-service labeled");
        expect(ok(await kubectl(["annotate", "app", "api-service", "-n", NS, "berth.dev/note=hello"])).stdout.trim()).to.equal("application.berth.dev/api-service annotated");
        const o = await getJson("app", "api-service");
        expect(o.metadata.labels).to.deep.equal({ tier: "backend", team: "core" });
        expect(o.metadata.annotations["berth.dev/note"]).to.equal("hello");
        expect(o.metadata.generation, "metadata changes keep the generation").to.equal(2);
        ok(await kubectl(["label", "app", "api-service", "-n", NS, "team-"]));
        expect((await getJson("app", "api-service")).metadata.labels).to.deep.equal({ tier: "backend" });
        const clash = failed(await kubectl(["label", "app", "api-service", "-n", NS, "tier=frontend"]));
        expect(clash.stderr).to.contain("'tier' already has a value (backend), and --overwrite is false");
      });

      it("patches with --type=merge and --type=json; a strategic merge patch gets a clear error", async () => {
        expect(ok(await kubectl(["patch", "app", "ssa-app", "-n", NS, "--type=merge", "-p", '{"spec":{"env":{"MODE":"fast"}}}'])).stdout.trim()).to.equal("application.berth.dev/ssa-app patched");
        ok(await kubectl(["patch", "app", "ssa-app", "-n", NS, "--type=json", "-p", '[{"op":"replace","path":"/spec/replicas","value":1},{"op":"add","path":"/spec/env/LEVEL","value":"debug"}]']));
        const o = await getJson("app", "ssa-app");
        expect(o.spec.replicas).to.equal(1);
        expect(o.spec.env).to.deep.equal({ MODE: "fast", LEVEL: "debug" });
        const same = ok(await kubectl(["patch", "app", "ssa-app", "-n", NS, "--type=merge", "-p", '{"spec":{"replicas":1}}']));
        expect(same.stdout.trim()).to.equal("application.berth.dev/ssa-app patched (no change)");
        const smp = failed(await kubectl(["patch", "app", "ssa-app", "-n", NS, "-p", '{"spec":{"replicas":2}}']));
        expect(smp.stderr).to.contain("strategic merge patch is not supported").and.contain("--type=merge");
        const badJson = failed(await kubectl(["patch", "app", "ssa-app", "-n", NS, "--type=json", "-p", '[{"op":"remove","path":"/spec/nothing"}]']));
        expect(badJson.stderr).to.contain("the json patch could not be applied");
      });

      it("delete waits for a finalizer and finishes once it is removed", async () => {
        const f = file("held.yaml", YAML.stringify({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "held", namespace: NS, finalizers: ["test.berth.dev/hold"] }, spec: { source: { image: "berth-test/busybox:1" } } }));
        ok(await kubectl(["create", "-f", f]));
        const d = background(["delete", "app", "held", "-n", NS, "--timeout=25s"], 30_000);
        await until("kubectl delete to report the deletion", () => /"held" deleted/.test(d.stdout()));
        await sleep(1000);
        expect(d.child.exitCode, "kubectl waits while the finalizer holds the object").to.equal(null);
        const marked = await getJson("app", "held");
        expect(marked.metadata.deletionTimestamp).to.be.a("string");
        expect(marked.metadata.finalizers).to.deep.equal(["test.berth.dev/hold"]);
        ok(await kubectl(["patch", "app", "held", "-n", NS, "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]']));
        const r = ok(await d.result);
        expect(r.stdout.trim()).to.equal('application.berth.dev "held" deleted');
        const gone = failed(await kubectl(["get", "app", "held", "-n", NS]));
        expect(gone.stderr).to.contain('applications.berth.dev "held" not found');
      });
    });

    describe("errors: clear messages and a non-zero exit", () => {
      const bad = (name: string, spec: Record<string, unknown>, ns = NS): string =>
        file(`${name}.yaml`, YAML.stringify({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace: ns }, spec: { source: { image: "berth-test/busybox:1" }, ...spec } }));

      it("rejects an unknown field (strict validation) naming the field", async () => {
        const r = failed(await kubectl(["apply", "-f", bad("typo", { replicaz: 2 })]));
        expect(r.stderr).to.contain('strict decoding error: unknown field "spec.replicaz"');
        failed(await kubectl(["get", "app", "typo", "-n", NS]));
        const ssa = failed(await kubectl(["apply", "--server-side", "-f", path.join(work, "typo.yaml")]));
        expect(ssa.stderr).to.contain('unknown field "spec.replicaz"');
      });

      it("rejects an invalid value with 422 Invalid naming the field", async () => {
        const r = failed(await kubectl(["apply", "-f", bad("negative", { replicas: -1 })]));
        expect(r.stderr).to.contain('The Application "negative" is invalid: spec.replicas: Invalid value: -1');
        const v = failed(await kubectl(["apply", "-f", bad("neg", { replicas: -1 }), "-v=6"]));
        expect(v.stderr).to.match(/POST https:\/\/127\.0\.0\.1:\d+\/apis\/berth\.dev\/v1alpha1\/namespaces\/my-saas-app\/applications\?fieldManager=kubectl-client-side-apply&fieldValidation=Strict 422 Unprocessable Entity/);
        const patch = failed(await kubectl(["patch", "app", "ssa-app", "-n", NS, "--type=merge", "-p", '{"spec":{"source":{"image":null,"git":{"repository":"https://example.com/x.git"}},"strategy":{"type":"Sideways"}}}']));
        expect(patch.stderr).to.contain("spec.strategy.type: Unsupported value");
      });

      it("answers a replace with a stale resourceVersion with 409 Conflict", async () => {
        const current = ok(await kubectl(["get", "app", "ssa-app", "-n", NS, "-o", "yaml"])).stdout;
        const f = file("stale.yaml", current);
        ok(await kubectl(["patch", "app", "ssa-app", "-n", NS, "--type=merge", "-p", '{"spec":{"replicas":2}}']));
        const r = failed(await kubectl(["replace", "-f", f]));
        expect(r.stderr).to.contain('Error from server (Conflict): error when replacing "' + f + '": Operation cannot be fulfilled on applications.berth.dev "ssa-app": the object has been modified; please apply your changes to the latest version and try again');
        const fresh = file("fresh.yaml", ok(await kubectl(["get", "app", "ssa-app", "-n", NS, "-o", "yaml"])).stdout.replace("replicas: 2", "replicas: 3"));
        expect(ok(await kubectl(["replace", "-f", fresh])).stdout.trim()).to.equal("application.berth.dev/ssa-app replaced");
      });

      it("reports objects and projects that do not exist", async () => {
        const r = failed(await kubectl(["get", "app", "nope", "-n", NS]));
        expect(r.stderr.trim()).to.equal('Error from server (NotFound): applications.berth.dev "nope" not found');
        const ns = failed(await kubectl(["get", "app", "x", "-n", "nowhere"]));
        expect(ns.stderr.trim()).to.equal('Error from server (NotFound): namespaces "nowhere" not found');
        const create = failed(await kubectl(["apply", "-f", bad("lost", {}, "nowhere")]));
        expect(create.stderr).to.contain('namespaces "nowhere" not found');
        const del = failed(await kubectl(["delete", "db", "nope", "-n", NS]));
        expect(del.stderr).to.contain('databases.berth.dev "nope" not found');
      });

      it("refuses a wrong or missing token with 401", async () => {
        const kc = YAML.parse(readFileSync(srv.kubeconfig, "utf8"));
        kc.users[0].user.token = "not-the-token";
        const wrong = file("wrong-token.kubeconfig", YAML.stringify(kc));
        const r = failed(await startKubectl(wrong, cache, ["get", "app", "-A"]).result);
        expect(r.stderr.trim()).to.equal("error: You must be logged in to the server (Unauthorized)");
        // Without any credentials kubectl would prompt for a user name, so check the server directly.
        const none = await call(srv, "GET", `${G}/applications`, undefined, { token: null });
        expect(none.status).to.equal(401);
        expect(none.body).to.include({ kind: "Status", status: "Failure", reason: "Unauthorized", code: 401 });
        expect((await call(srv, "GET", "/version", undefined, { token: null })).status, "the dispatcher's /version needs no token").to.equal(200);
      });
    });

    describe("deleting Projects (namespaces)", () => {
      it("keeps a Project that still holds objects Terminating, refuses new content, and removes it with its last object", async () => {
        const f = file("doomed.yaml", [
          YAML.stringify({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "doomed" }, spec: {} }),
          YAML.stringify({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "last", namespace: "doomed" }, spec: { source: { image: "berth-test/busybox:1" } } }),
        ].join("---\n"));
        ok(await kubectl(["apply", "-f", f]));
        expect(ok(await kubectl(["delete", "project", "doomed", "--wait=false"])).stdout.trim()).to.equal('project.berth.dev "doomed" deleted');
        const ns = tableOf(ok(await kubectl(["get", "namespace", "doomed"])).stdout);
        expect(ns.rows[0].slice(0, 2)).to.deep.equal(["doomed", "Terminating"]);
        const late = failed(await kubectl(["create", "-f", file("late.yaml", YAML.stringify({ apiVersion: "berth.dev/v1alpha1", kind: "Database", metadata: { name: "late", namespace: "doomed" }, spec: { engine: "redis", version: "7" } }))]));
        expect(late.stderr).to.contain("unable to create new content in namespace doomed because it is being terminated");
        ok(await kubectl(["delete", "app", "last", "-n", "doomed"]));
        const gone = failed(await kubectl(["get", "project", "doomed"]));
        expect(gone.stderr).to.contain('projects.berth.dev "doomed" not found');
      });

      it("delete -f removes what a manifest describes, the Project last", async () => {
        expect(ok(await kubectl(["delete", "-f", path.join(work, "ssa.yaml")])).stdout.trim()).to.equal('application.berth.dev "ssa-app" deleted');
        const r = ok(await kubectl(["delete", "-f", STACK], 30_000));
        expect(r.stdout.trim().split("\n")).to.deep.equal([
          'project.berth.dev "my-saas-app" deleted',
          'database.berth.dev "app-postgres" deleted',
          'application.berth.dev "api-service" deleted',
          'domain.berth.dev "api" deleted',
        ]);
        const left = ok(await kubectl(["get", "proj,app,db,dom", "-A", "-o", "name"])).stdout;
        expect(left.trim()).to.equal("");
        const again = failed(await kubectl(["delete", "-f", STACK]));
        expect(again.stderr).to.contain('projects.berth.dev "my-saas-app" not found');
        expect(ok(await kubectl(["delete", "-f", STACK, "--ignore-not-found"])).stdout.trim()).to.equal("");
      });
    });
  });

  // Last: it restarts the server.
  describe("@kubernetes/client-node 1.4", () => {
    let port: number;
    let informer: k8s.Informer<k8s.KubernetesObject> & k8s.ObjectCache<k8s.KubernetesObject>;
    let informing = false;
    let lists = 0;
    const seen: { type: string; name: string; replicas: number }[] = [];

    const app = (name: string, replicas = 1): Record<string, unknown> => ({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name }, spec: { source: { image: "berth-test/busybox:1" }, replicas } });
    const create = async (ns: string, name: string): Promise<void> => {
      const r = await call(srv, "POST", `${G}/namespaces/${ns}/applications`, app(name));
      expect(r.status, r.text).to.equal(201);
    };
    const scale = async (ns: string, name: string, replicas: number): Promise<void> => {
      const r = await call(srv, "PATCH", `${G}/namespaces/${ns}/applications/${name}`, { spec: { replicas } }, { contentType: "application/merge-patch+json" });
      expect(r.status, r.text).to.equal(200);
    };
    const saw = (type: string, name: string, replicas: number): Promise<unknown> =>
      until(`the informer to deliver ${type} ${name} replicas=${replicas} (seen: ${JSON.stringify(seen)})`, () => seen.some((s) => s.type === type && s.name === name && s.replicas === replicas));
    /** `berth serve` stopped (SIGTERM) and started again on the same port, data dir and database. */
    const restart = async (): Promise<void> => {
      await srv.stop();
      srv = await spawnServe({ dataDir: srv.dataDir, port, databaseUrl: postgres.url });
    };

    before(async () => {
      port = Number(new URL(srv.url).port);
      for (const ns of ["inf", "other"]) {
        const r = await call(srv, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: ns }, spec: {} });
        expect(r.status, r.text).to.equal(201);
      }
      await create("inf", "a1");
    });

    after(async () => {
      informing = false;
      await informer?.stop();
    });

    it("reads and patches custom objects with the CA from the kubeconfig, and reports errors as ApiException", async () => {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(srv.kubeconfig);
      const api = kc.makeApiClient(k8s.CustomObjectsApi);
      const list = await api.listNamespacedCustomObject({ group: "berth.dev", version: "v1alpha1", namespace: "inf", plural: "applications" });
      expect(list.kind).to.equal("ApplicationList");
      expect(list.items.map((i: any) => i.metadata.name)).to.deep.equal(["a1"]);
      const patched = await api.patchNamespacedCustomObject(
        { group: "berth.dev", version: "v1alpha1", namespace: "inf", plural: "applications", name: "a1", body: { metadata: { labels: { via: "client-node" } } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
      expect(patched.metadata.labels).to.deep.equal({ via: "client-node" });
      try {
        await api.getNamespacedCustomObject({ group: "berth.dev", version: "v1alpha1", namespace: "inf", plural: "applications", name: "missing" });
        expect.fail("expected a 404");
      } catch (e) {
        expect(e).to.be.instanceOf(k8s.ApiException);
        expect((e as k8s.ApiException<unknown>).code).to.equal(404);
      }
    });

    it("an informer lists and watches, survives a server restart, and relists after 410 Expired", async function () {
      this.timeout(90_000);
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(srv.kubeconfig);
      const api = kc.makeApiClient(k8s.CustomObjectsApi);
      const listFn = (): Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> => {
        lists++;
        return api.listNamespacedCustomObject({ group: "berth.dev", version: "v1alpha1", namespace: "inf", plural: "applications" });
      };
      informer = k8s.makeInformer(kc, `${G}/namespaces/inf/applications`, listFn);
      const record = (type: string) => (o: k8s.KubernetesObject) => seen.push({ type, name: o.metadata!.name!, replicas: (o as any).spec.replicas });
      informer.on("add", record("add"));
      informer.on("update", record("update"));
      informer.on("delete", record("delete"));
      // client-node stops on a connection error; restarting it is the caller's job (its README does the same).
      informer.on("error", () => {
        if (informing) setTimeout(() => informing && void informer.start().catch(() => undefined), 200);
      });
      informing = true;
      await informer.start();
      await saw("add", "a1", 1);
      await scale("inf", "a1", 2);
      await saw("update", "a1", 2);
      await create("inf", "a2");
      await saw("add", "a2", 1);
      expect(lists).to.equal(1);

      // Restart on the same port and data dir: the informer resumes from its resourceVersion.
      await restart();
      await scale("inf", "a1", 3);
      await saw("update", "a1", 3);
      expect(lists, "resumed by resourceVersion, no relist").to.equal(1);

      // Changes it does not watch move the log on; compaction then drops the version it holds.
      await create("other", "o1");
      await scale("other", "o1", 2);
      await scale("other", "o1", 3);
      const compacted = await db.query(`DELETE FROM resource_changes WHERE rv < (SELECT max(rv) FROM resource_changes)`);
      expect(compacted.rowCount).to.be.greaterThan(3);
      const relisted = lists;
      await restart();
      await until("the informer to relist after 410 Expired", () => lists > relisted, 20_000);
      await scale("inf", "a2", 4);
      await saw("update", "a2", 4);
      expect(informer.list("inf").map((o) => `${o.metadata!.name}=${(o as any).spec.replicas}`).sort()).to.deep.equal(["a1=3", "a2=4"]);
      expect(seen.filter((s) => s.type === "delete"), "a relist must not invent deletions").to.deep.equal([]);
    });
  });
});

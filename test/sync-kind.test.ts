/**
 * The fifth kind, Sync (issue 15, first slice): stored like the other kinds, applied and listed
 * with `berth` and the real kubectl 1.32 against a real `berth serve` on the machine's Postgres 15.
 * The tests hold the controllers' leader lock, so the server runs API-only.
 */
import { expect } from "chai";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import type pg from "pg";
import { call, removeDir, runBerth, spawnServe, tempDir, type ServeProcess } from "./helpers/berth.js";
import { startSystemPostgres, type TestPostgres } from "./helpers/postgres.js";
import { missingPrerequisite } from "./helpers/prerequisites.js";
import { holdLeaderLock, KUBECTL, killKubectls, ok, startKubectl, type KubectlRun } from "./helpers/kubectl.js";

const G = "/apis/berth.dev/v1alpha1";

const SYNC = `apiVersion: berth.dev/v1alpha1
kind: Sync
metadata: {name: infra}
spec:
  source:
    git: {url: "file:///srv/infra.git", branch: main, path: clusters/prod}
  interval: 1m
  prune: true
`;

describe("kind Sync: stored, validated and served like the other kinds", function () {
  this.timeout(60_000);
  let postgres: TestPostgres;
  let work: string;
  let srv: ServeProcess;
  let lock: pg.Client;
  let cache: string;
  const kubectl = (args: string[]): Promise<KubectlRun> => startKubectl(srv.kubeconfig, cache, args).result;
  const file = (name: string, text: string): string => {
    const p = path.join(work, name);
    writeFileSync(p, text);
    return p;
  };

  before(async function () {
    if (!existsSync(KUBECTL)) missingPrerequisite(this, `kubectl is not installed at ${KUBECTL}`);
    postgres = await startSystemPostgres();
    work = tempDir("berth-sync-kind-");
    cache = path.join(work, "kube-cache");
    lock = await holdLeaderLock(postgres.url);
    srv = await spawnServe({ databaseUrl: postgres.url });
  });

  after(async () => {
    killKubectls();
    await srv?.stop();
    await lock?.end();
    await postgres?.stop();
    if (srv) removeDir(srv.dataDir);
    if (work) removeDir(work);
  });

  it("`berth apply` stores a Sync cluster-scoped and `berth get syncs` lists it", async () => {
    const applied = await runBerth(["apply", "-f", file("sync.yaml", SYNC)], { kubeconfig: srv.kubeconfig });
    expect(applied.code, applied.stderr).to.equal(0);
    const got = await call(srv, "GET", `${G}/syncs/infra`);
    expect(got.status, got.text).to.equal(200);
    expect(got.body.metadata).to.not.have.property("namespace");
    expect(got.body.spec.source.git).to.deep.equal({ url: "file:///srv/infra.git", branch: "main", path: "clusters/prod" });
    const list = await runBerth(["get", "syncs"], { kubeconfig: srv.kubeconfig });
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.match(/infra/);
  });

  it("rejects a Sync without a source, naming file:line and the field", async () => {
    const bad = file("bad-sync.yaml", `apiVersion: berth.dev/v1alpha1\nkind: Sync\nmetadata: {name: broken}\nspec:\n  interval: 1m\n`);
    const r = await runBerth(["apply", "-f", bad], { kubeconfig: srv.kubeconfig });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/bad-sync\.yaml:\d+/);
    expect(r.stderr).to.match(/spec\.source|source/);
    expect((await call(srv, "GET", `${G}/syncs/broken`)).status).to.equal(404);
  });

  it("kubectl discovers syncs and prints SOURCE, REVISION, READY, AGE from status", async () => {
    const current = (await call(srv, "GET", `${G}/syncs/infra`)).body;
    const status = {
      source: "file:///srv/infra.git@main:clusters/prod",
      revision: "0123456789abcdef0123456789abcdef01234567",
      conditions: [{ type: "Ready", status: "True", reason: "Applied", message: "applied", lastTransitionTime: new Date().toISOString() }],
    };
    const put = await call(srv, "PUT", `${G}/syncs/infra/status`, { ...current, status });
    expect(put.status, put.text).to.equal(200);
    const r = ok(await kubectl(["get", "syncs"]));
    const [header, row] = r.stdout.trim().split("\n");
    expect(header.split(/\s+/)).to.deep.equal(["NAME", "SOURCE", "REVISION", "READY", "AGE"]);
    expect(row).to.match(/^infra\s+file:\/\/\/srv\/infra\.git@main:clusters\/prod\s+0123456789abcdef0123456789abcdef01234567\s+True\s+\S+$/);
    const short = ok(await kubectl(["get", "sy", "infra", "-o", "jsonpath={.spec.source.git.branch}"]));
    expect(short.stdout).to.equal("main");
  });
});

/**
 * `berth sync status|reconcile|suspend|resume NAME` (issue 15), run as the real CLI. Status,
 * suspend and resume against an API-only Berth whose Sync status the test writes through the
 * status subresource; `reconcile --wait` against the controllers and a directory Sync.
 */
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { call, removeDir, runBerth, startTestBerth, tempDir } from "./helpers/berth.js";
import { cleanupProject, requireDocker, waitFor } from "./helpers/docker.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";

async function createSync(berth: TestBerth, name: string, spec: Record<string, unknown>): Promise<void> {
  const r = await call(berth, "POST", `${G}/syncs`, { apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name }, spec });
  expect(r.status, r.text).to.equal(201);
}

describe("berth sync status|suspend|resume (API only, status written by the test)", function () {
  this.timeout(120_000);
  let berth: TestBerth;
  const cli = (args: string[]) => runBerth(args, { kubeconfig: berth.kubeconfigPath });
  const minutesAgo = (m: number): string => new Date(Date.now() - m * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
  const writeStatus = async (name: string, status: Record<string, unknown>): Promise<void> => {
    const current = (await call(berth, "GET", `${G}/syncs/${name}`)).body;
    const put = await call(berth, "PUT", `${G}/syncs/${name}/status`, { ...current, status });
    expect(put.status, put.text).to.equal(200);
  };

  before(async () => {
    berth = await startTestBerth();
    await createSync(berth, "good", { source: { git: { url: "https://git.example.com/infra.git", branch: "main", path: "prod" } } });
    await writeStatus("good", {
      observedGeneration: 1,
      source: "https://git.example.com/infra.git@main:prod",
      revision: "abc123",
      lastAttemptedRevision: "abc123",
      lastAppliedRevision: "abc123",
      inventory: [
        { kind: "Project", name: "shop", uid: "u1" },
        { kind: "Application", namespace: "shop", name: "api", uid: "u2" },
      ],
      conditions: [{ type: "Ready", status: "True", reason: "Applied", message: "applied revision abc123: 2 object(s), 0 changed", lastTransitionTime: minutesAgo(5), observedGeneration: 1 }],
    });
    await createSync(berth, "broken", { source: { directory: { path: "/srv/infra" } } });
    const message = "prod/a.yaml:4: spec.replicas: must be integer\nprod/b.yaml:9: spec.source: must have required property 'image'";
    await writeStatus("broken", {
      observedGeneration: 1,
      source: "dir:/srv/infra",
      revision: "sha256:new",
      lastAttemptedRevision: "sha256:new",
      lastAppliedRevision: "sha256:old",
      inventory: [{ kind: "Project", name: "shop", uid: "u1" }],
      conditions: [
        { type: "Ready", status: "False", reason: "ManifestInvalid", message, lastTransitionTime: minutesAgo(3), observedGeneration: 1 },
        { type: "Stalled", status: "True", reason: "ManifestInvalid", message, lastTransitionTime: minutesAgo(3), observedGeneration: 1 },
      ],
    });
  });

  after(async () => {
    await berth?.cleanup();
  });

  it("status of a Ready Sync: source, revisions, Ready with reason, message and age, the inventory; exit 0", async () => {
    const r = await cli(["sync", "status", "good"]);
    expect(r.code, r.stderr).to.equal(0);
    const out = r.stdout;
    expect(out).to.contain("sync.berth.dev/good");
    expect(out).to.match(/Source:\s+https:\/\/git\.example\.com\/infra\.git@main:prod/);
    expect(out).to.match(/Revision:\s+abc123/);
    expect(out).to.match(/Last applied:\s+abc123/);
    expect(out).to.match(/Ready:\s+True {2}Applied {2}\(since [56]m ago\)/);
    expect(out).to.contain("applied revision abc123: 2 object(s), 0 changed");
    expect(out).not.to.contain("Stalled");
    expect(out).to.match(/Inventory:\s+2 object\(s\)/);
    expect(out).to.contain("    Project shop\n");
    expect(out).to.contain("    Application shop/api");
  });

  it("status of a failed Sync: every file:line error on its own line, Stalled, the last good revision; exit 1", async () => {
    const r = await cli(["sync", "status", "broken"]);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.match(/Ready:\s+False {2}ManifestInvalid {2}\(since [34]m ago\)/);
    expect(r.stdout).to.contain("\n    prod/a.yaml:4: spec.replicas: must be integer\n    prod/b.yaml:9: spec.source: must have required property 'image'\n");
    expect(r.stdout).to.match(/Stalled:\s+True {2}ManifestInvalid/);
    expect(r.stdout.match(/prod\/a\.yaml:4/g), "the Stalled message is the Ready one: printed once").to.have.length(1);
    expect(r.stdout).to.match(/Revision:\s+sha256:new/);
    expect(r.stdout).to.match(/Last applied:\s+sha256:old/);
    expect(r.stdout).to.match(/Inventory:\s+1 object\(s\)/);
  });

  it("status -o json|yaml prints the stored status, with the same exit code", async () => {
    const j = await cli(["sync", "status", "good", "-o", "json"]);
    expect(j.code, j.stderr).to.equal(0);
    const status = JSON.parse(j.stdout);
    expect(status.lastAppliedRevision).to.equal("abc123");
    expect(status.inventory).to.have.length(2);
    const y = await cli(["sync", "status", "broken", "-o", "yaml"]);
    expect(y.code).to.equal(1);
    expect(y.stdout).to.contain("lastAppliedRevision: sha256:old");
    expect(y.stdout).to.contain("reason: ManifestInvalid");
    const bad = await cli(["sync", "status", "good", "-o", "wide"]);
    expect(bad.code).to.equal(2);
  });

  it("a Sync the controller has not reported on yet: Ready unknown, exit 1", async () => {
    await createSync(berth, "fresh", { source: { directory: { path: "/srv/fresh" } } });
    const r = await cli(["sync", "status", "fresh"]);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.match(/Ready:\s+<unknown>/);
    expect(r.stdout).to.match(/Inventory:\s+0 object\(s\)/);
  });

  it("suspend and resume merge-patch spec.suspend; status shows it", async () => {
    const s = await cli(["sync", "suspend", "good"]);
    expect(s.code, s.stderr).to.equal(0);
    expect(s.stdout.trim()).to.equal("sync.berth.dev/good suspended");
    let obj = (await call(berth, "GET", `${G}/syncs/good`)).body;
    expect(obj.spec.suspend).to.equal(true);
    expect(obj.spec.source.git.path, "a merge patch: the rest of the spec stays").to.equal("prod");
    expect((await cli(["sync", "status", "good"])).stdout).to.match(/Suspended:\s+true/);
    const r = await cli(["sync", "resume", "good"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal("sync.berth.dev/good resumed");
    obj = (await call(berth, "GET", `${G}/syncs/good`)).body;
    expect(obj.spec.suspend).to.equal(false);
  });

  it("an unknown Sync: the NotFound `berth get` prints, exit 1, for every verb", async () => {
    const get = await cli(["get", "sync", "nope"]);
    expect(get.code).to.equal(1);
    for (const verb of ["status", "reconcile", "suspend", "resume"]) {
      const r = await cli(["sync", verb, "nope"]);
      expect(r.code, `${verb}: ${r.stderr}`).to.equal(1);
      expect(r.stderr.trim(), verb).to.equal('Error from server (NotFound): syncs.berth.dev "nope" not found');
      expect(r.stderr.trim()).to.equal(get.stderr.trim());
    }
  });

  it("reconcile sets berth.dev/reconcile-requested-at; --wait with no controller times out with exit 1", async () => {
    const before = Date.now();
    const r = await cli(["sync", "reconcile", "broken"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal("sync.berth.dev/broken reconcile requested");
    const at = (await call(berth, "GET", `${G}/syncs/broken`)).body.metadata.annotations["berth.dev/reconcile-requested-at"];
    expect(Date.parse(at)).to.be.within(before - 1000, Date.now());
    const w = await cli(["sync", "reconcile", "broken", "--wait", "--timeout", "1s"]);
    expect(w.code).to.equal(1);
    expect(w.stderr).to.match(/timed out after 1s waiting for sync\.berth\.dev\/broken to reconcile/);
  });
});

describe("berth sync reconcile --wait (controllers, a directory Sync, real engine)", function () {
  this.timeout(180_000);
  let berth: TestBerth;
  let dir: string;
  const P = `synccli-${process.pid}`;
  const project = `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: ${P}}\nspec: {}\n`;
  const cli = (args: string[]) => runBerth(args, { kubeconfig: berth.kubeconfigPath });
  const sync = async (): Promise<any> => (await call(berth, "GET", `${G}/syncs/dir`)).body;

  before(async function () {
    await requireDocker(this);
    dir = tempDir("berth-synccli-");
    writeFileSync(path.join(dir, "project.yaml"), project);
    berth = await startTestBerth({ controllers: true, resyncMs: 60_000 });
    await createSync(berth, "dir", { source: { directory: { path: dir } } });
    await waitFor("the directory Sync applied", async () => (await sync()).status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"), 30_000, 100);
  });

  after(async () => {
    await berth?.cleanup();
    await cleanupProject(P).catch(() => undefined);
    removeDir(dir ?? "");
  });

  it("waits until the controller handled the request (status.lastHandledReconcileAt), prints the summary, exit 0", async () => {
    const r = await cli(["sync", "reconcile", "dir", "--wait", "--timeout", "30s"]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(r.stdout).to.contain("sync.berth.dev/dir reconcile requested");
    expect(r.stdout).to.match(/Ready:\s+True {2}Applied/);
    expect(r.stdout).to.contain(`    Project ${P}`);
    const s = await sync();
    expect(s.status.lastHandledReconcileAt).to.equal(s.metadata.annotations["berth.dev/reconcile-requested-at"]);
    const st = await cli(["sync", "status", "dir"]);
    expect(st.code, st.stdout).to.equal(0);
    expect(st.stdout).to.match(new RegExp(`Source:\\s+dir:${dir.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
  });

  it("a broken manifest: --wait reports ManifestInvalid with file:line and exits 1; the last good revision stays", async () => {
    const good = (await sync()).status.lastAppliedRevision;
    await cli(["sync", "suspend", "dir"]);
    writeFileSync(path.join(dir, "broken.yaml"), `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: ${P}-2}\nspec:\n  nonsense: 1\n`);
    const resumed = await cli(["sync", "resume", "dir"]);
    expect(resumed.code, resumed.stderr).to.equal(0);
    const r = await cli(["sync", "reconcile", "dir", "--wait", "--timeout", "30s"]);
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    expect(r.stdout).to.match(/Ready:\s+False {2}ManifestInvalid/);
    expect(r.stdout).to.match(/broken\.yaml:\d+/);
    expect(r.stdout).to.match(/Stalled:\s+True/);
    expect(r.stdout).to.contain(`Last applied:   ${good}`);
  });
});

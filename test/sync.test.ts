/**
 * Issue 15: a Sync keeps a git branch applied, against real git (a bare repository served by
 * `git daemon` on 127.0.0.1) and the real engine: commit → created and Ready; change → updated;
 * file removed → pruned; a broken document → nothing applied, the condition names file and line,
 * the last good revision keeps running; a commit that removes everything → PruneBlocked until
 * confirmed; `berth.dev/prune: disabled` kept; two Syncs over one object → the second's conflict.
 */
import { expect } from "chai";
import { existsSync } from "node:fs";
import path from "node:path";
import { call, startTestBerth } from "./helpers/berth.js";
import { appContainers, BUSYBOX_IMAGE, cleanupProject, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";
import { startGitRepo, type TestRepo } from "./helpers/git.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const P = `sync-${process.pid}`;

const project = `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata:\n  name: ${P}\nspec: {}\n`;
function app(name: string, env = "1", extra = ""): string {
  return [
    "apiVersion: berth.dev/v1alpha1",
    "kind: Application",
    "metadata:",
    `  name: ${name}`,
    `  namespace: ${P}`,
    "spec:",
    `  source: {image: "${BUSYBOX_IMAGE}"}`,
    "  command: [sleep, '3600']",
    "  replicas: 1",
    `  env: {VERSION: "${env}"}`,
    extra,
  ].filter(Boolean).join("\n") + "\n";
}

describe("Sync: a git branch kept applied (git daemon on 127.0.0.1, real engine)", function () {
  this.timeout(180_000);
  let berth: TestBerth;
  let repo: TestRepo;
  const sync = async (name = "infra"): Promise<any> => (await call(berth, "GET", `${G}/syncs/${name}`)).body;
  const ready = (s: any): any => s?.status?.conditions?.find((c: any) => c.type === "Ready");
  const getApp = async (name: string): Promise<any> => call(berth, "GET", `${G}/namespaces/${P}/applications/${name}`);
  const applied = (name: string, sha: string) => waitFor(`Sync ${name} applied ${sha.slice(0, 8)}`, async () => {
    const s = await sync(name);
    return s.status?.lastAppliedRevision === sha && ready(s)?.status === "True" ? s : undefined;
  }, 30_000, 100);
  const failed = (name: string, reason: string, sha: string) => waitFor(`Sync ${name} reports ${reason} for ${sha.slice(0, 8)}`, async () => {
    const s = await sync(name);
    return s.status?.lastAttemptedRevision === sha && ready(s)?.reason === reason ? s : undefined;
  }, 30_000, 100);
  const createSync = async (name: string, spec: Record<string, unknown>): Promise<void> => {
    const r = await call(berth, "POST", `${G}/syncs`, { apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name }, spec: { source: { git: { url: repo.url, branch: "main", path: "prod" } }, interval: "1s", ...spec } });
    expect(r.status, r.text).to.equal(201);
  };

  before(async function () {
    await requireDocker(this);
    await ensureBusyboxImage();
    repo = await startGitRepo();
    berth = await startTestBerth({ controllers: true, resyncMs: 5000 });
  });

  after(async () => {
    await berth?.cleanup();
    await cleanupProject(P).catch(() => undefined);
    await repo?.stop();
  });

  it("a commit → its objects are created, labelled with the Sync and Ready; status lists the inventory and the revision", async () => {
    const sha = await repo.commit({ "prod/project.yaml": project, "prod/a.yaml": app("a"), "prod/b.yaml": app("b"), "README.md": "not applied\n" }, "first");
    await createSync("infra", {});
    const s = await applied("infra", sha);
    expect(s.status.inventory.map((e: any) => `${e.kind}/${e.namespace ?? ""}/${e.name}`).sort()).to.deep.equal([`Application/${P}/a`, `Application/${P}/b`, `Project//${P}`]);
    expect(s.status.source).to.equal(`${repo.url}@main:prod`);
    const a = await waitFor("Application a Ready", async () => {
      const r = (await getApp("a")).body;
      return r.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True") ? r : undefined;
    }, 60_000);
    expect(a.metadata.labels["berth.dev/sync"]).to.equal("infra");
    expect(a.metadata.annotations?.["berth.dev/applied-by"], "a Sync's objects are not berth apply's to prune").to.equal(undefined);
    expect(await appContainers(P, "a")).to.have.length(1);
  });

  it("a change → updated; a file removed → pruned, its container gone", async () => {
    const sha = await repo.commit({ "prod/a.yaml": app("a", "2"), "prod/b.yaml": null }, "a v2, b gone");
    const s = await applied("infra", sha);
    expect(s.status.inventory.map((e: any) => e.name).sort()).to.deep.equal(["a", P].sort());
    expect((await getApp("a")).body.spec.env.VERSION).to.equal("2");
    await waitFor("b deleted (its finalizer removed its container)", async () => (await getApp("b")).status === 404, 30_000);
    expect(await appContainers(P, "b")).to.have.length(0);
  });

  it("a commit with one broken document applies nothing (not even its valid changes); the condition names file and line; the last good revision keeps running", async () => {
    const good = (await sync()).status.lastAppliedRevision;
    const sha = await repo.commit({ "prod/a.yaml": app("a", "3"), "prod/c.yaml": app("c", "1", "  ports: [{containerPort: eighty}]") }, "broken c");
    const s = await failed("infra", "ManifestInvalid", sha);
    expect(ready(s).message).to.match(/^prod\/c\.yaml:\d+: /);
    expect(ready(s).message).to.contain("spec.ports[0].containerPort");
    expect(s.status.lastAppliedRevision).to.equal(good);
    expect(s.status.conditions.find((c: any) => c.type === "Stalled")?.status).to.equal("True");
    expect((await getApp("a")).body.spec.env.VERSION, "nothing of the broken revision applied").to.equal("2");
    expect((await getApp("c")).status).to.equal(404);
    const events = (await call(berth, "GET", `/api/v1/events?fieldSelector=involvedObject.name=infra`)).body.items ?? [];
    expect(events.some((e: any) => e.type === "Warning" && e.reason === "ManifestInvalid"), "a Warning event").to.equal(true);
    const fixed = await repo.commit({ "prod/c.yaml": null }, "drop c");
    await applied("infra", fixed);
    expect((await getApp("a")).body.spec.env.VERSION).to.equal("3");
  });

  it("a commit that removes everything is PruneBlocked, deletes nothing, until the Sync is annotated with that revision", async () => {
    const sha = await repo.commit({ "prod/project.yaml": null, "prod/a.yaml": null }, "oops, everything gone");
    const s = await failed("infra", "PruneBlocked", sha);
    expect(ready(s).message).to.contain(`berth.dev/prune-confirm=${sha}`);
    expect((await getApp("a")).status, "nothing deleted").to.equal(200);
    // Put it back, protect a, then remove it again: annotated objects are never pruned.
    const back = await repo.commit({ "prod/project.yaml": project, "prod/a.yaml": app("a", "3"), "prod/d.yaml": app("d"), "prod/e.yaml": app("e") }, "back, plus d and e");
    await applied("infra", back);
    const r = await call(berth, "PATCH", `${G}/namespaces/${P}/applications/d`, { metadata: { annotations: { "berth.dev/prune": "disabled" } } }, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
    const drop = await repo.commit({ "prod/d.yaml": null }, "d gone from git, but protected");
    const after = await applied("infra", drop);
    expect((await getApp("d")).status, "berth.dev/prune: disabled kept").to.equal(200);
    expect(ready(after).message).to.contain("berth.dev/prune: disabled");
    // Confirming a revision that would prune every object lets it go through.
    const all = await repo.commit({ "prod/project.yaml": null, "prod/a.yaml": null, "prod/e.yaml": null }, "everything gone, confirmed");
    await failed("infra", "PruneBlocked", all);
    const c = await call(berth, "PATCH", `${G}/syncs/infra`, { metadata: { annotations: { "berth.dev/prune-confirm": all } } }, { contentType: "application/merge-patch+json" });
    expect(c.status, c.text).to.equal(200);
    await applied("infra", all);
    await waitFor("a and e pruned", async () => (await getApp("a")).status === 404 && (await getApp("e")).status === 404, 30_000);
  });

  it("two Syncs over the same object: the second reports ApplyFailed naming the owner, and writes nothing", async () => {
    const sha = await repo.commit({ "prod/project.yaml": project, "prod/a.yaml": app("a", "4"), "other/a.yaml": app("a", "other") }, "a second path with the same object");
    await applied("infra", sha);
    await createSync("rival", { source: { git: { url: repo.url, branch: "main", path: "other" } } });
    const s = await failed("rival", "ApplyFailed", sha);
    expect(ready(s).message).to.contain("owned by Sync infra");
    expect(ready(s).message).to.match(/^other\/a\.yaml:\d+/);
    expect((await getApp("a")).body.spec.env.VERSION).to.equal("4");
  });

  it("deleting a Sync leaves what it applied (Retain) and its git cache goes; with deletionPolicy Delete its objects go too", async () => {
    const rival = await sync("rival");
    expect((await call(berth, "DELETE", `${G}/syncs/rival`)).status).to.equal(200);
    await waitFor("rival gone", async () => (await call(berth, "GET", `${G}/syncs/rival`)).status === 404, 30_000);
    expect(existsSync(path.join(berth.dataDir, "sync-cache", rival.metadata.uid)), "the cache of a deleted Sync is removed").to.equal(false);
    expect(existsSync(path.join(berth.dataDir, "sync-cache", (await sync()).metadata.uid)), "another Sync's cache stays").to.equal(true);
    expect((await getApp("a")).status, "Retain: the objects stay").to.equal(200);
    const r = await call(berth, "PATCH", `${G}/syncs/infra`, { spec: { deletionPolicy: "Delete" } }, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
    await waitFor("the patch observed", async () => (await sync()).status?.observedGeneration === r.body.metadata.generation, 30_000);
    expect((await call(berth, "DELETE", `${G}/syncs/infra`)).status).to.equal(200);
    await waitFor("infra and what it applied gone", async () => (await call(berth, "GET", `${G}/syncs/infra`)).status === 404 && (await call(berth, "GET", `${G}/projects/${P}`)).status === 404, 60_000);
  });
});

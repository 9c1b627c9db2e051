/**
 * `berth diff --sync NAME` (issue 15): what the next revision of a Sync would change, against
 * real git (git daemon on 127.0.0.1) and the real CLI. The Sync applies a first revision with
 * the controllers running, is then suspended so nothing applies any more, and each later commit
 * is diffed: nothing changed → exit 0; a changed field → exit 1 and the field in the patch; a
 * removed file → its prune line; a broken document → exit 2 naming file:line; a hand-made object
 * in the way → exit 2 ApplyFailed; a prune the guard refuses → shown, with the refusal. After
 * every diff the store is as it was (same resourceVersions), and the controller's git cache was
 * never used for it.
 */
import { expect } from "chai";
import { existsSync } from "node:fs";
import path from "node:path";
import { call, runBerth, startTestBerth } from "./helpers/berth.js";
import { cleanupProject, requireDocker, waitFor } from "./helpers/docker.js";
import { startGitRepo, type TestRepo } from "./helpers/git.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const P = `sdiff-${process.pid}`;
const NAMES = [`${P}-one`, `${P}-two`, `${P}-three`, `${P}-four`, `${P}-hand`];

function project(name: string, description = "first"): string {
  return `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata:\n  name: ${name}\nspec:\n  description: ${description}\n`;
}

describe("berth diff --sync NAME (git daemon on 127.0.0.1, controllers, real CLI)", function () {
  this.timeout(180_000);
  let berth: TestBerth;
  let repo: TestRepo;
  let uid: string;
  const cli = (args: string[]) => runBerth(args, { kubeconfig: berth.kubeconfigPath });
  const diff = () => cli(["diff", "--sync", "infra"]);
  const sync = async (): Promise<any> => (await call(berth, "GET", `${G}/syncs/infra`)).body;
  /** Every Project's resourceVersion (absent ones as "-"), and the Sync's applied revision. */
  const storeState = async (): Promise<string[]> => {
    const rvs = await Promise.all(NAMES.map(async (n) => (await call(berth, "GET", `${G}/projects/${n}`)).body?.metadata?.resourceVersion ?? "-"));
    return [...rvs, (await sync()).status?.lastAppliedRevision];
  };
  /** A diff of the latest commit, checked to have stored nothing. */
  const diffChangesNothing = async (): Promise<Awaited<ReturnType<typeof cli>>> => {
    const before = await storeState();
    const r = await diff();
    expect(await storeState(), "a diff stores nothing").to.deep.equal(before);
    return r;
  };

  before(async function () {
    await requireDocker(this);
    repo = await startGitRepo();
    berth = await startTestBerth({ controllers: true, resyncMs: 5000 });
    const sha = await repo.commit({ "prod/one.yaml": project(`${P}-one`), "prod/two.yaml": project(`${P}-two`), "prod/three.yaml": project(`${P}-three`) }, "first");
    const r = await call(berth, "POST", `${G}/syncs`, { apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name: "infra" }, spec: { source: { git: { url: repo.url, branch: "main", path: "prod" } }, interval: "1s" } });
    expect(r.status, r.text).to.equal(201);
    uid = r.body.metadata.uid;
    await waitFor("first revision applied", async () => (await sync()).status?.lastAppliedRevision === sha, 30_000, 100);
    for (const n of NAMES.slice(0, 3)) await waitFor(`Project ${n} Ready`, async () => (await call(berth, "GET", `${G}/projects/${n}`)).body.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"), 30_000, 100);
    const s = await cli(["sync", "suspend", "infra"]);
    expect(s.code, s.stderr).to.equal(0);
    await waitFor("the controller saw the suspension", async () => (await sync()).status?.conditions?.some((c: any) => c.type === "Ready" && c.reason === "Suspended"), 30_000, 100);
  });

  after(async () => {
    await berth?.cleanup();
    for (const n of NAMES) await cleanupProject(n).catch(() => undefined);
    await repo?.stop();
  });

  it("-f and --sync together, or neither, is a usage error (exit 2)", async () => {
    const both = await cli(["diff", "-f", "x.yaml", "--sync", "infra"]);
    expect(both.code).to.equal(2);
    expect(both.stderr).to.contain("not both");
    const neither = await cli(["diff"]);
    expect(neither.code).to.equal(2);
    const unknown = await cli(["diff", "--sync", "nope"]);
    expect(unknown.code, "an unknown Sync is an error").to.equal(2);
    expect(unknown.stderr).to.contain("NotFound");
  });

  it("a commit that changes no object → exit 0, nothing printed", async () => {
    const sha = await repo.commit({ "README.md": "not a manifest\n" }, "docs only");
    const r = await diffChangesNothing();
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal("");
    expect(r.stderr).to.contain(`at revision ${sha}`).and.to.contain("nothing would change");
    expect(existsSync(path.join(berth.dataDir, "sync-cache", "diff", uid)), "the diff's own git cache").to.equal(true);
  });

  it("a changed object → exit 1, the patch shows the field; a new file → the object created", async () => {
    await repo.commit({ "prod/two.yaml": project(`${P}-two`, "second"), "prod/four.yaml": project(`${P}-four`) }, "two changed, four new");
    const r = await diffChangesNothing();
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stdout).to.contain(`live/projects.berth.dev/${P}-two`);
    expect(r.stdout).to.match(/^-\s+description: first$/m);
    expect(r.stdout).to.match(/^\+\s+description: second$/m);
    expect(r.stdout).to.contain(`merged/projects.berth.dev/${P}-four`);
    expect(r.stdout, "unchanged objects are not shown").to.not.contain(`${P}-one`);
    expect(r.stdout).to.not.contain("prune");
    expect((await call(berth, "GET", `${G}/projects/${P}-four`)).status, "nothing created").to.equal(404);
  });

  it("a removed file → a prune line", async () => {
    await repo.commit({ "prod/two.yaml": project(`${P}-two`), "prod/four.yaml": null, "prod/three.yaml": null }, "three gone");
    const r = await diffChangesNothing();
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stdout.trim()).to.equal(`- prune Project /${P}-three`);
    expect((await call(berth, "GET", `${G}/projects/${P}-three`)).body.metadata.deletionTimestamp, "nothing deleted").to.equal(undefined);
  });

  it("a broken document → exit 2, the message names file:line; nothing shown as a change", async () => {
    await repo.commit({ "prod/three.yaml": project(`${P}-three`), "prod/two.yaml": `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata:\n  name: ${P}-two\nspec:\n  description: ok\n  colour: blue\n` }, "broken two");
    const r = await diffChangesNothing();
    expect(r.code, r.stdout + r.stderr).to.equal(2);
    expect(r.stdout).to.equal("");
    expect(r.stderr).to.contain("ManifestInvalid");
    expect(r.stderr).to.match(/prod\/two\.yaml:\d+: spec\.colour/);
  });

  it("an object made by hand in the way → exit 2 ApplyFailed naming the file and the owner", async () => {
    const made = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: `${P}-hand` }, spec: {} });
    expect(made.status, made.text).to.equal(201);
    // Settled first, so its own controller's writes do not count as the diff's.
    await waitFor("the hand-made Project Ready", async () => (await call(berth, "GET", `${G}/projects/${P}-hand`)).body.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"), 30_000, 100);
    await repo.commit({ "prod/two.yaml": project(`${P}-two`), "prod/hand.yaml": project(`${P}-hand`) }, "claims a hand-made Project");
    const r = await diffChangesNothing();
    expect(r.code, r.stdout + r.stderr).to.equal(2);
    expect(r.stderr).to.contain("ApplyFailed");
    expect(r.stderr).to.match(/prod\/hand\.yaml:\d+: .*created by hand/);
  });

  it("a prune the guard refuses → the prune lines and the refusal with the revision to confirm (exit 1)", async () => {
    const sha = await repo.commit({ "prod/hand.yaml": null, "prod/one.yaml": null, "prod/two.yaml": null, "prod/three.yaml": null }, "everything gone");
    const r = await diffChangesNothing();
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stdout.trim().split("\n").sort()).to.deep.equal([`- prune Project /${P}-one`, `- prune Project /${P}-three`, `- prune Project /${P}-two`]);
    expect(r.stderr).to.contain("PruneBlocked").and.to.contain(`berth.dev/prune-confirm=${sha}`);
  });

  it("the API answer: kind SyncDiff, revision, items with actions, prune entries", async () => {
    const sha = await repo.commit({ "prod/one.yaml": project(`${P}-one`), "prod/two.yaml": project(`${P}-two`, "third") }, "one back, two changed, three gone");
    const r = await call(berth, "GET", "/berth/v1/syncs/infra/diff");
    expect(r.status, r.text).to.equal(200);
    expect(r.body.kind).to.equal("SyncDiff");
    expect(r.body.revision).to.equal(sha);
    expect(r.body.items.map((i: any) => `${i.object.metadata.name}:${i.action}`).sort()).to.deep.equal([`${P}-one:unchanged`, `${P}-two:configured`]);
    expect(r.body.items.find((i: any) => i.object.metadata.name === `${P}-two`).object.spec.description).to.equal("third");
    expect(r.body.prune).to.deep.equal([{ kind: "Project", name: `${P}-three` }]);
    expect(r.body.error).to.equal(undefined);
    expect(r.body.blocked).to.equal(undefined);
    expect((await call(berth, "POST", "/berth/v1/syncs/infra/diff")).status).to.equal(405);
  });
});

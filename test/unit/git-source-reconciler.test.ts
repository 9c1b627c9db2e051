/**
 * A git-source Application against the fake runtime driver and real git on disk (issue 16): the
 * first build waits its turn in the queue (BuildQueued, position), a built commit runs, and a
 * failed build leaves the deployed commit running and Ready with BuildFailed beside it.
 */
import { expect } from "chai";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BuildQueue } from "../../src/controller/build-queue.js";
import type { ResourceObject } from "../../src/core/types.js";
import { GitSource } from "../../src/reconcilers/application/git-source.js";
import { ApplicationReconciler } from "../../src/reconcilers/application/reconciler.js";
import { FakeDriver } from "../../src/runtime/fake.js";
import { NO_TRAFFIC } from "../../src/runtime/traffic.js";
import { removeDir, tempDir } from "../helpers/berth.js";
import { git } from "../helpers/git.js";
import { ctx, unitStore, type UnitStore } from "../helpers/unit-store.js";

const P = "shop";
const ADMIN = { user: "admin" };

describe("Application from git (fake runtime driver, real git)", function () {
  this.timeout(20_000);
  let u: UnitStore;
  let fake: FakeDriver;
  let queue: BuildQueue;
  let reconciler: ApplicationReconciler;
  let work: string;
  let clone: string;
  const woken: string[] = [];
  const get = async (): Promise<ResourceObject> => (await u.stores.resources.get("Application", P, "web"))!;
  const reconcile = () => reconciler.reconcile({ kind: "Application", namespace: P, name: "web" }, ctx());
  const cond = (o: ResourceObject, type: string): any => (o.status?.conditions as any[] | undefined)?.find((c) => c.type === type);
  const commit = async (text: string): Promise<string> => {
    writeFileSync(path.join(clone, "Dockerfile"), text);
    await git(["add", "-A"], clone);
    await git(["commit", "-q", "-m", text.slice(0, 20)], clone);
    await git(["push", "-q", "origin", "HEAD:main"], clone);
    return (await git(["rev-parse", "HEAD"], clone)).trim();
  };
  /** Until the queue has no build running or waiting. */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 200 && (queue.depth().running || queue.depth().waiting); i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setImmediate(r));
  };

  before(async () => {
    u = await unitStore();
    work = tempDir("berth-unit-git-");
    clone = path.join(work, "clone");
    await git(["init", "--bare", "-q", "-b", "main", path.join(work, "app.git")], work);
    await git(["clone", "-q", path.join(work, "app.git"), clone], work);
    mkdirSync(clone, { recursive: true });
    await git(["checkout", "-q", "-b", "main"], clone);
  });

  after(() => removeDir(work));

  beforeEach(async () => {
    await u.reset();
    fake = new FakeDriver();
    queue = new BuildQueue(1, (k) => woken.push(k));
    await queue.start(new AbortController().signal);
    const s = u.stores;
    const gitSource = new GitSource({ driver: fake, builds: queue, revisions: s.revisions, box: u.box, cacheRoot: path.join(work, "cache") });
    reconciler = new ApplicationReconciler({ store: s.resources, events: s.events, driver: fake, traffic: NO_TRAFFIC, box: u.box, credentials: s.credentials, revisions: s.revisions, volumes: s.volumes, metrics: u.metrics, git: gitSource });
    await s.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} }, ADMIN);
    await s.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "web", namespace: P }, spec: { source: { git: { repository: `file://${work}/app.git`, branch: "main" } }, replicas: 2, command: ["httpd"] } }, ADMIN);
  });

  afterEach(() => queue.stop());

  it("the first build waits in a full queue (BuildQueued, its position), then the commit's image runs and status.commit says which", async () => {
    const sha = await commit("FROM scratch\n");
    let release!: (v: { image: string }) => void;
    queue.request({ key: "someone-else", commit: "x", run: () => new Promise((r) => (release = r)) });
    await reconcile();
    const waiting = await get();
    expect(cond(waiting, "Ready")).to.include({ status: "False", reason: "BuildQueued" });
    expect(cond(waiting, "Ready").message).to.contain("position 2 of 2");
    expect((waiting.status as any).build).to.deep.equal({ commit: sha, state: "queued", position: 2 });
    expect(fake.builds).to.have.length(0);
    release({ image: "other" });
    await settle();
    expect(fake.builds.map((b) => b.tag)).to.deep.equal([`berth.local/${P}/web:${sha.slice(0, 12)}`]);
    expect(woken).to.include(waiting.metadata.uid);
    await reconcile();
    const a = await get();
    expect(cond(a, "Ready")).to.include({ status: "True", reason: "ReplicasReady" });
    expect(a.status).to.deep.include({ commit: sha, image: `berth.local/${P}/web:${sha.slice(0, 12)}` });
    expect([...fake.containers.values()].map((c) => c.spec.Image)).to.deep.equal([a.status!.image, a.status!.image]);
    const revs = await u.stores.revisions.history(a.metadata.uid!);
    expect(revs.map((r) => [r.status, r.commit])).to.deep.equal([["success", sha]]);
  });

  it("a failed build of the next commit: BuildFailed with the engine's words, a Warning, the deployed commit still running and Ready", async () => {
    const good = await commit("FROM scratch\nCOPY a /a\n");
    await reconcile();
    await settle();
    await reconcile();
    expect((await get()).status!.commit).to.equal(good);
    const bad = await commit("FROM scratch\nRUN exit 3\n");
    fake.buildFailures.set(`berth.local/${P}/web:${bad.slice(0, 12)}`, "The command '/bin/sh -c exit 3' returned a non-zero code: 3");
    await u.stores.resources.update({ kind: "Application", namespace: P, name: "web" }, ADMIN, "patch", (cur) => ({ ...cur!, metadata: { ...cur!.metadata, annotations: { "berth.dev/reconcile-requested-at": "now" } } }));
    await reconcile();
    const building = await get();
    expect(cond(building, "Progressing")).to.include({ status: "True", reason: "Building" });
    expect(cond(building, "Ready")).to.include({ status: "True" });
    await settle();
    await reconcile();
    const a = await get();
    expect(cond(a, "BuildFailed")).to.include({ status: "True", reason: "BuildFailed" });
    expect(cond(a, "BuildFailed").message).to.contain(bad.slice(0, 12)).and.contain("returned a non-zero code: 3");
    expect(cond(a, "Ready")).to.include({ status: "True" });
    expect(cond(a, "Progressing")).to.include({ status: "False", reason: "BuildFailed" });
    expect(a.status!.commit).to.equal(good);
    expect([...fake.containers.values()].every((c) => c.spec.Image === `berth.local/${P}/web:${good.slice(0, 12)}`)).to.equal(true);
    const events = ((await u.stores.events.list(P, "involvedObject.name=web")).items as any[]).filter((e) => e.type === "Warning");
    expect(events.map((e) => e.reason)).to.deep.equal(["BuildFailed"]);
    const revs = await u.stores.revisions.history(a.metadata.uid!);
    expect(revs.map((r) => [r.status, r.commit])).to.deep.equal([["success", good], ["failed", bad]]);
  });
});

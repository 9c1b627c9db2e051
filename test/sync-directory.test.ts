/**
 * Issue 15, directory mode: a Sync over a directory on the server's host, watched with chokidar.
 * A write, an editor's atomic save (temp file renamed over), a delete and a half-written file,
 * each with the expected result; the delay from save to applied is printed. And a webhook with a
 * valid signature makes a git Sync fetch at once (interval 1h, so only the webhook can).
 */
import { expect } from "chai";
import { createHmac } from "node:crypto";
import { renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { call, removeDir, runBerth, startTestBerth, tempDir } from "./helpers/berth.js";
import { cleanupProject, requireDocker, waitFor } from "./helpers/docker.js";
import { startGitRepo, type TestRepo } from "./helpers/git.js";
import { deliver } from "./helpers/webhook.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const P = `syncdir-${process.pid}`;
const project = (name: string, extra = ""): string => `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata:\n  name: ${name}\n  labels: {tier: "${extra || "a"}"}\nspec: {}\n`;

describe("Sync: a watched directory, and webhooks", function () {
  this.timeout(120_000);
  let berth: TestBerth;
  let dir: string;
  let repo: TestRepo;
  const sync = async (name: string): Promise<any> => (await call(berth, "GET", `${G}/syncs/${name}`)).body;
  const ready = (s: any): any => s?.status?.conditions?.find((c: any) => c.type === "Ready");
  const getProject = async (name: string): Promise<any> => call(berth, "GET", `${G}/projects/${name}`);
  /** ms from now until `check` holds (polled every 20 ms). */
  const until = async (what: string, check: () => Promise<boolean>): Promise<number> => {
    const t0 = Date.now();
    await waitFor(what, async () => (await check()) || undefined, 15_000, 20);
    return Date.now() - t0;
  };
  const delays: Record<string, number> = {};

  before(async function () {
    await requireDocker(this);
    dir = tempDir("berth-syncdir-");
    repo = await startGitRepo();
    berth = await startTestBerth({ controllers: true, resyncMs: 60_000 });
    writeFileSync(path.join(dir, "one.yaml"), project(`${P}-one`));
    const r = await call(berth, "POST", `${G}/syncs`, { apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name: "local" }, spec: { source: { directory: { path: dir } } } });
    expect(r.status, r.text).to.equal(201);
    await waitFor("the directory applied", async () => ready(await sync("local"))?.status === "True" && (await getProject(`${P}-one`)).status === 200, 30_000);
  });

  after(async () => {
    await berth?.cleanup();
    for (const p of ["one", "two", "three"]) await cleanupProject(`${P}-${p}`).catch(() => undefined);
    removeDir(dir ?? "");
    await repo?.stop();
  });

  after(() => console.log(`      save → applied: ${Object.entries(delays).map(([k, v]) => `${k} ${v} ms`).join(", ")}`));

  it("a new file shows up as applied within 1 s", async () => {
    writeFileSync(path.join(dir, "two.yaml"), project(`${P}-two`));
    delays.write = await until("two applied", async () => (await getProject(`${P}-two`)).status === 200);
    expect(delays.write).to.be.below(1000);
  });

  it("an editor's atomic save (temp file renamed over) is applied as one change", async () => {
    const tmp = path.join(dir, ".two.yaml.swp");
    writeFileSync(tmp, project(`${P}-two`, "b"));
    renameSync(tmp, path.join(dir, "two.yaml"));
    delays["rename-over"] = await until("two relabelled", async () => (await getProject(`${P}-two`)).body.metadata?.labels?.tier === "b");
    expect(delays["rename-over"]).to.be.below(1000);
  });

  it("a half-written file applies nothing and names the file; finishing it applies it", async () => {
    writeFileSync(path.join(dir, "three.yaml"), `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata:\n  name: ${P}-three\n  labels: {tier: "c"\n`);
    await until("ManifestInvalid", async () => ready(await sync("local"))?.reason === "ManifestInvalid");
    const s = await sync("local");
    expect(ready(s).message).to.match(/^three\.yaml:\d+: /);
    expect(s.status.lastAttemptedRevision, "the broken revision was not applied").to.not.equal(s.status.lastAppliedRevision);
    expect((await getProject(`${P}-two`)).body.metadata.labels.tier, "the last good revision stays").to.equal("b");
    expect((await getProject(`${P}-three`)).status).to.equal(404);
    writeFileSync(path.join(dir, "three.yaml"), project(`${P}-three`, "c"));
    delays.completed = await until("three applied", async () => (await getProject(`${P}-three`)).status === 200);
    expect(delays.completed).to.be.below(1000);
  });

  it("a deleted file is pruned", async () => {
    rmSync(path.join(dir, "three.yaml"));
    delays.delete = await until("three pruned", async () => {
      const p = await getProject(`${P}-three`);
      return p.status === 404 || !!p.body.metadata?.deletionTimestamp;
    });
    expect(delays.delete).to.be.below(1000);
    // The Project is marked for deletion inside the batch; the status write follows it.
    const s = await waitFor("the inventory without three", async () => {
      const x = await sync("local");
      return x.status.inventory.length === 2 ? x : undefined;
    }, 10_000, 20);
    expect(s.status.inventory.map((e: any) => e.name).sort()).to.deep.equal([`${P}-one`, `${P}-two`]);
  });

  it("berth export of what the Sync applied, with the Sync pointed at the exported directory: berth diff --sync reports nothing to change", async () => {
    const out = path.join(dir, "..", `${path.basename(dir)}-export`);
    for (const p of ["one", "two"]) {
      const r = await runBerth(["export", "-n", `${P}-${p}`, "-o", out], { kubeconfig: berth.kubeconfigPath });
      expect(r.code, r.stderr).to.equal(0);
    }
    const patched = await call(berth, "PATCH", `${G}/syncs/local`, { spec: { source: { directory: { path: out } }, suspend: true } }, { contentType: "application/merge-patch+json" });
    expect(patched.status, patched.text).to.equal(200);
    const diff = await runBerth(["diff", "--sync", "local"], { kubeconfig: berth.kubeconfigPath });
    expect(diff.code, `${diff.stdout}${diff.stderr}`).to.equal(0);
    removeDir(out);
  });

  it("a webhook with a valid GitHub signature makes a git Sync fetch at once; a forged one gets 401 and fetches nothing", async () => {
    const first = await repo.commit({ "p.yaml": project(`${P}-hook`) }, "first");
    const secret = "hook-secret-0123456789";
    const r = await call(berth, "POST", `${G}/syncs`, { apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name: "hooked" }, spec: { source: { git: { url: repo.url } }, interval: "1h", webhook: { secret } } });
    expect(r.status, r.text).to.equal(201);
    await waitFor("first revision applied", async () => (await sync("hooked")).status?.lastAppliedRevision === first, 30_000);
    // The reconcile its own finalizer write wakes comes and goes first; after it only a webhook (or 1h) fetches.
    await new Promise((res) => setTimeout(res, 1500));
    const second = await repo.commit({ "p.yaml": project(`${P}-hook`, "hooked") }, "second");
    const body = JSON.stringify({ ref: "refs/heads/main", after: second });
    const post = (signature: string) => deliver(berth, "hooked", body, { "X-GitHub-Event": "push", "X-Hub-Signature-256": signature });
    const forged = await post(`sha256=${createHmac("sha256", "wrong").update(body).digest("hex")}`);
    expect(forged.status).to.equal(401);
    await new Promise((res) => setTimeout(res, 1000));
    expect((await sync("hooked")).status.lastAppliedRevision, "a forged delivery fetched nothing").to.equal(first);
    const t0 = Date.now();
    const ok = await post(`sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
    expect(ok.status).to.equal(202);
    await waitFor("second revision applied", async () => (await sync("hooked")).status?.lastAppliedRevision === second, 5000, 20);
    delays.webhook = Date.now() - t0;
    expect(delays.webhook).to.be.below(1000);
    await cleanupProject(`${P}-hook`).catch(() => undefined);
  });
});

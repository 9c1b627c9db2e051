/**
 * Issue 16: Applications built from git on the real engine. A repository the test makes (bare,
 * served by `git daemon` on 127.0.0.1) holds a Dockerfile FROM the busybox test image; Berth
 * resolves the branch, builds through the engine's build API, tags berth.local/<p>/<n>:<sha12>
 * and rolls it out behind a Domain on a real Caddy. Commit statuses go to a provider API that
 * nock stands in for (the one third party that cannot run here).
 */
import { expect } from "chai";
import { createHmac } from "node:crypto";
import http from "node:http";
import { startBerth, type Berth } from "../src/main.js";
import { call, quietLogger, removeDir, runBerth, tempDir } from "./helpers/berth.js";
import { requireCommands, requireReloadSafety, startCaddy, type TestCaddy } from "./helpers/caddy.js";
import { appContainers, BUSYBOX_IMAGE, cleanupProject, docker, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";
import { startGitRepo, type TestRepo } from "./helpers/git.js";
import { startLoad } from "./helpers/load.js";
import { deliver } from "./helpers/webhook.js";
import { releaseNock, useNock, type Nock } from "./helpers/nock.js";

const G = "/apis/berth.dev/v1alpha1";
const P = `gitb-${process.pid}`;
const HOST = `web.${P}.test`;
const SECRET = "whsec-3b1f0c9a7d";
const TOKEN = "ghp-test-9e7d5c3b1a";
const API = "https://api.github.test";

function dockerfile(extra = ""): string {
  return `FROM ${BUSYBOX_IMAGE}\nCOPY www /www\n${extra}CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n`;
}

function site(version: string): Record<string, string> {
  return { Dockerfile: dockerfile(), "www/index.html": `version ${version}\n`, "www/health": "ok\n" };
}

function sign(body: string): string {
  return `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
}

interface StatusCall {
  sha: string;
  state: string;
  context: string;
}

describe("git sources: built from a repository, rolled out through a Domain", function () {
  this.timeout(600_000);
  let caddy: TestCaddy;
  let berth: Berth;
  let dataDir: string;
  let repo: TestRepo;
  let nock: Nock;
  const statuses: StatusCall[] = [];
  const get = async (): Promise<any> => (await call(berth, "GET", `${G}/namespaces/${P}/applications/web`)).body;
  const cond = (a: any, type: string): any => a?.status?.conditions?.find((c: any) => c.type === type);
  const runningCommit = (sha: string): Promise<any> =>
    waitFor(`web Ready on commit ${sha.slice(0, 12)}`, async () => {
      const a = await get();
      return cond(a, "Ready")?.status === "True" && a.status.commit === sha && a.status.updatedReplicas === 2 && a.status.replicas === 2 ? a : undefined;
    }, 180_000, 200);
  const push = async (sha: string): Promise<number> => {
    const body = JSON.stringify({ ref: "refs/heads/main", after: sha, repository: { default_branch: "main" } });
    const r = await deliver(berth, `/hooks/git/${P}/web`, body, { "X-GitHub-Event": "push", "X-Hub-Signature-256": sign(body) });
    return r.status;
  };
  const page = (): Promise<string> =>
    new Promise((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: caddy.httpPort, path: "/", headers: { host: HOST } }, (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () => resolve(`${res.statusCode} ${text}`));
        })
        .on("error", reject);
    });

  before(async function () {
    await requireDocker(this);
    requireCommands(this, ["caddy", "git"]);
    requireReloadSafety(this);
    await ensureBusyboxImage();
    repo = await startGitRepo();
    // The provider's statuses API: every request recorded, as GitHub would take it.
    nock = await useNock();
    nock(API)
      .persist()
      .post(/^\/repos\/infra\/statuses\/[0-9a-f]{40}$/)
      .matchHeader("authorization", `Bearer ${TOKEN}`)
      .reply(201, function (uri, body) {
        const b = body as { state: string; context: string };
        statuses.push({ sha: uri.split("/").pop()!, state: b.state, context: b.context });
        return { id: statuses.length };
      });
    caddy = await startCaddy();
    dataDir = tempDir("berth-gitb-");
    berth = await startBerth({ dataDir, listen: "127.0.0.1:0", logger: quietLogger(), controllers: true, resyncMs: 5000, router: { adminUrl: caddy.adminUrl, httpPort: caddy.httpPort, httpsPort: caddy.httpsPort, bindHost: "127.0.0.1" } });
    const project = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} });
    expect(project.status, project.text).to.equal(201);
  });

  after(async () => {
    await berth?.stop();
    releaseNock(nock);
    await caddy?.stop();
    await repo?.stop();
    await cleanupProject(P).catch(() => undefined);
    const images = await docker.listImages({ filters: { reference: [`berth.local/${P}/*`] } }).catch(() => []);
    for (const i of images) await docker.getImage(i.Id).remove({ force: true }).catch(() => undefined);
    removeDir(dataDir ?? "");
  });

  it("apply → the branch head built through the engine, Ready, status.commit, the deployment row and GIT_SOURCE carry the sha; pending then success reported", async () => {
    const sha = await repo.commit(site("1"), "first");
    const app = await call(berth, "POST", `${G}/namespaces/${P}/applications`, {
      apiVersion: "berth.dev/v1alpha1",
      kind: "Application",
      metadata: { name: "web", namespace: P },
      spec: {
        source: { git: { repository: repo.url, branch: "main", provider: "github", interval: "1h", auth: { token: TOKEN }, webhook: { secret: SECRET }, commitStatus: { apiUrl: API, targetUrl: "https://berth.example/ui" } } },
        replicas: 2,
        ports: [{ containerPort: 8080 }],
        healthcheck: { http: { path: "/health", port: 8080 }, interval: "1s", timeout: "2s", retries: 3 },
        strategy: { type: "RollingUpdate", maxSurge: 1, maxUnavailable: 0 },
      },
    });
    expect(app.status, app.text).to.equal(201);
    expect(JSON.stringify(app.body), "the token is sealed in API output").to.not.contain(TOKEN);
    const dom = await call(berth, "POST", `${G}/namespaces/${P}/domains`, { apiVersion: "berth.dev/v1alpha1", kind: "Domain", metadata: { name: "web", namespace: P }, spec: { host: HOST, target: { application: "web", port: 8080 } } });
    expect(dom.status, dom.text).to.equal(201);
    const a = await runningCommit(sha);
    expect(a.status.image).to.equal(`berth.local/${P}/web:${sha.slice(0, 12)}`);
    expect(cond(a, "BuildFailed")?.status).to.equal("False");
    const image = await docker.getImage(a.status.image).inspect();
    expect(image.RepoTags).to.include(`berth.local/${P}/web:${sha.slice(0, 12)}`);
    const containers = await appContainers(P, "web");
    expect(containers.map((c) => c.Image)).to.deep.equal([a.status.image, a.status.image]);
    await waitFor("the Domain answering version 1", async () => ((await page()) === "200 version 1\n" ? true : undefined), 60_000);
    const revs = (await call(berth, "GET", `/berth/v1/namespaces/${P}/applications/web/deployments?logs=true`)).body.items;
    expect(revs).to.have.length(1);
    expect(revs[0]).to.include({ status: "success", commit: sha });
    expect(revs[0].build.imageSize).to.be.greaterThan(0);
    expect(await berth.stores.revisions.gitSource(a.metadata.uid)).to.deep.equal({ provider: "github", repository: repo.url, branch: "main", commitSha: sha });
    const lines = revs[0].logs.map((l: any) => l.message).join("\n");
    expect(lines, lines).to.match(/Step 1\/\d+ : FROM/);
    const logs = await runBerth(["logs", "--build", "app/web", "-n", P], { kubeconfig: berth.kubeconfigPath });
    expect(logs.code, logs.stderr).to.equal(0);
    expect(logs.stdout).to.match(/Step 2\/\d+ : COPY www \/www/);
    await waitFor("pending and success reported for the commit", async () => (statuses.filter((s) => s.sha === sha).map((s) => s.state).join(",") === "pending,success" ? true : undefined), 30_000);
    expect(statuses[0].context).to.equal(`berth/${P}/web`);
    await waitFor("CommitStatusReported", async () => (cond(await get(), "CommitStatusReported")?.status === "True" ? true : undefined), 30_000);
  });

  it("a pushed commit + signed webhook → a new build and a rolling update with 0 failed requests through the Domain", async () => {
    const before = (await get()).status.commit;
    const sha = await repo.commit(site("2"), "second");
    const load = startLoad({ port: caddy.httpPort, host: HOST, rate: 50 });
    expect(await push(sha)).to.equal(202);
    await runningCommit(sha);
    await waitFor("the Domain answering version 2", async () => ((await page()) === "200 version 2\n" ? true : undefined), 60_000);
    const r = await load.stop();
    console.log(`      rollout ${before.slice(0, 8)} → ${sha.slice(0, 8)}: ${r.sent} requests, ${r.failed} failed, p99 ${r.p99} ms${r.stalls.length ? `; ${r.stalls.join("; ")}` : ""}`);
    expect(r.failed, r.failures.join("\n")).to.equal(0);
    expect(r.sent).to.be.greaterThan(50);
  });

  it("a forged webhook → 401 and nothing built; a push to another branch → 202 ignored", async () => {
    const body = JSON.stringify({ ref: "refs/heads/main", after: "0".repeat(40) });
    const forged = await deliver(berth, `/hooks/git/${P}/web`, body, { "X-Hub-Signature-256": `sha256=${"ab".repeat(32)}` });
    expect(forged.status).to.equal(401);
    const unknown = await deliver(berth, `/hooks/git/${P}/nope`, body, { "X-Hub-Signature-256": sign(body) });
    expect(unknown.status).to.equal(401);
    const other = JSON.stringify({ ref: "refs/heads/feature", after: "1".repeat(40) });
    const ignored = await deliver(berth, `/hooks/git/${P}/web`, other, { "X-Hub-Signature-256": sign(other) });
    expect(ignored.status).to.equal(202);
    expect(ignored.body.ignored).to.equal(true);
    expect((await get()).metadata.annotations?.["berth.dev/reconcile-requested-at"]).to.not.equal(undefined);
  });

  it("the same commit pushed again costs no build", async () => {
    const a = await get();
    const revs = (await call(berth, "GET", `/berth/v1/namespaces/${P}/applications/web/deployments`)).body.items.length;
    expect(await push(a.status.commit)).to.equal(202);
    await new Promise((r) => setTimeout(r, 3000));
    const after = await get();
    expect(after.status.commit).to.equal(a.status.commit);
    expect((await call(berth, "GET", `/berth/v1/namespaces/${P}/applications/web/deployments`)).body.items.length).to.equal(revs);
  });

  it("a broken Dockerfile → BuildFailed with the build's last lines and a Warning; the old version keeps answering, Ready stays on it", async () => {
    const good = (await get()).status.commit;
    const sha = await repo.commit({ Dockerfile: dockerfile("RUN exit 3\n") }, "broken");
    const load = startLoad({ port: caddy.httpPort, host: HOST, rate: 20 });
    expect(await push(sha)).to.equal(202);
    const a = await waitFor("BuildFailed", async () => {
      const x = await get();
      return cond(x, "BuildFailed")?.status === "True" ? x : undefined;
    }, 180_000, 300);
    const r = await load.stop();
    expect(r.failed, r.failures.join("\n")).to.equal(0);
    expect(cond(a, "BuildFailed").message).to.contain(sha.slice(0, 12)).and.to.match(/RUN exit 3|returned a non-zero code/);
    expect(cond(a, "Ready")?.status).to.equal("True");
    expect(a.status.commit).to.equal(good);
    expect(await page()).to.equal("200 version 2\n");
    const events = (await call(berth, "GET", `/api/v1/namespaces/${P}/events`)).body.items;
    expect(events.some((e: any) => e.reason === "BuildFailed" && e.type === "Warning")).to.equal(true);
    const revs = (await call(berth, "GET", `/berth/v1/namespaces/${P}/applications/web/deployments`)).body.items;
    expect(revs[revs.length - 1]).to.include({ status: "failed", commit: sha });
    await waitFor("failure reported for the broken commit", async () => (statuses.some((s) => s.sha === sha && s.state === "failure") ? true : undefined), 30_000);
  });

  it("two quick commits → only the newer one deploys", async () => {
    const older = await repo.commit(site("3"), "third");
    expect(await push(older)).to.equal(202);
    const newer = await repo.commit(site("4"), "fourth");
    expect(await push(newer)).to.equal(202);
    await runningCommit(newer);
    expect(await page()).to.equal("200 version 4\n");
    const revs = (await call(berth, "GET", `/berth/v1/namespaces/${P}/applications/web/deployments`)).body.items;
    expect(revs.filter((r: any) => r.commit === older && r.status === "success"), "the older commit never went live").to.have.length(0);
    expect(revs[revs.length - 1]).to.include({ status: "success", commit: newer });
  });

  it("a compose file from git: build: contexts built at the file's commit, env_file read from the repository; a new commit is polled and rebuilds", async () => {
    const stackRepo = await startGitRepo();
    try {
      const files = (v: string): Record<string, string> => ({
        "deploy/compose.yaml": `services:\n  web:\n    build:\n      context: ../web\n      args: {V: "${v}"}\n    env_file: ../web/app.env\n    ports: ["8080"]\n    healthcheck:\n      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]\n      interval: 1s\n      retries: 3\n  side:\n    image: ${BUSYBOX_IMAGE}\n    command: ["sleep", "3600"]\n`,
        "web/Dockerfile": `FROM ${BUSYBOX_IMAGE}\nARG V\nRUN mkdir -p /www && echo "stack $V" > /www/index.html\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n`,
        "web/app.env": "GREETING=hello\n",
      });
      const first = await stackRepo.commit(files("1"), "stack 1");
      const r = await call(berth, "POST", `${G}/namespaces/${P}/applications`, { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "stack", namespace: P }, spec: { source: { compose: { git: { repository: stackRepo.url, branch: "main", path: "deploy/compose.yaml", interval: "2s" } } } } });
      expect(r.status, r.text).to.equal(201);
      const child = async (): Promise<any> => (await call(berth, "GET", `${G}/namespaces/${P}/applications/stack-web`)).body;
      const webOn = (sha: string): Promise<any> =>
        waitFor(`stack-web Ready on ${sha.slice(0, 12)}`, async () => {
          const c = await child();
          return cond(c, "Ready")?.status === "True" && c.status?.commit === sha ? c : undefined;
        }, 180_000, 300);
      const web = await webOn(first);
      expect(web.spec.source.git).to.include({ repository: stackRepo.url, commit: first, context: "web" });
      expect(web.spec.source.git.buildArgs).to.deep.equal({ V: "1" });
      expect(web.spec.env).to.deep.equal({ GREETING: "hello" });
      await waitFor("stack Ready on its commit", async () => {
        const a = (await call(berth, "GET", `${G}/namespaces/${P}/applications/stack`)).body;
        return cond(a, "Ready")?.status === "True" && a.status.commit === first ? a : undefined;
      }, 60_000, 300);
      const sideGen = (await call(berth, "GET", `${G}/namespaces/${P}/applications/stack-side`)).body.metadata.generation;
      const second = await stackRepo.commit(files("2"), "stack 2");
      const rebuilt = await webOn(second);
      const [c] = (await appContainers(P, "stack-web")).filter((x) => x.State === "running");
      expect(c.Image).to.equal(`berth.local/${P}/stack-web:${second.slice(0, 12)}`);
      expect(rebuilt.spec.source.git.buildArgs).to.deep.equal({ V: "2" });
      expect((await call(berth, "GET", `${G}/namespaces/${P}/applications/stack-side`)).body.metadata.generation, "the image service is not touched").to.equal(sideGen);
    } finally {
      await stackRepo.stop();
    }
  });

  it("a compose file that is not from git may not build: refused at apply, naming the service and key", async () => {
    const r = await call(berth, "POST", `${G}/namespaces/${P}/applications`, { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "inline", namespace: P }, spec: { source: { compose: { content: "services:\n  web:\n    build: .\n" } } } });
    expect(r.status, r.text).to.equal(422);
    expect(r.text).to.contain("services.web.build").and.contain("source.compose.git");
  });
});

/**
 * Issue 20, private registries (ADR 0022), with real parts: Debian's docker-registry on
 * 127.0.0.1 with htpasswd auth, the busybox test image pushed to it and removed locally, Berth
 * pulling it with its Project's login. Wrong credentials report RegistryAuthFailed, and the
 * password appears in no status, event, API answer or log line.
 */
import { expect } from "chai";
import { Writable } from "node:stream";
import winston from "winston";
import { startBerth, type Berth } from "../src/main.js";
import { freePort } from "../src/store/embedded.js";
import { call, removeDir, tempDir } from "./helpers/berth.js";
import { appContainers, BUSYBOX_IMAGE, cleanupProject, docker, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";
import { requireRegistry, startRegistry, type TestRegistry } from "./helpers/registry.js";

const G = "/apis/berth.dev/v1alpha1";
const P = `reg-${process.pid}`;
const BAD = `reg-bad-${process.pid}`;
const WRONG = "wrong-Passw0rd-7f3a91";
const INTERVAL_S = 3;

/** A busybox image with /www/version saying `v`: each version a distinct digest. */
async function variant(v: string): Promise<string> {
  const tag = `berth-test/registry-variant:${v}`;
  const c = await docker.createContainer({ Image: BUSYBOX_IMAGE, Cmd: ["sh", "-c", `echo ${v} > /www/version`] });
  try {
    await c.start();
    await c.wait();
    await c.commit({ repo: tag.split(":")[0], tag: v, changes: 'CMD ["sh"]' } as never);
  } finally {
    await c.remove({ force: true });
  }
  return tag;
}

/** What /www/version of a running replica says. */
async function version(containerId: string): Promise<string> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: ["cat", "/www/version"], AttachStdout: true, AttachStderr: true, Tty: true });
  const stream = await exec.start({ hijack: true, stdin: false, Tty: true } as never);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on("data", (b: Buffer) => chunks.push(b));
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  // With a TTY the output is not multiplexed: just the text.
  return Buffer.concat(chunks).toString("utf8").trim();
}

/** Every line the server logs, at debug level, kept to search for secrets. */
function capturingLogger(): { logger: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({ write: (chunk, _enc, next) => (lines.push(String(chunk)), next()) });
  return { lines, logger: winston.createLogger({ level: "debug", format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] }) };
}

describe("private registries: pulls with the Project's login from a real registry", function () {
  this.timeout(300_000);
  let registry: TestRegistry;
  let berth: Berth;
  let dataDir: string;
  let image: string;
  const log = capturingLogger();
  const get = async (ns: string, name: string): Promise<any> => (await call(berth, "GET", `${G}/namespaces/${ns}/applications/${name}`)).body;
  const ready = (a: any): any => a?.status?.conditions?.find((c: any) => c.type === "Ready");
  const project = (name: string, password: string) => ({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name }, spec: { registries: { [registry.host]: { username: registry.username, password } } } });
  const app = (ns: string) => ({
    apiVersion: "berth.dev/v1alpha1",
    kind: "Application",
    metadata: { name: "web", namespace: ns },
    spec: { source: { image }, replicas: 1, command: ["httpd", "-f", "-p", "8080", "-h", "/www"], ports: [{ containerPort: 8080 }], healthcheck: { http: { path: "/health", port: 8080 }, interval: "1s", timeout: "2s", retries: 3 } },
  });
  const dropLocal = async (): Promise<void> => {
    // Untags only: the busybox image the tags point at stays.
    const tags = (await docker.listImages()).flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith(`${registry.host}/`));
    for (const t of tags) await docker.getImage(t).remove();
  };

  before(async function () {
    await requireDocker(this);
    requireRegistry(this);
    await ensureBusyboxImage();
    registry = await startRegistry();
    image = `${registry.host}/${P}/web:1`;
    await registry.push(BUSYBOX_IMAGE, `${P}/web:1`);
    await dropLocal();
    await docker.getImage(image).inspect().then(
      () => expect.fail("the pushed tag is still on the engine"),
      () => undefined,
    );
    dataDir = tempDir("berth-reg-");
    berth = await startBerth({ dataDir, listen: "127.0.0.1:0", logger: log.logger, controllers: true, resyncMs: 5000 });
  });

  after(async () => {
    await berth?.stop();
    for (const p of [P, BAD]) await cleanupProject(p).catch(() => undefined);
    if (registry) await dropLocal().catch(() => undefined);
    for (const v of ["1.0.0", "1.1.0", "2.0.0"]) await docker.getImage(`berth-test/registry-variant:${v}`).remove({ force: true }).catch(() => undefined);
    await registry?.stop();
    removeDir(dataDir ?? "");
  });

  it("the right login: the image is pulled from the registry and the Application is Ready", async () => {
    const created = await call(berth, "POST", `${G}/projects`, project(P, registry.password));
    expect(created.status, created.text).to.equal(201);
    expect(created.text).not.to.contain(registry.password);
    expect(created.body.spec.registries[registry.host].password).to.match(/^sealed:v1:/);
    const a = await call(berth, "POST", `${G}/namespaces/${P}/applications`, app(P));
    expect(a.status, a.text).to.equal(201);
    await waitFor("web Ready", async () => ready(await get(P, "web"))?.status === "True", 120_000);
    const [c] = await appContainers(P, "web");
    expect(c.Image).to.equal(image);
    expect(registry.log(), "the registry served the manifest").to.contain(`"HEAD /v2/${P}/web/manifests/1 HTTP/1.1" 200`);
  });

  it("wrong credentials: RegistryAuthFailed with the registry's answer; the password in no status, event, API answer or log", async () => {
    await dropLocal();
    expect((await call(berth, "POST", `${G}/projects`, project(BAD, WRONG))).status).to.equal(201);
    expect((await call(berth, "POST", `${G}/namespaces/${BAD}/applications`, app(BAD))).status).to.equal(201);
    const a = await waitFor("RegistryAuthFailed", async () => {
      const x = await get(BAD, "web");
      return ready(x)?.reason === "RegistryAuthFailed" ? x : undefined;
    }, 60_000);
    const message: string = ready(a).message;
    console.log(`      Ready=False RegistryAuthFailed: ${message}`);
    expect(message).to.contain(`registry ${registry.host} refused the pull`).and.contain(`as user "${registry.username}"`).and.match(/: unauthorized: authentication required$/);
    expect(await appContainers(BAD, "web")).to.have.length(0);
    const events = await call(berth, "GET", `/api/v1/namespaces/${BAD}/events`);
    expect(events.body.items.some((e: any) => e.reason === "RegistryAuthFailed" && e.type === "Warning")).to.equal(true);
    const projectText = (await call(berth, "GET", `${G}/projects/${BAD}`)).text;
    const deployments = (await call(berth, "GET", `/berth/v1/namespaces/${BAD}/applications/web/deployments?logs=true`)).text;
    expect(log.lines.length).to.be.above(0);
    for (const [where, text] of Object.entries({ status: JSON.stringify(a), events: events.text, project: projectText, deployments, logs: log.lines.join("\n") })) {
      expect(text, where).not.to.contain(WRONG);
      expect(text, where).not.to.contain(registry.password);
    }
  });

  it("a tag the registry lacks is ImageNotFound; a registry that does not answer is ImagePullFailed — each naming the registry", async () => {
    const missing = { ...app(P), metadata: { name: "missing", namespace: P } };
    missing.spec = { ...missing.spec, source: { image: `${registry.host}/${P}/web:404` } };
    const closed = `127.0.0.1:${await freePort()}`;
    const down = { ...app(P), metadata: { name: "down", namespace: P } };
    down.spec = { ...down.spec, source: { image: `${closed}/${P}/web:1` } };
    for (const o of [missing, down]) expect((await call(berth, "POST", `${G}/namespaces/${P}/applications`, o)).status).to.equal(201);
    const reasonOf = (name: string, reason: string) =>
      waitFor(`${name}: ${reason}`, async () => {
        const c = ready(await get(P, name));
        return c?.reason === reason ? c : undefined;
      }, 60_000);
    const m = await reasonOf("missing", "ImageNotFound");
    expect(m.message).to.contain(`registry ${registry.host} has no image`).and.contain("manifest unknown");
    const d = await reasonOf("down", "ImagePullFailed");
    expect(d.message).to.contain(`registry ${closed} failed the pull`).and.contain("connection refused");
    console.log(`      ${m.message}\n      ${d.message}`);
  });

  it("image automation: the newest tag in range runs pinned by digest; a new tag pushed rolls out within the poll interval, one outside the range does not", async () => {
    const repository = `${registry.host}/${P}/auto`;
    const v1 = await registry.push(await variant("1.0.0"), `${P}/auto:1.0.0`);
    const spec = app(P).spec as Record<string, unknown>;
    const auto = { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "auto", namespace: P }, spec: { ...spec, source: { imagePolicy: { repository, policy: { semver: { range: "^1.0.0" } }, interval: `${INTERVAL_S}s` } } } };
    const r = await call(berth, "POST", `${G}/namespaces/${P}/applications`, auto);
    expect(r.status, r.text).to.equal(201);
    const onDigest = (digest: string, timeoutMs: number) =>
      waitFor(`auto Ready on ${digest.slice(0, 19)}`, async () => {
        const a = await get(P, "auto");
        const cs = await appContainers(P, "auto");
        return ready(a)?.status === "True" && a.status.image?.digest === digest && cs.length === 1 && cs[0].Image === `${repository}@${digest}` ? a : undefined;
      }, timeoutMs, 100);
    const first = await onDigest(v1, 60_000);
    expect(first.status.image).to.deep.equal({ repository, tag: "1.0.0", digest: v1 });
    const [c1] = await appContainers(P, "auto");
    expect(await version(c1.Id)).to.equal("1.0.0");

    // Outside the range: pushed, never rolled out.
    await registry.push(await variant("2.0.0"), `${P}/auto:2.0.0`);
    const v11 = await registry.push(await variant("1.1.0"), `${P}/auto:1.1.0`);
    const t0 = Date.now();
    const second = await onDigest(v11, (INTERVAL_S + 30) * 1000);
    const ms = Date.now() - t0;
    console.log(`      1.1.0 pushed → running and Ready in ${ms} ms (poll interval ${INTERVAL_S} s)`);
    expect(second.status.image).to.deep.equal({ repository, tag: "1.1.0", digest: v11 });
    const [c2] = await appContainers(P, "auto");
    expect(await version(c2.Id)).to.equal("1.1.0");
    // Within one poll interval plus the rollout itself (create, health check, handover).
    expect(ms).to.be.below(INTERVAL_S * 1000 + 15_000);
    const events = (await call(berth, "GET", `/api/v1/namespaces/${P}/events`)).body.items.filter((e: any) => e.involvedObject.name === "auto" && e.reason === "ImageUpdated");
    expect(events.map((e: any) => e.message).join("\n")).to.contain(`${repository}:1.1.0 is ${v11}`);
    const revs = (await call(berth, "GET", `/berth/v1/namespaces/${P}/applications/auto/deployments`)).body.items;
    expect(revs.map((x: any) => x.status)).to.deep.equal(["success", "success"]);
  });

  it("fixing the Project's login reconciles the failing Application at once", async () => {
    const t0 = Date.now();
    const r = await call(berth, "PATCH", `${G}/projects/${BAD}`, { spec: { registries: { [registry.host]: { username: registry.username, password: registry.password } } } }, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
    await waitFor("web Ready after the fix", async () => ready(await get(BAD, "web"))?.status === "True", 30_000);
    const ms = Date.now() - t0;
    console.log(`      login fixed → Ready in ${ms} ms`);
    // Well under the 60 s retry of RegistryAuthFailed: the Project watch woke it.
    expect(ms).to.be.below(20_000);
  });
});

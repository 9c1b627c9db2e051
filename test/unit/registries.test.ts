import { expect } from "chai";
import { Writable } from "node:stream";
import winston from "winston";
import type { ResourceObject } from "../../src/core/types.js";
import { isSecretPath } from "../../src/core/secret-fields.js";
import { ApplicationReconciler } from "../../src/reconcilers/application/reconciler.js";
import { ImagePolicies } from "../../src/reconcilers/application/image-policy.js";
import { RuntimeError } from "../../src/runtime/driver.js";
import { FakeDriver } from "../../src/runtime/fake.js";
import { newestTag } from "../../src/runtime/image-policy.js";
import type { RegistryApi } from "../../src/runtime/registry-client.js";
import { authFor, normalizeServer, registryHost, repositoryPath } from "../../src/runtime/registry-auth.js";
import type { TrafficSwitch } from "../../src/runtime/traffic.js";
import { unsealRegistries } from "../../src/store/secrets.js";
import { unitStore, type UnitStore } from "../helpers/unit-store.js";

const P = "shop";
const ADMIN = { user: "admin" };
const HOST = "127.0.0.1:5000";
const IMAGE = `${HOST}/team/web:1`;
const PASSWORD = "pa55-w0rd-never-shown";

const traffic: TrafficSwitch = { withdraw: async () => undefined, isWithdrawn: () => false, removed: async () => undefined };

/** Every log line a reconcile writes, as text. */
function capturing(): { lines: string[]; transport: winston.transport } {
  const lines: string[] = [];
  const stream = new Writable({ write: (chunk, _enc, next) => (lines.push(String(chunk)), next()) });
  return { lines, transport: new winston.transports.Stream({ stream, format: winston.format.json() }) };
}

describe("registry references (pure)", () => {
  it("finds the registry host as Docker does", () => {
    expect(registryHost("busybox")).to.equal("docker.io");
    expect(registryHost("library/busybox:1")).to.equal("docker.io");
    expect(registryHost("ghcr.io/org/app:2")).to.equal("ghcr.io");
    expect(registryHost("127.0.0.1:5000/web:1")).to.equal("127.0.0.1:5000");
    expect(registryHost("localhost/web")).to.equal("localhost");
    expect(registryHost("index.docker.io/library/busybox")).to.equal("docker.io");
    expect(repositoryPath("127.0.0.1:5000/team/web:1")).to.equal("team/web");
    expect(repositoryPath("127.0.0.1:5000/web@sha256:abc")).to.equal("web");
    expect(repositoryPath("busybox:1")).to.equal("library/busybox");
    expect(repositoryPath("docker.io/library/busybox:1")).to.equal("library/busybox");
    expect(repositoryPath("index.docker.io/busybox")).to.equal("library/busybox");
    expect(repositoryPath("localhost:5000/web")).to.equal("web");
  });

  it("matches a login by server as `docker login` writes it", () => {
    const logins = [{ server: "https://GHCR.io/", username: "u", password: "p" }, { server: "docker.io", username: "hub", password: "h" }];
    expect(normalizeServer("https://ghcr.io/v2/")).to.equal("ghcr.io");
    expect(authFor("ghcr.io/org/app:2", logins)).to.deep.equal({ serveraddress: "ghcr.io", username: "u", password: "p" });
    expect(authFor("busybox:1", logins)?.serveraddress).to.equal("https://index.docker.io/v1/");
    expect(authFor("quay.io/x/y:1", logins)).to.equal(undefined);
  });

  it("a registry password is a secret field, its server key dots and all", () => {
    expect(isSecretPath("Project", ["spec", "registries", "127", "0", "0", "1:5000", "password"])).to.equal(true);
    expect(isSecretPath("Project", ["spec", "registries", "ghcr.io", "password"])).to.equal(true);
    expect(isSecretPath("Project", ["spec", "registries", "ghcr.io", "username"])).to.equal(false);
    expect(isSecretPath("Project", ["spec", "registries", "password"])).to.equal(false);
  });
});

describe("private registries (fake runtime driver)", function () {
  this.timeout(20_000);
  let u: UnitStore;
  let fake: FakeDriver;
  let reconciler: ApplicationReconciler;
  let capture: ReturnType<typeof capturing>;

  const get = async (kind: string, ns: string | undefined, name: string): Promise<ResourceObject> => (await u.stores.resources.get(kind, ns, name))!;
  const ready = async (name: string): Promise<any> => ((await get("Application", P, name)).status?.conditions as any[]).find((c) => c.type === "Ready");
  const reconcile = (name: string) => {
    const logger = winston.createLogger({ level: "debug", transports: [capture.transport] });
    return reconciler.reconcile({ kind: "Application", namespace: P, name }, { logger } as never);
  };
  const setLogin = (login: Record<string, unknown> | undefined) =>
    u.stores.resources.update({ kind: "Project", name: P, namespace: undefined }, ADMIN, "patch", (cur) => ({ ...cur!, spec: { ...cur!.spec, registries: login ? { [HOST]: login } : {} } }));
  const webApp = (): ResourceObject => ({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "web", namespace: P }, spec: { source: { image: IMAGE }, replicas: 1, command: ["sleep", "1d"] } });

  before(async () => {
    u = await unitStore();
  });

  beforeEach(async () => {
    await u.reset();
    fake = new FakeDriver();
    fake.registry.set(IMAGE, { cmd: ["sh"] });
    fake.registryLogins.set(HOST, { username: "alice", password: PASSWORD });
    capture = capturing();
    const s = u.stores;
    reconciler = new ApplicationReconciler({ store: s.resources, events: s.events, driver: fake, traffic, box: u.box, credentials: s.credentials, revisions: s.revisions, volumes: s.volumes, metrics: u.metrics });
    await s.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: { registries: { [HOST]: { username: "alice", password: PASSWORD } } } }, ADMIN);
  });

  it("the password is stored encrypted and read back sealed", async () => {
    const stored = await u.stores.resources.getStored("Project", undefined, P);
    const shown = await get("Project", undefined, P);
    expect((stored!.spec as any).registries[HOST].password).to.match(/^enc:v1:/);
    expect((shown.spec as any).registries[HOST]).to.include({ username: "alice" });
    expect((shown.spec as any).registries[HOST].password).to.match(/^sealed:v1:/);
    expect(JSON.stringify(shown)).not.to.contain(PASSWORD);
    expect(unsealRegistries(u.box, stored)).to.deep.equal([{ server: HOST, username: "alice", password: PASSWORD }]);
    // The sealed string round-trips: applying what was read keeps the password.
    await u.stores.resources.update({ kind: "Project", name: P, namespace: undefined }, ADMIN, "replace", () => shown);
    expect(unsealRegistries(u.box, await u.stores.resources.getStored("Project", undefined, P))).to.deep.equal([{ server: HOST, username: "alice", password: PASSWORD }]);
  });

  it("a password sealed ahead (berth seal project/shop --field spec.registries.<server>.password) is stored as its plaintext", async () => {
    const sealed = u.stores.resources.seal({ kind: "Project", namespace: undefined, name: P, field: `spec.registries.${HOST}.password` }, "from-git-1234");
    await setLogin({ username: "alice", password: sealed });
    expect(unsealRegistries(u.box, await u.stores.resources.getStored("Project", undefined, P))).to.deep.equal([{ server: HOST, username: "alice", password: "from-git-1234" }]);
    // Sealed for another server: refused, naming the field.
    const other = u.stores.resources.seal({ kind: "Project", namespace: undefined, name: P, field: "spec.registries.ghcr.io.password" }, "x");
    const refused = await setLogin({ username: "alice", password: other }).then(() => undefined, (e: Error) => e.message);
    expect(refused).to.contain(`spec.registries.${HOST}.password`);
  });

  it("pulls with the login whose server is the image's host, and becomes Ready", async () => {
    await u.stores.resources.create(webApp(), ADMIN);
    await reconcile("web");
    expect(await ready("web")).to.include({ status: "True" });
    expect(fake.pulls).to.deep.equal([{ image: IMAGE, auth: { serveraddress: HOST, username: "alice", password: PASSWORD } }]);
  });

  it("wrong credentials: RegistryAuthFailed naming the registry and user, the password nowhere", async () => {
    await setLogin({ username: "alice", password: "wrong-password-1" });
    await u.stores.resources.create(webApp(), ADMIN);
    await reconcile("web");
    const cond = await ready("web");
    expect(cond).to.include({ status: "False", reason: "RegistryAuthFailed" });
    expect(cond.message).to.contain(`registry ${HOST} refused the pull`).and.contain('as user "alice"').and.contain("unauthorized");
    const events = (await u.stores.events.list(P, "involvedObject.name=web")).items as any[];
    expect(events.map((e) => e.reason)).to.include("RegistryAuthFailed");
    const everything = JSON.stringify([await get("Application", P, "web"), await get("Project", undefined, P), events, capture.lines]);
    expect(capture.lines.length).to.be.above(0);
    expect(everything).not.to.contain("wrong-password-1");
    expect(fake.names()).to.deep.equal([]);
  });

  it("no login for the host: RegistryAuthFailed without credentials; adding the login fixes it", async () => {
    await setLogin(undefined);
    await u.stores.resources.create(webApp(), ADMIN);
    await reconcile("web");
    expect((await ready("web")).message).to.contain("without credentials").and.contain("no basic auth credentials");
    await setLogin({ username: "alice", password: PASSWORD });
    await reconcile("web");
    expect(await ready("web")).to.include({ status: "True" });
  });

  it("a registry that fails otherwise: ImagePullFailed with its answer", async () => {
    fake.registryFailures.set(HOST, "received unexpected HTTP status: 503 Service Unavailable");
    await u.stores.resources.create(webApp(), ADMIN);
    await reconcile("web");
    const cond = await ready("web");
    expect(cond).to.include({ status: "False", reason: "ImagePullFailed" });
    expect(cond.message).to.contain("503 Service Unavailable").and.contain(HOST);
  });

  it("an engine that echoes the password has it scrubbed", async () => {
    fake.registryFailures.set(HOST, `bad credentials ${PASSWORD}`);
    await u.stores.resources.create(webApp(), ADMIN);
    await reconcile("web");
    const everything = JSON.stringify([await get("Application", P, "web"), (await u.stores.events.list(P, "involvedObject.name=web")).items, capture.lines]);
    expect(everything).to.contain("bad credentials <redacted>");
    expect(everything).not.to.contain(PASSWORD);
  });
});

describe("image automation (fake registry API and runtime driver)", function () {
  this.timeout(20_000);
  let u: UnitStore;
  let fake: FakeDriver;
  let reconciler: ApplicationReconciler;
  let clock: number;
  const REPO = `${HOST}/team/auto`;
  /** The fake registry's tags → digests, and what it was asked. */
  const tags = new Map<string, string>();
  const asked: { op: string; auth?: unknown }[] = [];
  let down: string | undefined;
  const api: RegistryApi = {
    tags: async (_repo, auth) => {
      asked.push({ op: "tags", auth });
      if (down) throw new RuntimeError("ImagePullFailed", down);
      return [...tags.keys()];
    },
    digest: async (_repo, tag, auth) => {
      asked.push({ op: `digest ${tag}`, auth });
      if (down) throw new RuntimeError("ImagePullFailed", down);
      return tags.get(tag)!;
    },
  };
  const push = (tag: string, digest: string): void => {
    tags.set(tag, digest);
    fake.registry.set(`${REPO}@${digest}`, { cmd: ["sh"] });
  };
  const get = async (): Promise<ResourceObject> => (await u.stores.resources.get("Application", P, "auto"))!;
  const reconcile = () => reconciler.reconcile({ kind: "Application", namespace: P, name: "auto" }, { logger: winston.createLogger({ silent: true }) } as never);
  const running = (): string[] => [...fake.containers.values()].map((c) => c.image);

  before(async () => {
    u = await unitStore();
  });

  beforeEach(async () => {
    await u.reset();
    fake = new FakeDriver();
    tags.clear();
    asked.length = 0;
    down = undefined;
    clock = 1_000_000;
    const s = u.stores;
    reconciler = new ApplicationReconciler({ store: s.resources, events: s.events, driver: fake, traffic, box: u.box, credentials: s.credentials, revisions: s.revisions, volumes: s.volumes, metrics: u.metrics, images: new ImagePolicies(api, () => clock) });
    await s.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: { registries: { [HOST]: { username: "alice", password: PASSWORD } } } }, ADMIN);
  });

  const create = (policy: Record<string, unknown>) =>
    u.stores.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "auto", namespace: P }, spec: { source: { imagePolicy: { repository: REPO, policy, interval: "30s" } }, replicas: 1, command: ["sleep", "1d"] } }, ADMIN);

  it("newestTag: the highest version inside the range", () => {
    expect(newestTag(["1.0.0", "v1.2.0", "1.10.1", "2.0.0", "latest", "1.11.0-rc.1"], "^1.0.0")).to.equal("1.10.1");
    expect(newestTag(["latest"], "*")).to.equal(undefined);
  });

  it("semver: runs the newest matching tag pinned by digest; a new tag rolls out after the interval, not before", async () => {
    push("1.0.0", "sha256:" + "a".repeat(64));
    push("2.0.0", "sha256:" + "f".repeat(64));
    await create({ semver: { range: "^1.0.0" } });
    const r = await reconcile();
    expect(r.requeueAfter).to.be.at.most(30_000);
    let a = await get();
    expect(a.status!.image).to.deep.equal({ repository: REPO, tag: "1.0.0", digest: "sha256:" + "a".repeat(64) });
    expect(running()).to.deep.equal([`${REPO}@sha256:${"a".repeat(64)}`]);
    expect(asked[0]).to.deep.equal({ op: "tags", auth: { serveraddress: HOST, username: "alice", password: PASSWORD } });
    push("1.1.0", "sha256:" + "b".repeat(64));
    clock += 10_000;
    await reconcile();
    expect((await get()).status!.image).to.include({ tag: "1.0.0" });
    clock += 20_000;
    await reconcile();
    a = await get();
    expect(a.status!.image).to.include({ tag: "1.1.0", digest: "sha256:" + "b".repeat(64) });
    expect(running()).to.include(`${REPO}@sha256:${"b".repeat(64)}`);
    const events = ((await u.stores.events.list(P, "involvedObject.name=auto")).items as any[]).filter((e) => e.reason === "ImageUpdated");
    expect(events.map((e) => e.message).join("\n")).to.contain(`${REPO}:1.1.0 is sha256:${"b".repeat(64)} (was 1.0.0`);
  });

  it("digest: a tag moved to a new digest rolls out", async () => {
    push("stable", "sha256:" + "1".repeat(64));
    await create({ digest: { tag: "stable" } });
    await reconcile();
    expect((await get()).status!.image).to.include({ tag: "stable", digest: "sha256:" + "1".repeat(64) });
    push("stable", "sha256:" + "2".repeat(64));
    clock += 30_000;
    await reconcile();
    expect((await get()).status!.image).to.include({ digest: "sha256:" + "2".repeat(64) });
    expect(running()).to.include(`${REPO}@sha256:${"2".repeat(64)}`);
  });

  it("a failed poll keeps the chosen image running (Warning ImagePollFailed); with none chosen yet it is the reconcile's failure", async () => {
    down = "registry 127.0.0.1:5000 did not answer: connect ECONNREFUSED";
    await create({ semver: { range: "^1.0.0" } });
    await reconcile();
    expect(((await get()).status!.conditions as any[]).find((c) => c.type === "Ready")).to.include({ status: "False", reason: "ImagePullFailed" });
    down = undefined;
    push("1.0.0", "sha256:" + "a".repeat(64));
    clock += 30_000;
    await reconcile();
    expect(((await get()).status!.conditions as any[]).find((c) => c.type === "Ready")).to.include({ status: "True" });
    down = "registry 127.0.0.1:5000 did not answer: connect ECONNREFUSED";
    clock += 30_000;
    await reconcile();
    const a = await get();
    expect(((a.status!.conditions as any[]).find((c) => c.type === "Ready"))).to.include({ status: "True" });
    expect(a.status!.image).to.include({ tag: "1.0.0" });
    const warnings = ((await u.stores.events.list(P, "involvedObject.name=auto")).items as any[]).filter((e) => e.reason === "ImagePollFailed");
    expect(warnings).to.have.length(1);
  });

  it("no tag in range: ImageNotFound listing the tags", async () => {
    push("2.0.0", "sha256:" + "f".repeat(64));
    await create({ semver: { range: "~1.4" } });
    await reconcile();
    const ready = ((await get()).status!.conditions as any[]).find((c) => c.type === "Ready");
    expect(ready).to.include({ status: "False", reason: "ImageNotFound" });
    expect(ready.message).to.contain('range "~1.4"').and.contain("2.0.0");
  });
});

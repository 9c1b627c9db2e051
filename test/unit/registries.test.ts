import { expect } from "chai";
import { Writable } from "node:stream";
import winston from "winston";
import type { ResourceObject } from "../../src/core/types.js";
import { isSecretPath } from "../../src/core/secret-fields.js";
import { ApplicationReconciler } from "../../src/reconcilers/application/reconciler.js";
import { FakeDriver } from "../../src/runtime/fake.js";
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

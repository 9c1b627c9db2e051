import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { startBerth, type Berth } from "../src/main.js";
import { managedCaddyName } from "../src/router/managed.js";
import type { RouterOptions } from "../src/router/settings.js";
import { freePort } from "../src/store/embedded.js";
import { call, quietLogger, REPO, tempDir } from "./helpers/berth.js";
import { requireCommands, startCaddy, type TestCaddy } from "./helpers/caddy.js";
import { BUSYBOX_IMAGE, cleanupProject, docker, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";
import { startPebble, type TestPebble } from "./helpers/pebble.js";

const G = "/apis/berth.dev/v1alpha1";
const P = `dom-${process.pid}`;
const OTHER = `dom-other-${process.pid}`;
const RESYNC_MS = 2000;

type TestBerth = Berth & { dataDir: string };

async function startRoutedBerth(router: RouterOptions): Promise<TestBerth> {
  const dataDir = tempDir("berth-domain-");
  const berth = await startBerth({ dataDir, listen: "127.0.0.1:0", logger: quietLogger(), controllers: true, resyncMs: RESYNC_MS, router });
  return { ...berth, dataDir };
}

/** A busybox httpd Application whose pages are written by `script` before httpd starts. */
function siteApp(ns: string, name: string, script: string, replicas = 1): Record<string, unknown> {
  return {
    apiVersion: "berth.dev/v1alpha1",
    kind: "Application",
    metadata: { name, namespace: ns },
    spec: {
      source: { image: BUSYBOX_IMAGE },
      replicas,
      command: ["sh", "-c", `mkdir -p /srv && echo ok > /srv/health && ${script} && exec httpd -f -p 8080 -h /srv`],
      ports: [{ containerPort: 8080 }],
      healthcheck: { http: { path: "/health", port: 8080 }, interval: "1s", timeout: "3s", retries: 3 },
    },
  };
}

function domain(ns: string, name: string, host: string, target: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: "berth.dev/v1alpha1", kind: "Domain", metadata: { name, namespace: ns }, spec: { host, target: { application: target, port: 8080 }, ...extra } };
}

interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** A request to 127.0.0.1:port for `host` (curl --resolve semantics); HTTPS verifies against `ca` with SNI = host. */
function request(port: number, host: string, urlPath = "/", opts: { tls?: boolean; ca?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const o = { host: "127.0.0.1", port, path: urlPath, headers: { Host: host }, agent: false as const, timeout: 5000 };
    const done = (res: http.IncomingMessage): void => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: body.trim(), headers: res.headers }));
    };
    const req = opts.tls ? https.request({ ...o, servername: host, ca: opts.ca }, done) : http.request(o, done);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

async function create(berth: TestBerth, obj: Record<string, unknown>): Promise<void> {
  const ns = (obj.metadata as { namespace: string }).namespace;
  const plural = obj.kind === "Domain" ? "domains" : "applications";
  const r = await call(berth, "POST", `${G}/namespaces/${ns}/${plural}`, obj);
  expect(r.status, r.text).to.equal(201);
}

async function getDomain(berth: TestBerth, name: string, ns = P): Promise<any> {
  return (await call(berth, "GET", `${G}/namespaces/${ns}/domains/${name}`)).body;
}

function readyCondition(o: any): any {
  return o?.status?.conditions?.find((c: any) => c.type === "Ready");
}

async function waitDomain(berth: TestBerth, name: string, want: { status: string; reason?: string }, timeoutMs = 60_000, ns = P): Promise<any> {
  return waitFor(`Domain ${name} Ready=${want.status}${want.reason ? ` (${want.reason})` : ""}`, async () => {
    const d = await getDomain(berth, name, ns);
    const c = readyCondition(d);
    return c?.status === want.status && (!want.reason || c.reason === want.reason) && d.status.observedGeneration === d.metadata.generation ? d : undefined;
  }, timeoutMs);
}

async function waitBody(port: number, host: string, body: string | RegExp, urlPath = "/", opts: { tls?: boolean; ca?: string } = {}, timeoutMs = 30_000): Promise<Reply> {
  return waitFor(`${host}${urlPath} to answer ${body}`, async () => {
    const r = await request(port, host, urlPath, opts);
    return r.status === 200 && (typeof body === "string" ? r.body === body : body.test(r.body)) ? r : undefined;
  }, timeoutMs);
}

async function caddyConfig(caddy: TestCaddy): Promise<any> {
  return (await fetch(`${caddy.adminUrl}/config/`)).json();
}

const loadsIn = (logs: string): number => (logs.match(/"uri":"\/load"/g) ?? []).length;

describe("Domains: routing and TLS through a real Caddy", function () {
  this.timeout(240_000);
  let caddy: TestCaddy;
  let pebble: TestPebble;
  let berth: TestBerth;
  let internalRoot: string;

  before(async function () {
    await requireDocker(this);
    requireCommands(this, ["caddy", "pebble", "openssl"]);
    const t0 = Date.now();
    [caddy, pebble] = await Promise.all([startCaddy(), startPebble(), ensureBusyboxImage()]);
    berth = await startRoutedBerth({
      adminUrl: caddy.adminUrl,
      httpPort: caddy.httpPort,
      httpsPort: caddy.httpsPort,
      bindHost: "127.0.0.1",
      acme: { directory: pebble.directory, email: "ops@berth.test", trustedRootsPemFiles: [pebble.listenerCertFile] },
    });
    for (const ns of [P, OTHER]) {
      const r = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: ns }, spec: {} });
      expect(r.status, r.text).to.equal(201);
    }
    await create(berth, siteApp(P, "alpha", "mkdir -p /srv/api && echo alpha > /srv/index.html && echo alpha-api > /srv/api/index.html"));
    await create(berth, siteApp(P, "beta", "echo beta > /srv/index.html"));
    console.log(`      (setup: caddy, pebble, berth in ${Date.now() - t0} ms)`);
  });

  after(async () => {
    await berth?.stop().catch(() => undefined);
    await Promise.all([cleanupProject(P), cleanupProject(OTHER)]).catch(() => undefined);
    await caddy?.stop();
    await pebble?.stop();
    if (berth) rmSync(berth.dataDir, { recursive: true, force: true });
  });

  it("routes two hosts to two Applications over HTTP, and answers 404 for any other host", async () => {
    await create(berth, domain(P, "alpha", "alpha.test", "alpha"));
    await create(berth, domain(P, "beta", "beta.test", "beta"));
    const d = await waitDomain(berth, "alpha", { status: "True", reason: "Routed" });
    expect(d.metadata.finalizers).to.include("berth.dev/route");
    expect(d.status.url).to.equal(`http://alpha.test:${caddy.httpPort}/`);
    expect(d.status.upstreams).to.have.length(1);
    expect(d.status.upstreams[0]).to.match(/^127\.0\.0\.1:\d+$/);
    await waitDomain(berth, "beta", { status: "True" });
    expect((await request(caddy.httpPort, "alpha.test")).body).to.equal("alpha");
    expect((await request(caddy.httpPort, "beta.test")).body).to.equal("beta");
    expect((await request(caddy.httpPort, "nobody.test")).status).to.equal(404);
    const cfg = await caddyConfig(caddy);
    expect(cfg.admin.listen).to.equal(`127.0.0.1:${caddy.adminPort}`); // Caddy's own settings are kept
    const route = cfg.apps.http.servers.berth_http.routes.find((r: any) => r.match?.[0]?.host?.[0] === "alpha.test");
    expect(route.handle[0].handler).to.equal("reverse_proxy");
    expect(route.handle[0].health_checks.active.uri).to.equal("/health");
    expect(route.handle[0].health_checks.passive.max_fails).to.equal(1);
  });

  it("routes a path prefix, and nothing else on that host", async () => {
    await create(berth, domain(P, "alpha-api", "api.test", "alpha", { path: "/api" }));
    await waitDomain(berth, "alpha-api", { status: "True" });
    expect((await request(caddy.httpPort, "api.test", "/api/")).body).to.equal("alpha-api");
    expect((await request(caddy.httpPort, "api.test", "/")).status).to.equal(404);
    expect((await request(caddy.httpPort, "api.test", "/apiary")).status).to.equal(404);
  });

  it("does not reload Caddy when the route table is unchanged", async () => {
    const before = loadsIn(caddy.logs());
    await new Promise((r) => setTimeout(r, RESYNC_MS * 2.5)); // two full resyncs reconcile every Domain
    expect(loadsIn(caddy.logs())).to.equal(before);
  });

  it("rejects a host another Domain routes (in any project) and invalid host names at apply time", async () => {
    const dup = await call(berth, "POST", `${G}/namespaces/${OTHER}/domains`, domain(OTHER, "copy", "alpha.test", "alpha"));
    expect(dup.status, dup.text).to.equal(422);
    expect(dup.body.reason).to.equal("Invalid");
    expect(dup.body.details.causes.map((c: any) => c.field)).to.include("spec.host");
    for (const host of ["Alpha.test", "under_score.test", "-lead.test", `${"a".repeat(64)}.test`, "dot..test"]) {
      const r = await call(berth, "POST", `${G}/namespaces/${OTHER}/domains`, domain(OTHER, "bad", host, "alpha"));
      expect(r.status, `${host}: ${r.text}`).to.equal(422);
    }
    expect((await call(berth, "GET", `${G}/namespaces/${OTHER}/domains`)).body.items).to.have.length(0);
  });

  it("routes 20 Domains created at once, and deleting one stops only that one", async () => {
    const t0 = Date.now();
    const loads0 = loadsIn(caddy.logs());
    const names = Array.from({ length: 20 }, (_, i) => `many-${i}`);
    await Promise.all(names.map((n) => create(berth, domain(P, n, `${n}.test`, "beta"))));
    await Promise.all(names.map((n) => waitDomain(berth, n, { status: "True" })));
    const replies = await Promise.all(names.map((n) => request(caddy.httpPort, `${n}.test`)));
    expect(replies.map((r) => r.body)).to.deep.equal(names.map(() => "beta"));
    const loads = loadsIn(caddy.logs()) - loads0;
    console.log(`      (20 Domains routed ${Date.now() - t0} ms after creation, in ${loads} loads of the whole table)`);
    expect(loads).to.be.lessThan(20); // coalesced: a sync serves every Domain reconciled while one ran
    const del = await call(berth, "DELETE", `${G}/namespaces/${P}/domains/many-7`);
    expect(del.status, del.text).to.be.oneOf([200, 202]);
    await waitFor("many-7 to stop routing", async () => (await request(caddy.httpPort, "many-7.test")).status === 404);
    await waitFor("many-7 to be gone", async () => (await call(berth, "GET", `${G}/namespaces/${P}/domains/many-7`)).status === 404);
    const rest = await Promise.all(names.filter((n) => n !== "many-7").map((n) => request(caddy.httpPort, `${n}.test`)));
    expect(rest.every((r) => r.status === 200 && r.body === "beta")).to.equal(true);
    expect((await request(caddy.httpPort, "alpha.test")).body).to.equal("alpha");
  });

  it("spreads requests over the replicas as the target scales", async () => {
    await create(berth, siteApp(P, "multi", "hostname > /srv/index.html"));
    await create(berth, domain(P, "multi", "multi.test", "multi"));
    await waitDomain(berth, "multi", { status: "True" });
    const r = await call(berth, "PATCH", `${G}/namespaces/${P}/applications/multi`, { spec: { replicas: 3 } }, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
    await waitFor("3 upstreams", async () => (await getDomain(berth, "multi")).status?.upstreams?.length === 3);
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add((await request(caddy.httpPort, "multi.test")).body);
    expect(seen.size).to.equal(3);
  });

  it("reports TargetNotFound (503, no proxy) until the target exists, and again when it is deleted", async () => {
    await create(berth, domain(P, "late", "late.test", "late"));
    const d = await waitDomain(berth, "late", { status: "False", reason: "TargetNotFound" });
    expect(readyCondition(d).message).to.match(/does not exist/);
    expect(d.status.phase).to.equal("Pending");
    const r = await request(caddy.httpPort, "late.test");
    expect(r.status).to.equal(503);
    expect(r.body).to.match(/does not exist/);
    await create(berth, siteApp(P, "late", "echo late > /srv/index.html"));
    await waitDomain(berth, "late", { status: "True" });
    expect((await request(caddy.httpPort, "late.test")).body).to.equal("late");
    const del = await call(berth, "DELETE", `${G}/namespaces/${P}/applications/late`);
    expect(del.status, del.text).to.be.oneOf([200, 202]);
    await waitDomain(berth, "late", { status: "False", reason: "TargetNotFound" });
    await waitFor("late.test to answer 503", async () => (await request(caddy.httpPort, "late.test")).status === 503);
    const cfg = await caddyConfig(caddy);
    const route = cfg.apps.http.servers.berth_http.routes.find((x: any) => x.match?.[0]?.host?.[0] === "late.test");
    expect(route.handle[0].handler).to.equal("static_response");
  });

  it("serves HTTPS from Caddy's local CA for issuer internal, and records the certificate", async () => {
    await create(berth, domain(P, "secure", "secure.test", "alpha", { tls: { enabled: true, issuer: "internal" } }));
    const d = await waitDomain(berth, "secure", { status: "True" });
    internalRoot = (await (await fetch(`${caddy.adminUrl}/pki/ca/local`)).json()).root_certificate;
    const r = await request(caddy.httpsPort, "secure.test", "/", { tls: true, ca: internalRoot });
    expect(r.body).to.equal("alpha");
    expect(d.status.url).to.equal(`https://secure.test:${caddy.httpsPort}/`);
    expect(d.status.certificate.issuer).to.match(/^Caddy Local Authority/);
    expect(d.status.certificate.issuerType).to.equal("internal");
    expect(Date.parse(d.status.certificate.notAfter)).to.be.greaterThan(Date.now());
    const rows = await berth.dataSource.query(`SELECT issuer, expires_at, private_key, fingerprint FROM certificates WHERE domain_id = $1`, [d.metadata.uid]);
    expect(rows).to.have.length(1);
    expect(rows[0].issuer).to.equal(d.status.certificate.issuer);
    expect(rows[0].private_key).to.equal(null);
    expect(new Date(rows[0].expires_at).toISOString().replace(/\.\d{3}Z$/, "Z")).to.equal(d.status.certificate.notAfter);
    const redirect = await request(caddy.httpPort, "secure.test", "/x?y=1");
    expect(redirect.status).to.equal(308);
    expect(redirect.headers.location).to.equal(`https://secure.test:${caddy.httpsPort}/x?y=1`);
  });

  it("obtains a certificate over ACME from pebble for issuer acme, verified against pebble's root", async () => {
    const t0 = Date.now();
    await create(berth, domain(P, "public", "public.test", "beta", { tls: { enabled: true, issuer: "acme" } }));
    const d = await waitDomain(berth, "public", { status: "True" }, 90_000);
    console.log(`      (ACME certificate served ${Date.now() - t0} ms after the Domain was created)`);
    const root = await pebble.issuingRoot();
    expect((await request(caddy.httpsPort, "public.test", "/", { tls: true, ca: root })).body).to.equal("beta");
    expect(d.status.certificate.issuer).to.match(/^Pebble/);
    expect(d.status.certificate.issuerType).to.equal("acme");
    const rows = await berth.dataSource.query(`SELECT issuer FROM certificates WHERE domain_id = $1`, [d.metadata.uid]);
    expect(rows.map((x: any) => x.issuer)).to.deep.equal([d.status.certificate.issuer]);
    // not trusted by the local CA: a real ACME chain
    const wrong = await request(caddy.httpsPort, "public.test", "/", { tls: true, ca: internalRoot }).then(() => "verified", (e: Error) => e.message);
    expect(wrong).to.not.equal("verified");
  });

  it("restores every route on the next resync after Caddy restarts empty", async () => {
    const mark = caddy.logs().length;
    // Killed, then started again from a config with nothing but the admin address (no --resume).
    await caddy.restartEmpty();
    const t0 = Date.now();
    await waitBody(caddy.httpPort, "alpha.test", "alpha", "/", {}, 20_000);
    console.log(`      (routes restored ${Date.now() - t0} ms after Caddy came back empty)`);
    expect(loadsIn(caddy.logs().slice(mark))).to.be.greaterThan(0); // Berth loaded the table into the new process
    const hosts = ["beta.test", ...Array.from({ length: 20 }, (_, i) => `many-${i}.test`).filter((h) => h !== "many-7.test")];
    for (const h of hosts) expect((await request(caddy.httpPort, h)).body, h).to.equal("beta");
    expect((await request(caddy.httpPort, "api.test", "/api/")).body).to.equal("alpha-api");
    expect((await request(caddy.httpPort, "many-7.test")).status).to.equal(404);
    await waitBody(caddy.httpsPort, "secure.test", "alpha", "/", { tls: true, ca: internalRoot });
    await waitBody(caddy.httpsPort, "public.test", "beta", "/", { tls: true, ca: await pebble.issuingRoot() });
  });

  it("removes every route of a deleted Project", async () => {
    const r = await call(berth, "DELETE", `${G}/projects/${P}`);
    expect(r.status, r.text).to.be.oneOf([200, 202]);
    await waitFor("project gone", async () => (await call(berth, "GET", `${G}/projects/${P}`)).status === 404, 90_000);
    const cfg = await caddyConfig(caddy);
    const routes = cfg.apps.http.servers.berth_http.routes;
    expect(routes).to.have.length(1); // only the 404 catch-all
    expect(cfg.apps.http.servers.berth_https).to.equal(undefined);
    expect((await request(caddy.httpPort, "alpha.test")).status).to.equal(404);
  });
});

describe("Domains through a Caddy container berth serve manages", function () {
  this.timeout(120_000);
  let berth: TestBerth | undefined;
  const ns = `dom-managed-${process.pid}`;
  let httpPort = 0;

  before(async function () {
    await requireDocker(this);
    requireCommands(this, ["caddy"]);
    await ensureBusyboxImage();
    const built = await docker.getImage("berth/caddy:2.6").inspect().then(() => true, () => false);
    if (!built) {
      const r = spawnSync(path.join(REPO, "scripts", "build-caddy-image.sh"), [], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`building berth/caddy:2.6 failed: ${r.stderr}`);
    }
    httpPort = await freePort();
    berth = await startRoutedBerth({ managed: true, adminUrl: `http://127.0.0.1:${await freePort()}`, httpPort, httpsPort: await freePort(), bindHost: "127.0.0.1", superviseMs: 1000 });
    const r = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: ns }, spec: {} });
    expect(r.status, r.text).to.equal(201);
  });

  after(async () => {
    const instance = berth ? ((await berth.dataSource.query(`SELECT id FROM berth_installation`))[0].id as string) : undefined;
    await berth?.stop().catch(() => undefined);
    await cleanupProject(ns).catch(() => undefined);
    if (instance) {
      const name = managedCaddyName(instance);
      await docker.getContainer(name).remove({ force: true }).catch(() => undefined);
      for (const v of [`${name}-data`, `${name}-config`]) await docker.getVolume(v).remove().catch(() => undefined);
    }
    if (berth) rmSync(berth.dataDir, { recursive: true, force: true });
  });

  it("starts Caddy, routes through it, and restarts and reloads it when it is stopped", async () => {
    const b = berth!;
    await create(b, siteApp(ns, "web", "echo managed > /srv/index.html"));
    await create(b, domain(ns, "web", "managed.test", "web"));
    await waitDomain(b, "web", { status: "True" }, 60_000, ns);
    expect((await request(httpPort, "managed.test")).body).to.equal("managed");
    const instance = (await b.dataSource.query(`SELECT id FROM berth_installation`))[0].id as string;
    const container = docker.getContainer(managedCaddyName(instance));
    const info = await container.inspect();
    expect(info.HostConfig.NetworkMode).to.equal("host");
    expect(info.Config.Labels["berth.dev/kind"]).to.equal("Router");
    await container.stop({ t: 1 });
    await waitBody(httpPort, "managed.test", "managed", "/", {}, 30_000);
  });
});

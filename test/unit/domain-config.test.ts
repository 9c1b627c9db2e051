import { expect } from "chai";
import { buildCaddyConfig, canonicalJson, hashConfig, pathMatchers, type RouteEntry } from "../../src/router/caddy-config.js";
import { routeEntry } from "../../src/router/caddy-router.js";
import { resolveRouterSettings, routerOptionsFromFlags } from "../../src/router/settings.js";
import type { ObservedContainer } from "../../src/runtime/driver.js";
import type { ResourceObject } from "../../src/core/types.js";

const settings = resolveRouterSettings({ adminUrl: "http://127.0.0.1:2019", httpPort: 8080, httpsPort: 8443, acme: { email: "ops@example.com" } })!;

function entry(host: string, over: Partial<RouteEntry> = {}): RouteEntry {
  return { key: `p/${host}`, uid: "u", host, path: "/", tls: { enabled: false, issuer: "acme" }, state: "Routed", message: "", upstreams: ["127.0.0.1:1001"], ...over };
}

function obj(kind: string, name: string, spec: Record<string, unknown>, uid = `${name}-uid`): ResourceObject {
  return { apiVersion: "berth.dev/v1alpha1", kind, metadata: { name, namespace: "p", uid }, spec };
}

function container(owner: string, hostPort: number, over: Partial<ObservedContainer> = {}): ObservedContainer {
  return { id: String(hostPort), name: `c${hostPort}`, labels: { "berth.dev/owner-uid": owner }, state: "running", health: "healthy", ports: [{ containerPort: 8080, hostIp: "127.0.0.1", hostPort }], created: 0, ...over };
}

describe("Caddy route table (pure)", () => {
  it("matches a path prefix with and without its subtree, and / as everything", () => {
    expect(pathMatchers("/")).to.equal(undefined);
    expect(pathMatchers("/api")).to.deep.equal(["/api", "/api/*"]);
    expect(pathMatchers("/api/")).to.deep.equal(["/api", "/api/*"]);
  });

  it("is the same document, and hash, whatever order the Domains come in", () => {
    const a = [entry("b.test"), entry("a.test", { tls: { enabled: true, issuer: "internal" } }), entry("c.test", { tls: { enabled: true, issuer: "acme" } })];
    const b = [...a].reverse();
    expect(hashConfig(buildCaddyConfig(a, settings))).to.equal(hashConfig(buildCaddyConfig(b, settings)));
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).to.equal('{"a":[{"c":3,"d":2}],"b":1}');
  });

  it("keeps Caddy's own keys (admin, logging) and owns only apps", () => {
    const cfg = buildCaddyConfig([entry("a.test")], settings, { admin: { listen: "127.0.0.1:2999" }, logging: { x: 1 }, apps: { stale: {} } }) as any;
    expect(cfg.admin).to.deep.equal({ listen: "127.0.0.1:2999" });
    expect(cfg.logging).to.deep.equal({ x: 1 });
    expect(cfg.apps.stale).to.equal(undefined);
  });

  it("puts plain hosts on HTTP, TLS hosts on HTTPS with redirects, issuers per host, and a 404 last", () => {
    const cfg = buildCaddyConfig(
      [entry("plain.test"), entry("int.test", { tls: { enabled: true, issuer: "internal" } }), entry("pub.test", { tls: { enabled: true, issuer: "acme" }, state: "TargetNotFound", message: "gone", upstreams: [] })],
      resolveRouterSettings({ adminUrl: "http://127.0.0.1:2019", acme: { directory: "https://ca.test/dir", trustedRootsPemFiles: ["/r.pem"] } })!,
    ) as any;
    const http = cfg.apps.http.servers.berth_http;
    expect(http.listen).to.deep.equal([":80"]);
    expect(http.routes.map((r: any) => r.match?.[0]?.host)).to.deep.equal([["plain.test"], ["int.test", "pub.test"], undefined]);
    expect(http.routes[1].handle[0].headers.Location).to.deep.equal(["https://{http.request.host}{http.request.uri}"]);
    const https = cfg.apps.http.servers.berth_https;
    expect(https.automatic_https).to.deep.equal({ disable_redirects: true });
    expect(https.routes[0].handle[0].handler).to.equal("reverse_proxy");
    expect(https.routes[1].handle[0]).to.include({ handler: "static_response", status_code: 503 });
    expect(cfg.apps.tls.automation.policies).to.deep.equal([
      { subjects: ["int.test"], issuers: [{ module: "internal" }] },
      { subjects: ["pub.test"], issuers: [{ module: "acme", ca: "https://ca.test/dir", trusted_roots_pem_files: ["/r.pem"] }] },
    ]);
    expect(cfg.apps.pki.certificate_authorities.local.install_trust).to.equal(false);
  });

  it("routes to the ready replicas' published target port only, and says why when it cannot", () => {
    const app = obj("Application", "web", { ports: [{ containerPort: 8080 }], healthcheck: { http: { path: "/health", port: 8080 }, interval: "1s" } });
    const dom = obj("Domain", "web", { host: "web.test", target: { application: "web", port: 8080 } });
    const cs = [container("web-uid", 1003), container("web-uid", 1001), container("web-uid", 1002, { health: "starting" }), container("other", 1004)];
    const e = routeEntry(dom, app, cs);
    expect(e.state).to.equal("Routed");
    expect(e.upstreams).to.deep.equal(["127.0.0.1:1001", "127.0.0.1:1003"]);
    expect(e.health).to.deep.equal({ uri: "/health", interval: "5s", timeout: "5s" });
    expect(routeEntry(dom, undefined, cs).state).to.equal("TargetNotFound");
    expect(routeEntry(dom, { ...app, metadata: { ...app.metadata, deletionTimestamp: "2024-01-01T00:00:00Z" } }, cs).state).to.equal("TargetNotFound");
    expect(routeEntry(obj("Domain", "web", { host: "web.test", target: { application: "web", port: 9090 } }), app, cs).state).to.equal("TargetPortNotExposed");
    expect(routeEntry(dom, app, []).state).to.equal("NoReadyReplicas");
    expect(routeEntry(obj("Domain", "web", { host: "web.test", suspend: true, target: { application: "web", port: 8080 } }), app, cs).state).to.equal("Suspended");
    expect(routeEntry(obj("Domain", "web", { host: "web.test", tls: { enabled: true }, target: { application: "web", port: 8080 } }), app, cs).tls).to.deep.equal({ enabled: true, issuer: "acme" });
  });

  it("turns serve flags into router options and rejects bad ones", () => {
    expect(routerOptionsFromFlags({}, {})).to.equal(undefined);
    const o = routerOptionsFromFlags({ caddyAdmin: "http://127.0.0.1:2019", caddyHttpsPort: "8443", acmeCaRoot: "/a.pem,/b.pem" }, {})!;
    expect(o.httpsPort).to.equal(8443);
    expect(o.acme?.trustedRootsPemFiles).to.deep.equal(["/a.pem", "/b.pem"]);
    expect(routerOptionsFromFlags({}, { BERTH_CADDY_MANAGED: "true" })?.managed).to.equal(true);
    expect(() => routerOptionsFromFlags({ caddyAdmin: "ftp://x" }, {})).to.throw(/http/);
    expect(() => routerOptionsFromFlags({ caddyAdmin: "http://x:1", caddyHttpPort: "70000" }, {})).to.throw(/port/);
    expect(resolveRouterSettings({ managed: true })!.adminUrl).to.equal("http://127.0.0.1:2019");
    expect(settings.acme.directory).to.equal("https://acme-v02.api.letsencrypt.org/directory");
  });
});

import http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { expect } from "chai";
import winston from "winston";
import { CaddyRouter } from "../../src/router/caddy-router.js";
import { reloadSafety, warnIfReloadsDropConnections } from "../../src/router/reload-safety.js";
import { buildCaddyConfig, drainingOf } from "../../src/router/caddy-config.js";
import { resolveRouterSettings } from "../../src/router/settings.js";
import { FakeDriver } from "../../src/runtime/fake.js";
import type { ResourceStore } from "../../src/store/resources.js";
import type { ObservedContainer, RuntimeDriver } from "../../src/runtime/driver.js";
import type { ResourceObject } from "../../src/core/types.js";
import { routeEntry } from "../../src/router/caddy-router.js";

/** A logger that keeps its messages. */
function captured(): { logger: winston.Logger; messages: string[] } {
  const messages: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done): void => (messages.push((JSON.parse(chunk.toString()) as { message: string }).message), done()) });
  return { logger: winston.createLogger({ format: winston.format.json(), transports: [new winston.transports.Stream({ stream: sink })] }), messages };
}

/** Caddy's admin API as far as a sync uses it: the config, /load, and the upstream counts. */
async function fakeCaddyAdmin(initial: unknown = null, inFlight: () => Record<string, number> = () => ({})): Promise<{ url: string; config: () => unknown; reads: () => number; loads: () => number; close: () => Promise<void> }> {
  let config: unknown = initial;
  let reads = 0;
  let loads = 0;
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      if (req.method === "GET" && req.url === "/config/") reads++;
      if (req.method === "POST" && req.url === "/load") {
        loads++;
        config = JSON.parse(body);
      }
      res.setHeader("Content-Type", "application/json");
      const upstreams = Object.entries(inFlight()).map(([address, n]) => ({ address, num_requests: n, fails: 0 }));
      res.end(req.url === "/reverse_proxy/upstreams" ? JSON.stringify(upstreams) : req.method === "GET" ? JSON.stringify(config) : "");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, config: () => config, reads: () => reads, loads: () => loads, close: () => new Promise((r) => server.close(() => r())) };
}

const emptyStore = { list: async () => ({ items: [] }) } as unknown as ResourceStore;

describe("router: when a Caddy load can drop connections, and sharing loads", () => {
  it("reads net.ipv4.tcp_migrate_req: on, off, or unknown where the kernel has none", () => {
    expect(reloadSafety(() => "1\n")).to.equal("on");
    expect(reloadSafety(() => "0\n")).to.equal("off");
    expect(
      reloadSafety(() => {
        throw new Error("ENOENT");
      }),
    ).to.equal("unknown");
  });

  it("warns once at start for a local or managed Caddy with the setting off, not for a remote one", () => {
    const local = captured();
    warnIfReloadsDropConnections(resolveRouterSettings({ adminUrl: "http://127.0.0.1:2019" })!, local.logger, "off");
    expect(local.messages.join("\n")).to.match(/tcp_migrate_req is 0.*scripts\/tune-host\.sh/);
    const on = captured();
    warnIfReloadsDropConnections(resolveRouterSettings({ adminUrl: "http://127.0.0.1:2019" })!, on.logger, "on");
    const remote = captured();
    warnIfReloadsDropConnections(resolveRouterSettings({ adminUrl: "http://caddy.internal:2019" })!, remote.logger, "off");
    expect([...on.messages, ...remote.messages]).to.deep.equal([]);
  });

  it("a sync that may wait shares one run with a withdraw that comes meanwhile, and starts at once then", async () => {
    const admin = await fakeCaddyAdmin();
    try {
      const router = new CaddyRouter(resolveRouterSettings({ adminUrl: admin.url, httpPort: 18080, httpsPort: 18443 })!, emptyStore, new FakeDriver("i1"), captured().logger);
      const t0 = Date.now();
      const waiting = router.sync({ settleMs: 5000 });
      const now = router.sync();
      const [a, b] = await Promise.all([waiting, now]);
      expect(a).to.equal(b);
      expect(Date.now() - t0, "the withdraw did not wait out the settle time").to.be.below(2000);
      expect(admin.reads(), "one run read Caddy's config").to.equal(1);
      expect(admin.loads()).to.equal(1);
      const t1 = Date.now();
      await router.sync({ settleMs: 150 });
      expect(Date.now() - t1, "alone, it waits for company").to.be.at.least(140);
      expect(admin.loads(), "nothing changed: no second load").to.equal(1);
    } finally {
      await admin.close();
    }
  });

  it("drops a drain route of gone containers once no Domain is left (a deleted Project leaves nothing behind)", async () => {
    const settings = resolveRouterSettings({ adminUrl: "http://127.0.0.1:1", httpPort: 18080, httpsPort: 18443 })!;
    const admin = await fakeCaddyAdmin(buildCaddyConfig([], settings, {}, ["127.0.0.1:32785"]));
    try {
      expect(drainingOf(admin.config() as never)).to.deep.equal(["127.0.0.1:32785"]);
      const router = new CaddyRouter({ ...settings, adminUrl: admin.url }, emptyStore, new FakeDriver("i1"), captured().logger);
      const r = await router.sync();
      expect(r.loaded, "the leftover drain route is a reason to load when nothing else is routed").to.equal(true);
      expect(drainingOf(admin.config() as never)).to.deep.equal([]);
      expect(JSON.stringify(admin.config())).to.not.contain("32785");
    } finally {
      await admin.close();
    }
  });

  it("a container withdrawn while not ready yet, but routed by a sync that read it healthy a moment before, is drained before its stop and never routed again", async () => {
    const settings = resolveRouterSettings({ adminUrl: "http://127.0.0.1:1", httpPort: 18080, httpsPort: 18443 })!;
    const app = { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "web", namespace: "shop", uid: "app-uid" }, spec: { ports: [{ containerPort: 8080 }] } } as unknown as ResourceObject;
    const domain = { apiVersion: "berth.dev/v1alpha1", kind: "Domain", metadata: { name: "web", namespace: "shop", uid: "dom-uid" }, spec: { host: "web.test", target: { application: "web", port: 8080 } } } as unknown as ResourceObject;
    const store = { list: async (kind: string) => ({ items: kind === "Domain" ? [domain] : [app] }) } as unknown as ResourceStore;
    const container = (id: string, hostPort: number, health: ObservedContainer["health"]): ObservedContainer => ({ id, name: `shop-web-${id}`, labels: { "berth.dev/owner-uid": "app-uid", "berth.dev/kind": "Application" }, state: "running", health, ports: [{ containerPort: 8080, hostIp: "0.0.0.0", hostPort }], created: 1 });
    const keep = container("keep", 40000, "healthy");
    let late = container("late", 40001, "healthy");
    const driver = { listContainers: async () => [keep, late] } as unknown as RuntimeDriver;
    // The live table routes both: the Domain's sync saw "late" healthy just before the plan was made.
    const live = buildCaddyConfig([routeEntry(domain, app, [keep, late])], settings);
    const t0 = Date.now();
    const admin = await fakeCaddyAdmin(live, () => ({ "127.0.0.1:40001": Date.now() - t0 < 400 ? 1 : 0 }));
    try {
      const router = new CaddyRouter({ ...settings, adminUrl: admin.url }, store, driver, captured().logger);
      // The engine reports it "starting" at the withdraw's own look (its health flapped or the look raced the check).
      late = container("late", 40001, "starting");
      await router.withdraw(["late"]);
      expect(Date.now() - t0, "the stop waited for the request in flight to its address").to.be.at.least(390);
      const routes = JSON.stringify((admin.config() as any).apps.http.servers.berth_http.routes[0]);
      expect(routes).to.contain("40000").and.not.contain("40001");
      late = container("late", 40001, "healthy");
      await router.sync();
      expect(JSON.stringify((admin.config() as any).apps.http.servers.berth_http.routes[0]), "withdrawn: never routed again").to.not.contain("40001");
    } finally {
      await admin.close();
    }
  });
});

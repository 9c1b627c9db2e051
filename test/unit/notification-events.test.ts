import { expect } from "chai";
import type { ResourceObject } from "../../src/core/types.js";
import { ApplicationReconciler } from "../../src/reconcilers/application/reconciler.js";
import { certificateExpiring, domainStatusFor, type DomainObserved } from "../../src/reconcilers/domain/status.js";
import type { ServedCertificate } from "../../src/router/certificates.js";
import { FakeDriver } from "../../src/runtime/fake.js";
import { NO_TRAFFIC } from "../../src/runtime/traffic.js";
import { ctx, unitStore, type UnitStore } from "../helpers/unit-store.js";

/** The two Events the Notification mapping needed and no controller recorded before (ADR 0021). */
describe("Events for Notifications: DriftRepaired (Application) and CertificateExpiring (Domain)", function () {
  this.timeout(20_000);
  const DAY = 86_400_000;

  describe("CertificateExpiring", () => {
    const at = "2026-12-01T00:00:00Z";
    const now = Date.parse(at);
    const cert = (daysLeft: number, lifetimeDays = 90): ServedCertificate => ({ pem: "", issuer: "Pebble Intermediate CA", subject: "web.test", serialNumber: "1", fingerprint: "f", notBefore: new Date(now + (daysLeft - lifetimeDays) * DAY), notAfter: new Date(now + daysLeft * DAY), matchesHost: true });
    const dom = (status: Record<string, unknown> = {}): ResourceObject => ({ apiVersion: "berth.dev/v1alpha1", kind: "Domain", metadata: { name: "web", namespace: "shop", uid: "u1", generation: 1 }, spec: {}, status });
    const obs = (c: ServedCertificate): Partial<DomainObserved> => ({ routerConfigured: true, settings: { httpPort: 80, httpsPort: 443 }, entry: { key: "shop/web", uid: "u1", host: "web.test", path: "/", tls: { enabled: true, issuer: "acme" }, state: "Routed", message: "routed", upstreams: ["127.0.0.1:1"] } as DomainObserved["entry"], certificate: c, events: [] });
    const cond = (v: { status: Record<string, unknown> }): any => (v.status.conditions as any[]).find((c) => c.type === "CertificateExpiring");

    it("is a tenth of the lifetime and at most 7 days before the end (Caddy renews at a third)", () => {
      expect(certificateExpiring(cert(30), now)).to.equal(false);
      expect(certificateExpiring(cert(6.9), now)).to.equal(true);
      expect(certificateExpiring(cert(-1), now)).to.equal(false); // expired is CertificatePending, not expiring
      expect(certificateExpiring({ notBefore: new Date(now - 9 * 3_600_000), notAfter: new Date(now + 3 * 3_600_000) }, now)).to.equal(false); // a 12 h internal certificate, 3 h left
      expect(certificateExpiring({ notBefore: new Date(now - 11 * 3_600_000), notAfter: new Date(now + 3_600_000) }, now)).to.equal(true); // 1 h left: Caddy should have renewed at 4 h
    });

    it("a Domain without a problem has no such condition; one close to expiry warns once; a renewal clears it", () => {
      expect(cond(domainStatusFor(dom(), obs(cert(60)), {}, at))).to.equal(undefined);
      const v = domainStatusFor(dom(), obs(cert(3)), {}, at);
      expect(cond(v)).to.include({ status: "True", reason: "RenewalOverdue" });
      expect(v.status.conditions as any[]).to.satisfy((cs: any[]) => cs.find((c) => c.type === "Ready").status === "True");
      expect(v.events.filter((e) => e.reason === "CertificateExpiring").map((e) => e.type)).to.deep.equal(["Warning"]);
      const again = domainStatusFor(dom(v.status), obs(cert(2.9)), {}, at);
      expect(again.events.filter((e) => e.reason === "CertificateExpiring")).to.deep.equal([]);
      const renewed = domainStatusFor(dom(again.status), obs(cert(89)), {}, at);
      expect(cond(renewed)).to.include({ status: "False", reason: "Renewed" });
    });
  });

  describe("DriftRepaired", () => {
    let u: UnitStore;
    before(async () => {
      u = await unitStore();
    });

    it("a replica stopped by hand and started again: one Normal DriftRepaired naming the step, and an outbox row for a subscriber", async () => {
      await u.reset();
      const fake = new FakeDriver();
      fake.images.set("x:1", { cmd: ["sh"] });
      const s = u.stores;
      const r = new ApplicationReconciler({ store: s.resources, events: s.events, driver: fake, traffic: NO_TRAFFIC, box: u.box, credentials: s.credentials, revisions: s.revisions, volumes: s.volumes, metrics: u.metrics });
      const ADMIN = { user: "admin" };
      await s.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "shop" }, spec: {} }, ADMIN);
      await s.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Notification", metadata: { name: "drift", namespace: "shop" }, spec: { channel: { slack: { webhookUrl: "https://hooks.slack.example/x" } }, events: ["DriftRepaired"] } }, ADMIN);
      await s.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "web", namespace: "shop" }, spec: { source: { image: "x:1" }, replicas: 1, command: ["sleep", "1"] } }, ADMIN);
      const key = { kind: "Application" as const, namespace: "shop", name: "web" };
      await r.reconcile(key, ctx());
      const drift = async (): Promise<string[]> => ((await s.events.list("shop", "involvedObject.name=web")).items as any[]).filter((e) => e.reason === "DriftRepaired").map((e) => `${e.type}: ${e.message}`);
      expect(await drift()).to.deep.equal([]);
      fake.crash("shop-web-0");
      await r.reconcile(key, ctx());
      const events = await drift();
      expect(events).to.have.length(1);
      expect(events[0]).to.match(/^Normal: repaired drift: start\s+shop-web-0/);
      const n = (await s.resources.get("Notification", "shop", "drift"))!;
      expect((await s.outbox.rows(n.metadata.uid!)).map((x) => x.event)).to.deep.equal(["DriftRepaired"]);
    });
  });
});

import { expect } from "chai";
import { notificationEventOf } from "../../src/core/notifications.js";
import type { ResourceObject } from "../../src/core/types.js";
import { NotificationReconciler } from "../../src/reconcilers/notification/reconciler.js";
import { plainChannel } from "../../src/reconcilers/notification/channels.js";
import { validateObject } from "../../src/schema/crds.js";
import { ctx, unitStore, type UnitStore } from "../helpers/unit-store.js";

const P = "notify";
const ADMIN = { user: "admin" };
const HOOK = "https://hooks.slack.example/services/T000/B000/very-secret-token";

function notification(name: string, spec: Record<string, unknown>, namespace = P): ResourceObject {
  return { apiVersion: "berth.dev/v1alpha1", kind: "Notification", metadata: { name, namespace }, spec };
}

function app(name: string, namespace = P): ResourceObject {
  return { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace }, spec: { source: { image: "x:1" } } };
}

describe("Notifications in the store (real Postgres): sealed channel, outbox written with the Event, claims", function () {
  this.timeout(20_000);
  let u: UnitStore;

  const create = async (o: ResourceObject): Promise<ResourceObject> => (await u.stores.resources.create(o, ADMIN)).object ?? (await u.stores.resources.get(o.kind, o.metadata.namespace, o.metadata.name))!;
  const stored = async (o: ResourceObject): Promise<ResourceObject> => (await u.stores.resources.get(o.kind, o.metadata.namespace, o.metadata.name))!;
  const outboxOf = async (n: ResourceObject) => u.stores.outbox.rows((await stored(n)).metadata.uid!);

  before(async () => {
    u = await unitStore();
  });

  beforeEach(async () => {
    await u.reset();
    await u.ds.query("DELETE FROM syncs");
    for (const p of [P, "other"]) await u.stores.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: p }, spec: {} }, ADMIN);
  });

  it("maps the controllers' Events to the event types (docs/notifications.md)", () => {
    expect(notificationEventOf("Application", "Normal", "Ready")).to.equal("RolloutSucceeded");
    expect(notificationEventOf("Application", "Warning", "ProgressDeadlineExceeded")).to.equal("RolloutFailed");
    expect(notificationEventOf("Application", "Warning", "RolledBack")).to.equal("RolledBack");
    expect(notificationEventOf("Application", "Warning", "BuildFailed")).to.equal("BuildFailed");
    expect(notificationEventOf("Database", "Warning", "BackupFailed")).to.equal("BackupFailed");
    expect(notificationEventOf("Application", "Normal", "DriftRepaired")).to.equal("DriftRepaired");
    expect(notificationEventOf("Sync", "Warning", "FetchFailed")).to.equal("SyncFailed");
    expect(notificationEventOf("Domain", "Warning", "CertificateExpiring")).to.equal("CertificateExpiring");
    expect(notificationEventOf("Application", "Warning", "PortConflict")).to.equal(undefined);
    expect(notificationEventOf("Notification", "Warning", "DeliveryFailed")).to.equal(undefined);
  });

  it("the CRD takes exactly one channel and known event types", () => {
    expect(validateObject("Notification", notification("a", { channel: { slack: { webhookUrl: HOOK } }, events: ["RolloutFailed"] }))).to.deep.equal([]);
    expect(validateObject("Notification", notification("a", { channel: { slack: { webhookUrl: HOOK }, discord: { webhookUrl: HOOK } }, events: ["RolloutFailed"] }))).to.not.deep.equal([]);
    const bad = validateObject("Notification", notification("a", { channel: { slack: { webhookUrl: HOOK } }, events: ["Whatever"] }));
    expect(bad.map((c) => c.field)).to.deep.equal(["spec.events[0]"]);
  });

  it("seals the channel's secrets: ciphertext at rest, sealed strings on read, plaintext only for the sender", async () => {
    const n = await create(notification("chat", { channel: { webhook: { url: HOOK, headers: { Authorization: "Bearer s3cr3t-value" } } }, events: ["RolloutFailed"] }));
    const [row] = await u.ds.query(`SELECT spec::text AS spec FROM notifications WHERE name = 'chat'`);
    expect(row.spec).to.not.include("very-secret-token");
    expect(row.spec).to.not.include("s3cr3t-value");
    expect(row.spec).to.include("enc:v1:");
    const read = await stored(n);
    const channel = (read.spec as any).channel.webhook;
    expect(channel.url).to.match(/^sealed:v1:/);
    expect(channel.headers.Authorization).to.match(/^sealed:v1:/);
    const [raw] = await u.ds.query(`SELECT spec FROM notifications WHERE name = 'chat'`);
    expect(plainChannel(u.box, raw.spec)).to.deep.equal({ webhook: { url: HOOK, headers: { Authorization: "Bearer s3cr3t-value" } } });
  });

  it("an Event writes one outbox row per subscribed Notification of its Project, in the same statement", async () => {
    const all = await create(notification("all", { channel: { slack: { webhookUrl: HOOK } }, events: ["RolloutFailed", "RolloutSucceeded"] }));
    const onlyApi = await create(notification("only-api", { channel: { slack: { webhookUrl: HOOK } }, events: ["RolloutFailed"], applications: ["api"] }));
    const paused = await create(notification("paused", { channel: { slack: { webhookUrl: HOOK } }, events: ["RolloutFailed"], suspend: true }));
    const builds = await create(notification("builds", { channel: { slack: { webhookUrl: HOOK } }, events: ["BuildFailed"] }));
    const elsewhere = await create(notification("elsewhere", { channel: { slack: { webhookUrl: HOOK } }, events: ["RolloutFailed"] }, "other"));
    const web = await create(app("web"));
    const api = await create(app("api"));
    await u.stores.events.record(web, { type: "Warning", reason: "ProgressDeadlineExceeded", message: "revision 2 did not become ready within 10m" });
    await u.stores.events.record(api, { type: "Warning", reason: "ProgressDeadlineExceeded", message: "revision 5 did not become ready within 10m" });
    await u.stores.events.record(web, { type: "Warning", reason: "PortConflict", message: "not a notification" });
    expect((await outboxOf(all)).map((r) => r.event)).to.deep.equal(["RolloutFailed", "RolloutFailed"]);
    expect(await outboxOf(onlyApi)).to.have.length(1);
    expect(await outboxOf(paused)).to.deep.equal([]);
    expect(await outboxOf(builds)).to.deep.equal([]);
    expect(await outboxOf(elsewhere)).to.deep.equal([]);
    const [claimed] = await u.stores.outbox.claim(1, 30_000);
    expect(claimed.payload).to.deep.include({ event: "RolloutFailed", type: "Warning", reason: "ProgressDeadlineExceeded", message: "revision 2 did not become ready within 10m" });
    expect(claimed.payload.object).to.deep.equal({ kind: "Application", namespace: P, name: "web", uid: web.metadata.uid });
    expect(claimed.payload.at).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(claimed).to.include({ namespace: P, name: "all" });
  });

  it("a Sync's Warning reaches the Projects it may write into", async () => {
    const here = await create(notification("syncs", { channel: { slack: { webhookUrl: HOOK } }, events: ["SyncFailed"] }));
    const there = await create(notification("syncs", { channel: { slack: { webhookUrl: HOOK } }, events: ["SyncFailed"] }, "other"));
    const sync = await create({ apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name: "infra" }, spec: { source: { directory: { path: "/nowhere" } }, targetProjects: ["other"] } });
    await u.stores.events.record(sync, { type: "Warning", reason: "FetchFailed", message: "directory /nowhere does not exist" });
    expect(await outboxOf(here)).to.deep.equal([]);
    expect((await outboxOf(there)).map((r) => r.event)).to.deep.equal(["SyncFailed"]);
  });

  it("claims are disjoint (SKIP LOCKED, lease) and a row is marked delivered once", async () => {
    await create(notification("all", { channel: { slack: { webhookUrl: HOOK } }, events: ["RolloutFailed"] }));
    const web = await create(app("web"));
    for (let i = 0; i < 6; i++) await u.stores.events.record(web, { type: "Warning", reason: "ProgressDeadlineExceeded", message: `revision ${i}` });
    const [a, b] = await Promise.all([u.stores.outbox.claim(4, 30_000), u.stores.outbox.claim(4, 30_000)]);
    const ids = [...a, ...b].map((r) => r.id);
    expect(ids).to.have.length(6);
    expect(new Set(ids).size).to.equal(6);
    expect(await u.stores.outbox.claim(10, 30_000)).to.deep.equal([]);
    expect(await Promise.all([u.stores.outbox.delivered(ids[0]), u.stores.outbox.delivered(ids[0])])).to.have.members([true, false]);
    await u.stores.outbox.failed(ids[1], "HTTP 500", new Date(Date.now() - 1));
    expect((await u.stores.outbox.claim(10, 30_000)).map((r) => [r.id, r.attempts])).to.deep.equal([[ids[1], 1]]);
  });

  it("the reconciler reports deliveries: Ready, counts, DeliveryFailed with the channel's answer and a Warning, never a secret", async () => {
    const n = await create(notification("chat", { channel: { slack: { webhookUrl: HOOK } }, events: ["RolloutFailed"] }));
    const r = new NotificationReconciler({ store: u.stores.resources, events: u.stores.events, outbox: u.stores.outbox, box: u.box });
    const key = { kind: "Notification" as const, namespace: P, name: "chat" };
    await r.reconcile(key, ctx());
    let s = (await stored(n)).status as any;
    expect(s).to.include({ channel: "slack", delivered: 0, failures: 0, pending: 0 });
    expect(s.conditions.find((c: any) => c.type === "Ready")).to.include({ status: "True", reason: "Subscribed" });
    const web = await create(app("web"));
    await u.stores.events.record(web, { type: "Warning", reason: "ProgressDeadlineExceeded", message: "revision 2 did not become ready" });
    const [row] = await u.stores.outbox.claim(1, 30_000);
    await u.stores.outbox.failed(row.id, "HTTP 404 Not Found: no_service", new Date(Date.now() + 60_000));
    await r.reconcile(key, ctx());
    s = (await stored(n)).status as any;
    expect(s).to.include({ failures: 1, pending: 1, delivered: 0 });
    expect(s.conditions.find((c: any) => c.type === "DeliveryFailed")).to.include({ status: "True", reason: "ChannelRefused", message: "HTTP 404 Not Found: no_service" });
    expect(s.conditions.find((c: any) => c.type === "Ready")).to.include({ status: "False", reason: "DeliveryFailed" });
    const events = ((await u.stores.events.list(P, "involvedObject.name=chat")).items as any[]).map((e) => `${e.type} ${e.reason}: ${e.message}`);
    expect(events).to.include("Warning DeliveryFailed: slack: HTTP 404 Not Found: no_service");
    await u.stores.outbox.delivered(row.id);
    await r.reconcile(key, ctx());
    s = (await stored(n)).status as any;
    expect(s).to.include({ delivered: 1, failures: 1, pending: 0 });
    expect(s.lastDelivery).to.include({ event: "RolloutFailed", object: "Application/web" });
    expect(s.conditions.find((c: any) => c.type === "DeliveryFailed")).to.include({ status: "False", reason: "Delivered" });
    expect(JSON.stringify(await u.ds.query("SELECT object_status FROM notifications"))).to.not.include("very-secret-token");
  });

  it("a channel that is not http(s) is InvalidChannel (Stalled), its URL not repeated", async () => {
    const n = await create(notification("bad", { channel: { discord: { webhookUrl: "ftp://very-secret-token@example" } }, events: ["RolloutFailed"] }));
    const r = new NotificationReconciler({ store: u.stores.resources, events: u.stores.events, outbox: u.stores.outbox, box: u.box });
    await r.reconcile({ kind: "Notification", namespace: P, name: "bad" }, ctx());
    const s = (await stored(n)).status as any;
    expect(s.conditions.find((c: any) => c.type === "Ready")).to.include({ status: "False", reason: "InvalidChannel" });
    expect(s.conditions.find((c: any) => c.type === "Stalled")).to.include({ status: "True" });
    expect(JSON.stringify(s)).to.not.include("very-secret-token");
  });
});

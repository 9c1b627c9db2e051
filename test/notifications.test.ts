/**
 * Notifications (issue 20, ADR 0021) end to end in one in-process Berth with the fake runtime
 * driver (no Docker needed): a Sync over a directory with a broken manifest fails, its Warning
 * is a SyncFailed, and every channel gets it — a local SMTP sink (smtp-server) run by the test,
 * a local node:http server for the generic webhook, Slack/Discord/Telegram through nock.
 * The kill -9 case is in notifications-restart.test.ts.
 */
import { expect } from "chai";
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { SMTPServer } from "smtp-server";
import { startBerth, type Berth } from "../src/main.js";
import { FakeDriver } from "../src/runtime/fake.js";
import { call, quietLogger, removeDir, tempDir } from "./helpers/berth.js";
import { waitFor } from "./helpers/docker.js";
import { releaseNock, useNock, type Nock } from "./helpers/nock.js";
import { startSystemPostgres, type TestPostgres } from "./helpers/postgres.js";

const G = "/apis/berth.dev/v1alpha1";
const P = "alerts";
const SMTP_PASSWORD = "smtp-pass-0c9e7f";
const SLACK_PATH = "/services/T0001/B0001/slack-secret-4d2a";

interface Mail {
  from: string;
  to: string[];
  data: string;
}

/** An SMTP sink: plain SMTP with AUTH (no TLS here), every accepted message kept. */
async function startSmtpSink(): Promise<{ port: number; mails: Mail[]; stop(): Promise<void> }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === "berth" && auth.password === SMTP_PASSWORD) cb(null, { user: "berth" });
      else cb(new Error("Invalid username or password"));
    },
    onData(stream, session, cb) {
      let data = "";
      stream.on("data", (c: Buffer) => (data += c.toString()));
      stream.on("end", () => {
        const from = session.envelope.mailFrom;
        mails.push({ from: from ? from.address : "", to: session.envelope.rcptTo.map((r) => r.address), data });
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

interface Hit {
  headers: http.IncomingHttpHeaders;
  body: any;
  /** What the receiver answered. */
  code: number;
}

/** A webhook receiver: answers what `status()` says, records every request. */
async function startReceiver(status: () => number): Promise<{ url: string; hits: Hit[]; stop(): Promise<void> }> {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const code = status();
      hits.push({ headers: req.headers, body: JSON.parse(body || "null"), code });
      res.writeHead(code, { "content-type": "text/plain" });
      res.end(code >= 400 ? "receiver says no" : "ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/hook`, hits, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("Notifications: SMTP, webhook, Slack, Discord and Telegram deliveries of a real SyncFailed", function () {
  this.timeout(120_000);
  let pg: TestPostgres;
  let berth: Berth;
  let dataDir: string;
  let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
  let nock: Nock | undefined;
  let syncs = 0;

  const notification = (name: string, spec: Record<string, unknown>): Record<string, unknown> => ({ apiVersion: "berth.dev/v1alpha1", kind: "Notification", metadata: { name, namespace: P }, spec: { events: ["SyncFailed"], ...spec } });
  const create = async (obj: Record<string, unknown>): Promise<void> => {
    const r = await call(berth, "POST", `${G}/namespaces/${P}/notifications`, obj);
    expect(r.status, r.text).to.equal(201);
  };
  const get = async (name: string): Promise<any> => (await call(berth, "GET", `${G}/namespaces/${P}/notifications/${name}`)).body;
  const condition = (n: any, type: string): any => n?.status?.conditions?.find((c: any) => c.type === type);
  /** A new Sync whose directory holds a manifest of an unknown kind: ManifestInvalid, one Warning. */
  const failSync = async (): Promise<string> => {
    const name = `broken-${++syncs}`;
    const dir = path.join(dataDir, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "bad.yaml"), "apiVersion: berth.dev/v1alpha1\nkind: Nonsense\nmetadata: {name: x}\n");
    const r = await call(berth, "POST", `${G}/syncs`, { apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name }, spec: { source: { directory: { path: dir } } } });
    expect(r.status, r.text).to.equal(201);
    return name;
  };
  const delivered = (name: string, n = 1): Promise<any> => waitFor(`${name} delivered`, async () => ((await get(name))?.status?.delivered >= n ? get(name) : undefined), 20_000, 100);

  before(async () => {
    pg = await startSystemPostgres();
    smtp = await startSmtpSink();
    dataDir = tempDir("berth-notify-");
    berth = await startBerth({ dataDir, listen: "127.0.0.1:0", databaseUrl: pg.url, logger: quietLogger(), controllers: true, driver: new FakeDriver(), resyncMs: 60_000 });
    const r = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} });
    expect(r.status, r.text).to.equal(201);
  });

  after(async () => {
    releaseNock(nock);
    await berth?.stop();
    await smtp?.stop();
    await pg?.stop();
    removeDir(dataDir ?? "");
  });

  it("e-mail: nodemailer submits to the SMTP sink with the sealed password; the message names event, object and reason", async () => {
    await create(notification("mail", { channel: { email: { smtp: { host: "127.0.0.1", port: smtp.port, secure: false, username: "berth", password: SMTP_PASSWORD }, from: "berth@example.test", to: ["ops@example.test", "dev@example.test"] } } }));
    const stored = await get("mail");
    expect(stored.spec.channel.email.smtp.password).to.match(/^sealed:v1:/);
    const sync = await failSync();
    const n = await delivered("mail");
    expect(smtp.mails).to.have.length(1);
    const [mail] = smtp.mails;
    expect(mail.from).to.equal("berth@example.test");
    expect(mail.to).to.deep.equal(["ops@example.test", "dev@example.test"]);
    expect(mail.data).to.match(/^Subject: \[berth\] SyncFailed: Sync /m);
    expect(mail.data).to.include(`Sync ${sync}`).and.to.include("ManifestInvalid");
    expect(mail.data).to.match(/^X-Berth-Event: SyncFailed/m);
    expect(n.status).to.include({ channel: "email", delivered: 1, failures: 0, pending: 0 });
    expect(n.status.lastDelivery).to.include({ event: "SyncFailed", object: `Sync/${sync}` });
    expect(condition(n, "Ready")).to.include({ status: "True", reason: "Subscribed" });
  });

  it("e-mail with a wrong password: DeliveryFailed with the server's answer and a Warning, no password anywhere", async () => {
    await create(notification("mail-bad", { channel: { email: { smtp: { host: "127.0.0.1", port: smtp.port, username: "berth", password: "wrong-password-77" }, from: "berth@example.test", to: ["ops@example.test"] } } }));
    const before = smtp.mails.length;
    await failSync();
    const n = await waitFor("DeliveryFailed", async () => (condition(await get("mail-bad"), "DeliveryFailed")?.status === "True" ? get("mail-bad") : undefined), 20_000, 100);
    expect(condition(n, "DeliveryFailed").message).to.match(/^SMTP 535 .*Invalid username or password/);
    expect(condition(n, "Ready")).to.include({ status: "False", reason: "DeliveryFailed" });
    expect(n.status.failures).to.be.at.least(1);
    expect(JSON.stringify(n.status)).to.not.include("wrong-password-77");
    const events = (await call(berth, "GET", `/api/v1/namespaces/${P}/events?fieldSelector=involvedObject.name=mail-bad`)).body.items;
    const warning = events.find((e: any) => e.reason === "DeliveryFailed");
    expect(warning, JSON.stringify(events)).to.include({ type: "Warning" });
    expect(warning.message).to.match(/^email: SMTP 535/);
    expect(smtp.mails.length).to.equal(before + 1); // the good "mail" Notification got this Sync's failure too
  });

  it("generic webhook: a local HTTP server gets the JSON body, the Idempotency-Key and the sealed Authorization header", async () => {
    const receiver = await startReceiver(() => 200);
    try {
      await create(notification("hook", { channel: { webhook: { url: receiver.url, headers: { Authorization: "Bearer hook-token-91" } } } }));
      expect((await get("hook")).spec.channel.webhook.headers.Authorization).to.match(/^sealed:v1:/);
      const sync = await failSync();
      await delivered("hook");
      expect(receiver.hits).to.have.length(1);
      const [hit] = receiver.hits;
      expect(hit.headers.authorization).to.equal("Bearer hook-token-91");
      expect(hit.headers["content-type"]).to.equal("application/json");
      expect(hit.headers["idempotency-key"]).to.equal(hit.body.id);
      expect(hit.body).to.deep.include({ apiVersion: "berth.dev/v1alpha1", kind: "NotificationEvent", event: "SyncFailed", type: "Warning", reason: "ManifestInvalid" });
      expect(hit.body.object).to.include({ kind: "Sync", name: sync });
      expect(hit.body.text).to.match(/^\[berth\] SyncFailed: Sync broken-\d+ — ManifestInvalid: /);
    } finally {
      await receiver.stop();
    }
  });

  it("a refusing webhook is retried with backoff and then delivered once; status goes DeliveryFailed and back", async () => {
    let code = 503;
    const receiver = await startReceiver(() => code);
    try {
      await create(notification("flaky", { channel: { webhook: { url: receiver.url } } }));
      await failSync();
      const failed = await waitFor("DeliveryFailed", async () => (condition(await get("flaky"), "DeliveryFailed")?.status === "True" ? get("flaky") : undefined), 20_000, 100);
      expect(condition(failed, "DeliveryFailed").message).to.equal("HTTP 503 Service Unavailable: receiver says no");
      code = 200;
      const n = await delivered("flaky");
      expect(condition(n, "DeliveryFailed")).to.include({ status: "False", reason: "Delivered" });
      expect(n.status.failures).to.be.at.least(1);
      expect(receiver.hits.filter((h) => h.code === 200)).to.have.length(1);
      expect(receiver.hits.filter((h) => h.code === 503).length).to.equal(n.status.failures);
      expect(new Set(receiver.hits.map((h) => h.body.id)).size).to.equal(1); // every attempt is the same delivery
    } finally {
      await receiver.stop();
    }
  });

  describe("chat webhooks (third-party services, through nock)", () => {
    before(async () => {
      nock = await useNock();
    });

    it("Slack, Discord and Telegram each get one message in their format; the sealed URL and token never show", async () => {
      const bodies: Record<string, any> = {};
      const slack = nock!("https://hooks.slack.com").post(SLACK_PATH, (b) => (bodies.slack = b) !== undefined).reply(200, "ok");
      const discord = nock!("https://discord.com").post("/api/webhooks/42/discord-secret-7f", (b) => (bodies.discord = b) !== undefined).reply(204);
      const telegram = nock!("https://api.telegram.org").post("/bot123456:tg-secret-token/sendMessage", (b) => (bodies.telegram = b) !== undefined).reply(200, { ok: true });
      await create(notification("slack", { channel: { slack: { webhookUrl: `https://hooks.slack.com${SLACK_PATH}` } } }));
      await create(notification("discord", { channel: { discord: { webhookUrl: "https://discord.com/api/webhooks/42/discord-secret-7f" } } }));
      await create(notification("telegram", { channel: { telegram: { botToken: "123456:tg-secret-token", chatId: "-1001" } } }));
      for (const n of ["slack", "discord", "telegram"]) expect(JSON.stringify(await get(n))).to.not.match(/secret/);
      const sync = await failSync();
      for (const n of ["slack", "discord", "telegram"]) await delivered(n);
      expect(slack.isDone() && discord.isDone() && telegram.isDone()).to.equal(true);
      expect(bodies.slack.text).to.match(new RegExp(`^\\[berth\\] SyncFailed: Sync ${sync} — ManifestInvalid`));
      expect(bodies.discord.content).to.equal(bodies.slack.text);
      expect(bodies.telegram).to.deep.equal({ chat_id: "-1001", text: bodies.slack.text });
    });

    it("Slack answering 404 no_service: DeliveryFailed quotes the answer, not the URL", async () => {
      nock!("https://hooks.slack.com").post("/services/T0001/B0001/gone-secret-55").times(5).reply(404, "no_service");
      await create(notification("slack-gone", { channel: { slack: { webhookUrl: "https://hooks.slack.com/services/T0001/B0001/gone-secret-55" } } }));
      await failSync();
      const n = await waitFor("DeliveryFailed", async () => (condition(await get("slack-gone"), "DeliveryFailed")?.status === "True" ? get("slack-gone") : undefined), 20_000, 100);
      expect(condition(n, "DeliveryFailed").message).to.equal("HTTP 404 Not Found: no_service");
      expect(JSON.stringify(n)).to.not.include("gone-secret-55");
    });
  });
});

import { expect } from "chai";
import https from "node:https";
import { Writable } from "node:stream";
import winston from "winston";
import { call, startTestBerth, type HttpReply } from "./helpers/berth.js";
import { BUSYBOX_IMAGE, cleanupProject, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";
import { startSystemPostgres, type TestPostgres } from "./helpers/postgres.js";
import { isStoreUnavailable } from "../src/store/errors.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const P = `outage-${process.pid}`;
const APPS = `${G}/namespaces/${P}/applications`;
const OUTAGE_MS = 30_000;

function app(name: string): Record<string, unknown> {
  return {
    apiVersion: "berth.dev/v1alpha1",
    kind: "Application",
    metadata: { name, namespace: P },
    spec: { source: { image: BUSYBOX_IMAGE }, replicas: 1, command: ["httpd", "-f", "-p", "8080", "-h", "/www"], ports: [{ containerPort: 8080 }] },
  };
}

/** A real winston logger that keeps every entry (and prints them with BERTH_TEST_LOGS). */
function recordingLogger(entries: winston.LogEntry[]): winston.Logger {
  const sink = new Writable({ objectMode: true, write: (info: winston.LogEntry, _enc, done) => (entries.push(info), done()) });
  return winston.createLogger({ level: "debug", transports: [new winston.transports.Stream({ stream: sink }), new winston.transports.Console({ level: "warn", silent: !process.env.BERTH_TEST_LOGS })] });
}

/** An open watch, as kubectl get -w holds one: resolves `ended` when the server closes it. */
function openWatch(berth: TestBerth, path: string): Promise<{ ended: Promise<number>; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, berth.url), { ca: berth.caPem, headers: { Authorization: `Bearer ${berth.token}` } }, (res) => {
      const ended = new Promise<number>((done) => res.on("close", () => done(Date.now())));
      res.once("data", () => resolve({ ended, close: () => req.destroy() }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Every request that needs the store, as a client makes them while it is away. */
async function storeRequests(berth: TestBerth, round: number): Promise<[string, HttpReply][]> {
  return [
    ["GET", await call(berth, "GET", `${APPS}/before`)],
    ["LIST", await call(berth, "GET", APPS)],
    ["POST", await call(berth, "POST", APPS, app(`during-${round}`))],
    ["PATCH", await call(berth, "PATCH", `${APPS}/before`, { metadata: { labels: { round: String(round) } } }, { contentType: "application/merge-patch+json" })],
    ["WATCH", await call(berth, "GET", `${APPS}?watch=true&resourceVersion=1`)],
  ];
}

function expectRetryable503(what: string, r: HttpReply): void {
  expect(r.status, `${what}: ${r.text}`).to.equal(503);
  expect(r.headers["retry-after"], `${what} Retry-After`).to.equal("1");
  expect(r.body).to.include({ kind: "Status", reason: "ServiceUnavailable", code: 503 });
  expect(r.body.message).to.match(/store .* unavailable/);
  expect(r.text, what).not.to.match(/ECONN|\bat .*\.(ts|js):\d+/);
}

function isReady(a: any): boolean {
  return a?.status?.observedGeneration === a?.metadata?.generation && a?.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");
}

describe("a store outage under a running berth serve", function () {
  this.timeout(180_000);
  const logs: winston.LogEntry[] = [];
  let pg: TestPostgres;
  let berth: TestBerth;
  let outage = false;

  before(async function () {
    await requireDocker(this);
    await ensureBusyboxImage();
    pg = await startSystemPostgres();
    berth = await startTestBerth({ databaseUrl: pg.url, controllers: true, resyncMs: 3000, logger: recordingLogger(logs) });
    expect((await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} })).status).to.equal(201);
    expect((await call(berth, "POST", APPS, app("before"))).status).to.equal(201);
  });

  after(async () => {
    if (outage) pg.up!(); // a failed assertion mid-outage must not leave Postgres stopped
    await berth?.cleanup();
    await pg?.stop();
    await cleanupProject(P).catch(() => undefined);
  });

  it("answers 503 with Retry-After for 30 s of outage, ends open watches, then writes within 2 s and converges", async () => {
    const watch = await openWatch(berth, `${APPS}?watch=true`);
    const sqlError = await berth.dataSource.query("SELECT no_such_column FROM pg_class").catch((e: unknown) => e);
    expect(isStoreUnavailable(sqlError), "a wrong query is not an outage").to.equal(false);
    const inFlight = berth.dataSource.query("SELECT pg_sleep(60)").catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));

    const downAt = Date.now();
    pg.down!();
    outage = true;
    const watchEndedMs = (await withTimeout(watch.ended, 5000, "the open watch to end")) - downAt;
    expect(isStoreUnavailable(await inFlight), "a query cut off by the shutdown (57P01)").to.equal(true);
    expect(isStoreUnavailable(await berth.dataSource.query("SELECT 1").catch((e: unknown) => e)), "a query while down (ECONNREFUSED)").to.equal(true);

    let rounds = 0;
    while (Date.now() - downAt < OUTAGE_MS) {
      for (const [what, r] of await storeRequests(berth, rounds)) expectRetryable503(what, r);
      expect((await call(berth, "GET", "/readyz")).status, "/readyz").to.equal(503);
      rounds++;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const warnings = logs.filter((l) => l.level === "warn" && /store unavailable/.test(String(l.message)));
    expect(warnings, "one warning per outage, not per request").to.have.length(1);
    expect(logs.filter((l) => l.message === "request failed"), "no request logged as an internal error").to.deep.equal([]);

    const startAt = Date.now();
    pg.up!();
    outage = false;
    const upAt = Date.now();
    const meanwhile: string[] = [];
    const created = await waitFor("a write after the outage", async () => {
      const r = await call(berth, "POST", APPS, app("after"));
      if (r.status !== 201) meanwhile.push(`${r.status} ${r.text}`);
      return r.status === 201 ? Date.now() : undefined;
    }, 5000, 50);
    expect(meanwhile.filter((m) => !m.startsWith("503 ")), "only 503s before the first write succeeds").to.deep.equal([]);
    const recoveryMs = created - upAt;
    // The change feed reconnects every 500 ms, so readiness may trail the first write a little.
    const readyMs = (await waitFor("/readyz 200", async () => (await call(berth, "GET", "/readyz")).status === 200 && Date.now(), 2000, 50)) - upAt;
    console.log(`      outage ${upAt - downAt} ms (${rounds} rounds of 5 store requests, all 503); open watch ended ${watchEndedMs} ms after down; ` +
      `pg_ctl start ${upAt - startAt} ms; after Postgres was back: first write ${recoveryMs} ms, /readyz 200 ${readyMs} ms`);
    expect(watchEndedMs).to.be.below(5000);
    expect(recoveryMs, "a write succeeds within 2 s of Postgres returning").to.be.below(2000);
    expect(readyMs, "/readyz is 200 within 2 s of Postgres returning").to.be.below(2000);

    const ready = await waitFor("the new Application Ready", async () => {
      const a = (await call(berth, "GET", `${APPS}/after`)).body;
      return isReady(a) ? a : undefined;
    }, 90_000, 250);
    console.log(`      Application "after" Ready (generation ${ready.metadata.generation}) ${Date.now() - upAt} ms after Postgres was back`);
    expect(logs.some((l) => l.message === "store available again"), "the end of the outage is logged").to.equal(true);
  });
});

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

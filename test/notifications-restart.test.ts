/**
 * The outbox is durable (issue 20, ADR 0021): `berth serve` runs as a child process, a
 * notification it could not deliver yet (the receiver answers 503) is pending when the process
 * is killed with SIGKILL; after a restart on the same store it is delivered — exactly once — and
 * the one delivered before the kill is not sent again.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { call, removeDir, spawnServe, tempDir, type ServeProcess } from "./helpers/berth.js";
import { requireDocker, waitFor } from "./helpers/docker.js";
import { startSystemPostgres, type TestPostgres } from "./helpers/postgres.js";

const G = "/apis/berth.dev/v1alpha1";
const P = `restart-${process.pid}`;

interface Hit {
  path: string;
  id: string;
  code: number;
}

describe("Notifications survive kill -9 of berth serve", function () {
  this.timeout(180_000);
  let pg: TestPostgres;
  let dataDir: string;
  let server: http.Server;
  let base: string;
  const hits: Hit[] = [];
  let flakyCode = 503;
  const servers: ServeProcess[] = [];
  const env = { BERTH_SECRET_KEY: randomBytes(32).toString("hex"), BERTH_NOTIFICATION_BACKOFF_MS: "3000", BERTH_RESYNC_SECONDS: "60" };

  const get = async (s: ServeProcess, name: string): Promise<any> => (await call(s, "GET", `${G}/namespaces/${P}/notifications/${name}`)).body;

  before(async function () {
    await requireDocker(this);
    pg = await startSystemPostgres();
    dataDir = tempDir("berth-notify-restart-");
    server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const code = req.url === "/flaky" ? flakyCode : 200;
        hits.push({ path: req.url ?? "", id: String(req.headers["idempotency-key"]), code });
        res.writeHead(code).end(code === 200 ? "ok" : "try later");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const s of servers) await s.stop("SIGKILL").catch(() => undefined);
    await new Promise((r) => server?.close(r));
    await pg?.stop();
    removeDir(dataDir ?? "");
  });

  it("a pending delivery at SIGKILL is delivered after restart exactly once; a delivered one is not sent again", async () => {
    const first = await spawnServe({ dataDir, databaseUrl: pg.url, env });
    servers.push(first);
    const objects = [
      { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} },
      ...["flaky", "ok"].map((name) => ({ apiVersion: "berth.dev/v1alpha1", kind: "Notification", metadata: { name, namespace: P }, spec: { channel: { webhook: { url: `${base}/${name}` } }, events: ["SyncFailed"] } })),
    ];
    const applied = await call(first, "POST", "/berth/v1/apply", { items: objects });
    expect(applied.status, applied.text).to.equal(200);
    const dir = path.join(dataDir, "broken-source");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "bad.yaml"), "apiVersion: berth.dev/v1alpha1\nkind: Nonsense\nmetadata: {name: x}\n");
    const sync = await call(first, "POST", `${G}/syncs`, { apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name: `broken-${process.pid}` }, spec: { source: { directory: { path: dir } }, targetProjects: [P] } });
    expect(sync.status, sync.text).to.equal(201);

    // The failed attempt is recorded (status reports it only after the row's claim is released).
    await waitFor("one failed attempt of flaky, ok delivered", async () => (await get(first, "flaky"))?.status?.failures >= 1 && (await get(first, "ok"))?.status?.delivered === 1, 30_000, 50);
    const pendingId = hits.find((h) => h.path === "/flaky")!.id;
    await first.stop("SIGKILL");
    const attemptsBefore = hits.filter((h) => h.path === "/flaky").length;
    flakyCode = 200;

    const second = await spawnServe({ dataDir, databaseUrl: pg.url, env });
    servers.push(second);
    const t0 = Date.now();
    const n = await waitFor("flaky delivered after the restart", async () => ((await get(second, "flaky"))?.status?.delivered === 1 ? get(second, "flaky") : undefined), 60_000, 100);
    console.log(`      delivered ${Date.now() - t0} ms after the restart (${attemptsBefore} refused attempt(s) before the kill)`);
    // Long enough for any duplicate: past the next backoff step and a resync of the Sync.
    await new Promise((r) => setTimeout(r, 7000));
    const flaky = hits.filter((h) => h.path === "/flaky");
    expect(flaky.filter((h) => h.code === 200), JSON.stringify(flaky)).to.have.length(1);
    expect(new Set(flaky.map((h) => h.id))).to.deep.equal(new Set([pendingId]));
    expect(hits.filter((h) => h.path === "/ok"), JSON.stringify(hits)).to.have.length(1);
    expect(n.status).to.include({ delivered: 1, pending: 0 });
    expect((await get(second, "ok")).status).to.include({ delivered: 1, pending: 0, failures: 0 });
    await second.stop();
  });
});

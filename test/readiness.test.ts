import { expect } from "chai";
import { call, startTestBerth } from "./helpers/berth.js";
import { waitFor } from "./helpers/docker.js";
import { startSystemPostgres, type TestPostgres } from "./helpers/postgres.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;

describe("readiness follows the database", function () {
  this.timeout(120_000);
  let pg: TestPostgres;
  let berth: TestBerth;

  before(async () => {
    pg = await startSystemPostgres();
    berth = await startTestBerth({ databaseUrl: pg.url });
  });

  after(async () => {
    await berth?.cleanup();
    await pg?.stop();
  });

  it("answers /readyz 503 while Postgres is down and 200 again once it is back, without a restart", async () => {
    expect((await call(berth, "GET", "/readyz")).status).to.equal(200);
    pg.down!();
    try {
      await waitFor("/readyz 503", async () => (await call(berth, "GET", "/readyz")).status === 503, 10_000, 100);
      expect((await call(berth, "GET", "/healthz")).status, "the process itself is alive").to.equal(200);
      // An outage of a few seconds: longer than one reconnect attempt.
      await new Promise((r) => setTimeout(r, 2500));
      expect((await call(berth, "GET", "/readyz")).status).to.equal(503);
    } finally {
      pg.up!();
    }
    await waitFor("/readyz 200", async () => (await call(berth, "GET", "/readyz")).status === 200, 20_000, 100);
    const r = await call(berth, "POST", "/apis/berth.dev/v1alpha1/projects", { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "after-outage" }, spec: {} });
    expect(r.status, r.text).to.equal(201);
  });
});

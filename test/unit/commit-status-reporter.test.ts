import { expect } from "chai";
import nock from "nock";
import winston from "winston";
import { CommitStatusReporter, REPORT_ATTEMPTS } from "../../src/controller/commit-status-reporter.js";

const SHA = "89abcdef0123456789abcdef0123456789abcdef";
const TARGET = { provider: "github" as const, apiUrl: "https://api.github.com", repository: "acme/api", token: "ghp_unit", context: "berth/shop/api" };
const logger = winston.createLogger({ silent: true });

describe("commit status reporter (GitHub's API through nock)", () => {
  afterEach(() => nock.cleanAll());

  it("sends the exact request; a provider outage is retried with backoff and shown until it is accepted", async () => {
    const changes: string[] = [];
    const r = new CommitStatusReporter({ logger, onChange: (k) => changes.push(k), baseDelayMs: 20 });
    const api = nock("https://api.github.com", { reqheaders: { authorization: "Bearer ghp_unit", accept: "application/vnd.github+json" } })
      .post(`/repos/acme/api/statuses/${SHA}`, { state: "success", context: "berth/shop/api", description: "2 replica(s) ready" })
      .reply(503, "unavailable")
      .post(`/repos/acme/api/statuses/${SHA}`, { state: "success", context: "berth/shop/api", description: "2 replica(s) ready" })
      .reply(201, { id: 1 });
    r.report("uid-1", TARGET, { sha: SHA, state: "success", description: "2 replica(s) ready" });
    await waitUntil(() => r.state("uid-1")?.state === "retrying");
    const retrying = r.state("uid-1");
    expect(retrying).to.include({ state: "retrying", attempt: 1 });
    expect((retrying as { error: string }).error).to.match(/answered 503/).and.not.contain("ghp_unit");
    await waitUntil(() => r.state("uid-1")?.state === "reported");
    expect(api.isDone()).to.equal(true);
    expect(changes).to.deep.equal(["uid-1", "uid-1"]);
    // The same (sha, state) again sends nothing: no interceptor is left, and none is asked for.
    r.report("uid-1", TARGET, { sha: SHA, state: "success", description: "2 replica(s) ready" });
    await new Promise((res) => setTimeout(res, 50));
    expect(r.state("uid-1")?.state).to.equal("reported");
    await r.stop();
  });

  it(`gives up after ${REPORT_ATTEMPTS} attempts and says so; never blocks the caller`, async () => {
    const r = new CommitStatusReporter({ logger, onChange: () => undefined, baseDelayMs: 1 });
    nock("https://api.github.com").post(`/repos/acme/api/statuses/${SHA}`).times(REPORT_ATTEMPTS).replyWithError("connect ECONNREFUSED");
    const t0 = Date.now();
    r.report("uid-2", TARGET, { sha: SHA, state: "pending", description: "building" });
    expect(Date.now() - t0).to.be.lessThan(50);
    await waitUntil(() => r.state("uid-2")?.state === "gave-up", 5000);
    expect((r.state("uid-2") as { error: string }).error).to.match(/did not answer/);
    await r.stop();
  });
});

async function waitUntil(ok: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * POST /hooks/sync/NAME (issue 15) on an in-process Berth (API only, no Docker): a delivery
 * signed the way GitHub, GitLab or Gitea sign it with the Sync's spec.webhook.secret writes
 * `berth.dev/reconcile-requested-at` and is answered 202; anything else is the same 401 and
 * writes nothing. Also: the Sync's secret fields never appear in plain text in the API's output
 * or in the database.
 */
import { expect } from "chai";
import { createHmac, randomBytes } from "node:crypto";
import { call, startTestBerth } from "./helpers/berth.js";

const G = "/apis/berth.dev/v1alpha1";
const ANNOTATION = "berth.dev/reconcile-requested-at";
const HOOK = "whs-" + randomBytes(12).toString("hex");
const TOKEN = "ghp_" + randomBytes(12).toString("hex");
const PUSH = JSON.stringify({ ref: "refs/heads/main", after: "0123456789abcdef0123456789abcdef01234567", repository: { full_name: "platform/infra" } });
const hmac = (body: string, secret = HOOK): string => createHmac("sha256", secret).update(body).digest("hex");

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
import { deliver } from "./helpers/webhook.js";


function sync(name: string, webhook?: { secret: string }): Record<string, unknown> {
  return { apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name }, spec: { source: { git: { url: "https://git.example.com/platform/infra.git", branch: "main", auth: { token: TOKEN } } }, ...(webhook ? { webhook } : {}) } };
}

describe("POST /hooks/sync/NAME: a signed delivery requests a reconcile", function () {
  this.timeout(60_000);
  let berth: TestBerth;
  const annotation = async (name: string): Promise<string | undefined> => (await call(berth, "GET", `${G}/syncs/${name}`)).body.metadata?.annotations?.[ANNOTATION];
  const rv = async (name: string): Promise<string> => (await call(berth, "GET", `${G}/syncs/${name}`)).body.metadata.resourceVersion;

  before(async () => {
    berth = await startTestBerth();
    for (const s of [sync("infra", { secret: HOOK }), sync("nohook")]) expect((await call(berth, "POST", `${G}/syncs`, s)).status).to.equal(201);
  });

  after(async () => {
    await berth?.cleanup();
  });

  it("never shows the token or the webhook secret in plain text: GET, list, watch, the write's answer, the database", async () => {
    const created = await call(berth, "POST", `${G}/syncs`, sync("shown", { secret: HOOK }));
    expect(created.status).to.equal(201);
    const got = await call(berth, "GET", `${G}/syncs/shown`);
    const list = await call(berth, "GET", `${G}/syncs`);
    const watch = await call(berth, "GET", `${G}/syncs?watch=true&resourceVersion=0&timeoutSeconds=1`);
    for (const [what, r] of [["create", created], ["get", got], ["list", list], ["watch", watch]] as const) {
      expect(r.text, what).to.not.contain(TOKEN).and.not.contain(HOOK);
      expect(r.text, what).to.match(/sealed:v1:/);
    }
    expect(got.body.spec.webhook.secret).to.match(/^sealed:v1:[A-Za-z0-9_-]+$/);
    expect(got.body.spec.source.git.auth.token).to.match(/^sealed:v1:[A-Za-z0-9_-]+$/);
    // apply → get → apply: the read object sent back is a no-op.
    const again = await call(berth, "PUT", `${G}/syncs/shown`, got.body);
    expect(again.status).to.equal(200);
    expect(again.body.metadata.resourceVersion).to.equal(got.body.metadata.resourceVersion);
    const rows = JSON.stringify(await berth.dataSource.query(`SELECT row_to_json(s)::text AS r FROM syncs s UNION ALL SELECT object::text FROM resource_changes UNION ALL SELECT details::text FROM audit_logs`));
    expect(rows).to.not.contain(TOKEN).and.not.contain(HOOK);
  });

  it("a write the schema rejects does not repeat a secret value in its error (a number where a string belongs)", async () => {
    const bad = { apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name: "bad" }, spec: { source: { git: { url: "u", auth: { token: 987654321 } } }, webhook: { secret: 123456789 } } };
    const r = await call(berth, "POST", `${G}/syncs`, bad);
    expect(r.status).to.equal(422);
    expect(r.body.details.causes.map((c: any) => c.field).sort()).to.deep.equal(["spec.source.git.auth.token", "spec.webhook.secret"]);
    expect(r.text).to.contain("must be of type string").and.not.contain("987654321").and.not.contain("123456789");
    const app = { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "web", namespace: "default" }, spec: { source: { image: "x" }, secretEnv: { PIN: 55555555 } } };
    const a = await call(berth, "POST", `${G}/namespaces/default/applications`, app);
    expect(a.status).to.equal(422);
    expect(a.text).to.contain("spec.secretEnv.PIN").and.not.contain("55555555");
  });

  it("GitHub: X-Hub-Signature-256 of the body → 202, and the annotation is set within 1 s", async () => {
    const before = await rv("infra");
    const sent = Date.now();
    const r = await deliver(berth, "infra", PUSH, { "X-GitHub-Event": "push", "X-Hub-Signature-256": `sha256=${hmac(PUSH)}` });
    expect(r.status, r.text).to.equal(202);
    expect(r.body).to.include({ sync: "infra", provider: "github" });
    let at: string | undefined;
    while (!at && Date.now() - sent < 1000) at = await annotation("infra");
    expect(at, "annotation within 1 s").to.be.a("string");
    expect(at).to.equal(r.body.reconcileRequestedAt);
    expect(Date.parse(at!)).to.be.closeTo(Date.now(), 5_000);
    expect(await rv("infra")).to.not.equal(before);
  });

  it("GitLab (X-Gitlab-Token) and Gitea (X-Gitea-Signature) → 202 and a new annotation", async () => {
    for (const [provider, headers] of [
      ["gitlab", { "X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": HOOK }],
      ["gitea", { "X-Gitea-Event": "push", "X-Gitea-Signature": hmac(PUSH) }],
    ] as const) {
      const previous = await annotation("infra");
      await new Promise((r) => setTimeout(r, 5)); // a new millisecond, so the new time differs
      const r = await deliver(berth, "infra", PUSH, headers);
      expect(r.status, `${provider}: ${r.text}`).to.equal(202);
      expect(r.body.provider).to.equal(provider);
      const now = await annotation("infra");
      expect(now, provider).to.equal(r.body.reconcileRequestedAt).and.not.equal(previous);
    }
  });

  it("a forged, missing or foreign signature, an unknown Sync and a Sync without a secret all get the same 401 and write nothing", async () => {
    const before = { infra: await rv("infra"), nohook: await rv("nohook"), changes: await berth.store.currentResourceVersion() };
    const attempts: [string, string, Record<string, string>][] = [
      ["GitHub, another secret", "infra", { "X-Hub-Signature-256": `sha256=${hmac(PUSH, "guess")}` }],
      ["GitHub, another body", "infra", { "X-Hub-Signature-256": `sha256=${hmac(PUSH + " ")}` }],
      ["GitHub, short", "infra", { "X-Hub-Signature-256": `sha256=${hmac(PUSH).slice(0, 40)}` }],
      ["GitLab, wrong token", "infra", { "X-Gitlab-Token": "guess" }],
      ["Gitea, another secret", "infra", { "X-Gitea-Signature": hmac(PUSH, "guess") }],
      ["no signature", "infra", {}],
      ["the API token instead", "infra", { Authorization: `Bearer ${berth.token}` }],
      ["unknown Sync", "absent", { "X-Hub-Signature-256": `sha256=${hmac(PUSH)}` }],
      ["Sync without webhook.secret", "nohook", { "X-Hub-Signature-256": `sha256=${hmac(PUSH)}` }],
      ["Sync without webhook.secret, empty token", "nohook", { "X-Gitlab-Token": "" }],
    ];
    const bodies = new Set<string>();
    for (const [what, name, headers] of attempts) {
      const r = await deliver(berth, name, PUSH, headers);
      expect(r.status, what).to.equal(401);
      expect(r.body).to.include({ kind: "Status", reason: "Unauthorized" });
      expect(r.text, what).to.not.contain(HOOK);
      bodies.add(r.text);
    }
    expect([...bodies], "one answer for every failure").to.have.length(1);
    expect(await rv("infra")).to.equal(before.infra);
    expect(await rv("nohook")).to.equal(before.nohook);
    expect(await annotation("nohook")).to.equal(undefined);
    expect(await berth.store.currentResourceVersion(), "nothing written").to.equal(before.changes);
  });

  it("takes only POST, and refuses a body over the limit with 413 before looking at it", async () => {
    expect((await deliver(berth, "infra", "", {}, "GET")).status).to.equal(405);
    const big = JSON.stringify({ pad: "x".repeat(1024 * 1024) });
    const r = await deliver(berth, "infra", big, { "X-Hub-Signature-256": `sha256=${hmac(big)}` });
    expect(r.status).to.equal(413);
  });

  it("the rest of the API still wants the bearer token", async () => {
    expect((await call(berth, "GET", `${G}/syncs`, undefined, { token: null })).status).to.equal(401);
    expect((await call(berth, "POST", "/hooks/other/infra", PUSH, { token: null })).status).to.equal(401);
  });
});

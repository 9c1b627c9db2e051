/**
 * Issue 17, audit per person: every audit row names its user (the control loop as
 * system:berth-controller), deployments.triggered_by is the user whose write made the generation
 * rolled out, GET /berth/v1/audit filters and pages (admins only), `berth audit` prints it, no
 * secret reaches a row, and the retention job deletes rows older than a year.
 */
import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import winston from "winston";
import { RetentionJob } from "../src/controller/retention.js";
import { CONTROLLER } from "../src/reconcilers/shared/object-reconciler.js";
import { call, runBerth, startTestBerth } from "./helpers/berth.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const PASSWORD = "Audit-tra1l-pass";
const SECRET = "sup3r-secret-env-value";

const project = (name: string, team?: string) => ({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name }, spec: team ? { team } : {} });
const app = (ns: string, name: string, extra: Record<string, unknown> = {}) => ({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace: ns }, spec: { source: { image: "busybox:1" }, replicas: 1, ...extra } });

describe("audit per person: who did what, filters, pages, retention", function () {
  this.timeout(120_000);
  let berth: TestBerth;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const as = (who: string, method: string, p: string, body?: unknown, contentType?: string) => call(berth, method, p, body, { token: tokens[who], ...(contentType ? { contentType } : {}) });
  const audit = async (query: string) => {
    const r = await call(berth, "GET", `/berth/v1/audit${query}`);
    expect(r.status, r.text).to.equal(200);
    return r.body;
  };

  before(async () => {
    berth = await startTestBerth();
    for (const username of ["alice", "bob", "dave"]) {
      const u = await call(berth, "POST", "/berth/v1/users", { username, email: `${username}@example.test`, password: PASSWORD, role: "developer" });
      expect(u.status, u.text).to.equal(201);
      ids[username] = u.body.metadata.uid;
      const t = await call(berth, "POST", "/berth/v1/tokens", { user: username, name: "audit-test" });
      expect(t.status, t.text).to.equal(201);
      tokens[username] = t.body.token;
    }
    expect((await call(berth, "POST", "/berth/v1/teams", { name: "team-audit", owner: "alice" })).status).to.equal(201);
    expect((await call(berth, "POST", "/berth/v1/teams/team-audit/members", { user: "bob", role: "member" })).status).to.equal(200);
    expect((await call(berth, "POST", `${G}/projects`, project("pa", "team-audit"))).status).to.equal(201);
    expect((await call(berth, "POST", `${G}/projects`, project("pz"))).status).to.equal(201);
    // alice creates, bob changes the spec, the control loop writes status.
    const c = await as("alice", "POST", `${G}/namespaces/pa/applications`, app("pa", "web", { secretEnv: { API_KEY: SECRET } }));
    expect(c.status, c.text).to.equal(201);
    const p = await as("bob", "PATCH", `${G}/namespaces/pa/applications/web`, { spec: { replicas: 2 } }, "application/merge-patch+json");
    expect(p.status, p.text).to.equal(200);
    await berth.store.update({ kind: "Application", namespace: "pa", name: "web" }, CONTROLLER, "update-status", (cur) => ({ ...cur!, status: { ...(cur!.status ?? {}), phase: "Running" } }));
    expect((await call(berth, "POST", `${G}/namespaces/pz/applications`, app("pz", "other"))).status).to.equal(201);
  });
  after(async () => berth?.cleanup());

  it("each row names its person: user_id and the username for API writes, NULL and system:berth-controller for the control loop", async () => {
    const rows = (await audit("?project=pa&limit=1000")).items.filter((r: any) => r.name === "web");
    const by = (action: string) => rows.filter((r: any) => r.action === action);
    expect(by("create").map((r: any) => [r.user, r.userId])).to.deep.equal([["alice", ids.alice]]);
    expect(by("patch").map((r: any) => [r.user, r.userId])).to.deep.equal([["bob", ids.bob]]);
    expect(by("update-status").map((r: any) => [r.user, r.userId])).to.deep.equal([["system:berth-controller", null]]);
    expect(by("create")[0].details.actor).to.equal("alice");
    expect(by("create")[0].namespace).to.equal("pa");
    // The table itself, not only the endpoint's view of it.
    const stored = await berth.dataSource.query(
      `SELECT a.action, a.user_id, a.details->>'actor' AS actor FROM audit_logs a WHERE a.resource_type = 'application' AND a.details->>'name' = 'web' ORDER BY a.id`,
    );
    expect(stored.map((r: any) => [r.action, r.user_id, r.actor])).to.deep.equal([["create", ids.alice, "alice"], ["patch", ids.bob, "bob"], ["update-status", null, "system:berth-controller"]]);
    // The installation token's writes are its super_admin's.
    const admin = (await audit("?project=pz&action=create")).items.find((r: any) => r.name === "other");
    expect(admin.user).to.equal("admin");
    expect(admin.userId).to.equal(berth.stores.adminUserId());
  });

  it("deployments.triggered_by is the user whose write made the generation rolled out, not the controller's status write", async () => {
    const web = (await berth.store.getStored("Application", "pa", "web"))!;
    expect(web.metadata.generation).to.equal(2);
    const id = await berth.stores.revisions.ensure(web, "hash-gen-2", 2);
    const [row] = await berth.dataSource.query(`SELECT triggered_by FROM deployments WHERE id = $1`, [id]);
    expect(row.triggered_by, "bob's patch made generation 2").to.equal(ids.bob);
    const first = await berth.stores.revisions.ensure(web, "hash-gen-1", 1);
    const [row1] = await berth.dataSource.query(`SELECT triggered_by FROM deployments WHERE id = $1`, [first]);
    expect(row1.triggered_by, "alice's create made generation 1").to.equal(ids.alice);
    await berth.store.update({ kind: "Application", namespace: "pa", name: "web" }, CONTROLLER, "sync", (cur) => ({ ...cur!, spec: { ...cur!.spec, replicas: 3 } }));
    const synced = await berth.stores.revisions.ensure((await berth.store.getStored("Application", "pa", "web"))!, "hash-gen-3", 3);
    const [row3] = await berth.dataSource.query(`SELECT triggered_by FROM deployments WHERE id = $1`, [synced]);
    expect(row3.triggered_by, "a change by the control loop (a Sync) names no user").to.equal(null);
  });

  it("filters by user, project, action and since (a duration or RFC 3339)", async () => {
    const alice = (await audit("?user=alice")).items;
    expect(alice.length).to.be.greaterThan(0);
    expect(alice.every((r: any) => r.user === "alice")).to.equal(true);
    const controller = (await audit("?user=system:berth-controller")).items;
    expect(controller.map((r: any) => r.action)).to.include("update-status");
    expect(controller.every((r: any) => r.userId === null)).to.equal(true);
    const pz = (await audit("?project=pz")).items;
    expect(pz.map((r: any) => `${r.resourceType}/${r.name}`).sort()).to.deep.equal(["application/other", "project/pz"]);
    expect((await audit("?action=patch&project=pa")).items.map((r: any) => r.user)).to.deep.equal(["bob"]);
    expect((await audit("?since=1h")).items.length).to.be.greaterThan(5);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await audit(`?since=${encodeURIComponent(future)}`)).items).to.deep.equal([]);
    expect((await audit("?user=nobody")).items).to.deep.equal([]);
    // Newest first.
    const all = (await audit("?limit=1000")).items;
    const times = all.map((r: any) => r.time);
    expect([...times].sort().reverse()).to.deep.equal(times);
  });

  it("pages on (created_at, id): every row exactly once, also rows that share a timestamp", async () => {
    // Ten rows of one instant (now() is fixed within a statement): the keyset must tell them apart by id.
    await berth.dataSource.query(`INSERT INTO audit_logs (action, resource_type, details, created_at) SELECT 'same-instant', 'event', jsonb_build_object('actor', 'system:test', 'n', g), now() - interval '10 days' FROM generate_series(1, 10) g`);
    const all = (await audit("?limit=1000")).items;
    const seen: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const page = await audit(`?limit=3${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`);
      expect(page.items.length).to.be.at.most(3);
      seen.push(...page.items.map((r: any) => r.id));
      cont = page.metadata.continue;
      pages++;
    } while (cont);
    expect(seen).to.deep.equal(all.map((r: any) => r.id));
    expect(new Set(seen).size).to.equal(seen.length);
    expect(pages).to.be.greaterThan(3);
    const same = await audit("?action=same-instant&limit=4");
    const rest = await audit(`?action=same-instant&limit=100&continue=${encodeURIComponent(same.metadata.continue)}`);
    expect(same.items.length + rest.items.length).to.equal(10);
    expect(rest.metadata.continue).to.equal(undefined);
  });

  it("bad input is a 400: a continue token it never gave, a since that is no time, a limit out of range", async () => {
    for (const q of ["?continue=garbage", `?continue=${Buffer.from('["x","1"]').toString("base64url")}`, `?continue=${Buffer.from('["2025-99-99T99:99:99.000000Z","1"]').toString("base64url")}`, "?since=yesterday", "?since=2025-13-45T99:00:00Z", "?limit=0", "?limit=-1", "?limit=abc", `?user=${"x".repeat(300)}`]) {
      const r = await call(berth, "GET", `/berth/v1/audit${q}`);
      expect(r.status, `${q}: ${r.text}`).to.equal(400);
      expect(r.body.kind).to.equal("Status");
    }
    expect((await call(berth, "POST", "/berth/v1/audit", {})).status).to.equal(405);
  });

  it("a developer, even one who wrote rows, gets 403 on /berth/v1/audit", async () => {
    for (const who of ["alice", "dave"]) {
      const r = await as(who, "GET", "/berth/v1/audit?user=" + who);
      expect(r.status, r.text).to.equal(403);
      expect(r.body.message).to.contain(`user "${who}"`).and.contain("audit");
    }
  });

  it("people changes are audited by who made them, and no password, token or hash is in any row", async () => {
    const people = (await audit("?user=admin&limit=1000")).items;
    expect(people.some((r: any) => r.action === "create" && r.resourceType === "user" && r.name === "bob")).to.equal(true);
    expect(people.some((r: any) => r.action === "create-token" && r.name === "alice")).to.equal(true);
    expect(people.some((r: any) => r.action === "set-member" && r.name === "team-audit")).to.equal(true);
    const login = await call(berth, "POST", "/berth/v1/login", { username: "dave", password: PASSWORD }, { token: "" });
    expect(login.status, login.text).to.equal(201);
    const self = await as("dave", "POST", "/berth/v1/tokens", { name: "own" });
    expect(self.status).to.equal(201);
    expect((await as("dave", "DELETE", "/berth/v1/tokens/own")).status).to.equal(200);
    const dave = (await audit("?user=dave")).items.map((r: any) => r.action);
    expect(dave).to.include.members(["login", "create-token", "revoke-token"]);
    const raw = JSON.stringify(await berth.dataSource.query(`SELECT * FROM audit_logs`)) + JSON.stringify(await audit("?limit=1000"));
    const hashes: { token_hash: string; password_hash: string }[] = await berth.dataSource.query(`SELECT t.token_hash, u.password_hash FROM api_tokens t JOIN users u ON u.id = t.user_id`);
    for (const secret of [PASSWORD, SECRET, berth.token, login.body.token, self.body.token, ...Object.values(tokens), ...hashes.flatMap((h) => [h.token_hash, h.password_hash])]) {
      expect(raw, "a secret in the audit log").to.not.contain(secret);
    }
    expect(raw).to.not.match(/\$2[aby]\$\d\d\$/);
  });

  it("berth audit prints TIME USER ACTION RESOURCE PROJECT with the filters; a developer's kubeconfig is refused", async () => {
    const r = await runBerth(["audit", "--user", "bob", "--project", "pa", "--since", "1h"], { kubeconfig: berth.kubeconfigPath });
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0].split(/\s+/)).to.deep.equal(["TIME", "USER", "ACTION", "RESOURCE", "PROJECT"]);
    expect(lines.slice(1).some((l) => /^\S+Z\s+bob\s+patch\s+application\/web\s+pa$/.test(l)), r.stdout).to.equal(true);
    const two = await runBerth(["audit", "--limit", "2"], { kubeconfig: berth.kubeconfigPath });
    expect(two.stdout.trim().split("\n")).to.have.length(3);
    const kc = JSON.parse(readFileSync(berth.kubeconfigPath, "utf8"));
    kc.users[0].user = { token: tokens.dave };
    const cfg = path.join(berth.dataDir, "dave.kubeconfig");
    writeFileSync(cfg, JSON.stringify(kc));
    const denied = await runBerth(["audit"], { kubeconfig: cfg });
    expect(denied.code).to.not.equal(0);
    expect(denied.stderr).to.match(/Forbidden/).and.contain("user \"dave\"");
  });

  it("retention: the job deletes audit rows older than a year and keeps the rest", async () => {
    await berth.dataSource.query(
      `INSERT INTO audit_logs (action, resource_type, details, created_at) VALUES
         ('ancient', 'event', '{"actor":"system:test"}', now() - interval '400 days'),
         ('just-over', 'event', '{"actor":"system:test"}', now() - interval '366 days'),
         ('within', 'event', '{"actor":"system:test"}', now() - interval '364 days')`,
    );
    const before = Number((await berth.dataSource.query(`SELECT count(*) AS n FROM audit_logs`))[0].n);
    const job = new RetentionJob(berth.stores, { logDays: 30, deploymentDays: 90, keepPerApplication: 10, auditDays: 365 }, winston.createLogger({ silent: true }));
    const removed = await job.runOnce();
    expect(removed.audit).to.equal(2);
    const left = (await berth.dataSource.query(`SELECT action FROM audit_logs WHERE action IN ('ancient', 'just-over', 'within')`)).map((r: any) => r.action);
    expect(left).to.deep.equal(["within"]);
    expect(Number((await berth.dataSource.query(`SELECT count(*) AS n FROM audit_logs`))[0].n)).to.equal(before - 2);
  });
});

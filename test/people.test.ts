/**
 * Issue 17: people and permissions on every request. Users of each role and team role, API
 * tokens, and what each may get, list, watch, write and batch-apply — against an API-only
 * Berth over HTTPS, and the real kubectl for the lists a developer runs.
 */
import { expect } from "chai";
import { missingPrerequisite } from "./helpers/prerequisites.js";
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { Writable } from "node:stream";
import winston from "winston";
import { call, startTestBerth } from "./helpers/berth.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const PASSWORD = "Corr3ct-horse";

const project = (name: string, team?: string) => ({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name }, spec: team ? { team } : {} });
const app = (ns: string, name: string) => ({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace: ns }, spec: { source: { image: "busybox:1" }, replicas: 1 } });

/** ms until `request` answers `status` (polled every 20 ms, at most 5 s). */
async function waitStatus(request: () => Promise<{ status: number }>, status: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if ((await request()).status === status) return Date.now() - t0;
    if (Date.now() - t0 > 5000) return Infinity;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("people and permissions: roles, teams, tokens, and one choke point", function () {
  this.timeout(120_000);
  let berth: TestBerth;
  const tokens: Record<string, string> = {};
  const as = (who: string, method: string, p: string, body?: unknown, contentType?: string) => call(berth, method, p, body, { token: tokens[who], ...(contentType ? { contentType } : {}) });

  const logs: string[] = [];
  before(async () => {
    const sink = new Writable({ write: (chunk: Buffer, _enc, done): void => (logs.push(chunk.toString()), done()) });
    berth = await startTestBerth({ logger: winston.createLogger({ level: "debug", format: winston.format.json(), transports: [new winston.transports.Stream({ stream: sink })] }) });
    const admin = (method: string, p: string, body?: unknown) => call(berth, method, p, body);
    for (const [username, role] of [["dev-a", "developer"], ["dev-b", "developer"], ["view-a", "viewer"], ["dev-v", "developer"]] as const) {
      const r = await admin("POST", "/berth/v1/users", { username, email: `${username}@example.test`, password: PASSWORD, role });
      expect(r.status, r.text).to.equal(201);
      const t = await admin("POST", "/berth/v1/tokens", { user: username, name: "test" });
      expect(t.status, t.text).to.equal(201);
      tokens[username] = t.body.token;
    }
    expect((await admin("POST", "/berth/v1/teams", { name: "team-a", owner: "dev-a" })).status).to.equal(201);
    expect((await admin("POST", "/berth/v1/teams", { name: "team-b", owner: "dev-b" })).status).to.equal(201);
    expect((await admin("POST", "/berth/v1/teams/team-a/members", { user: "view-a", role: "member" })).status).to.equal(200);
    // dev-v is in team-a with the team role viewer: read-only there, though a developer.
    expect((await admin("POST", "/berth/v1/teams/team-a/members", { user: "dev-v", role: "viewer" })).status).to.equal(200);
    for (const [p, team] of [["pa", "team-a"], ["pb", "team-b"]]) {
      expect((await admin("POST", `${G}/projects`, project(p, team))).status).to.equal(201);
      for (const n of ["one", "two", "three"]) expect((await admin("POST", `${G}/namespaces/${p}/applications`, app(p, n))).status).to.equal(201);
    }
  });
  after(async () => berth?.cleanup());

  it("a developer of team A lists only team A's objects, also across Projects, by label selector and in pages; remainingItemCount counts only those", async () => {
    const all = await as("dev-a", "GET", `${G}/applications`);
    expect(all.status, all.text).to.equal(200);
    expect(all.body.items.map((o: any) => o.metadata.namespace)).to.deep.equal(["pa", "pa", "pa"]);
    const page = await as("dev-a", "GET", `${G}/applications?limit=1`);
    expect(page.body.metadata.remainingItemCount, "the other team's objects are not counted").to.equal(2);
    let next = page.body.metadata.continue;
    const seen = [...page.body.items];
    while (next) {
      const r = await as("dev-a", "GET", `${G}/applications?limit=1&continue=${encodeURIComponent(next)}`);
      seen.push(...r.body.items);
      next = r.body.metadata.continue;
    }
    expect(seen.every((o: any) => o.metadata.namespace === "pa")).to.equal(true);
    expect((await as("dev-a", "GET", `${G}/applications?labelSelector=x!%3Dy`)).body.items).to.have.length(3);
    expect((await as("dev-a", "GET", `${G}/projects`)).body.items.map((o: any) => o.metadata.name)).to.deep.equal(["pa"]);
    expect((await as("dev-a", "GET", "/api/v1/namespaces")).body.items.map((o: any) => o.metadata.name)).to.deep.equal(["pa"]);
  });

  it("team B's Project is 403 for get, list in it, write, delete and events; the Status names user, verb, resource and Project", async () => {
    const get = await as("dev-a", "GET", `${G}/namespaces/pb/applications/one`);
    expect(get.status).to.equal(403);
    expect(get.body).to.include({ kind: "Status", reason: "Forbidden" });
    expect(get.body.message).to.contain('user "dev-a"').and.contain("get").and.contain("applications").and.contain('Project "pb"');
    expect((await as("dev-a", "GET", `${G}/namespaces/pb/applications`)).status).to.equal(403);
    expect((await as("dev-a", "POST", `${G}/namespaces/pb/applications`, app("pb", "mine"))).status).to.equal(403);
    expect((await as("dev-a", "DELETE", `${G}/namespaces/pb/applications/one`)).status).to.equal(403);
    expect((await as("dev-a", "GET", "/api/v1/namespaces/pb/events")).status).to.equal(403);
    expect((await as("dev-a", "GET", `${G}/projects/pb`)).status).to.equal(403);
    expect((await call(berth, "GET", `${G}/namespaces/pb/applications/one`)).status, "nothing was deleted").to.equal(200);
  });

  it("the batch apply is decided per object: one item in team B's Project refuses the whole batch, nothing stored", async () => {
    const items = [app("pa", "batch-ok"), app("pb", "batch-bad")];
    const r = await as("dev-a", "POST", "/berth/v1/apply", { items });
    expect(r.status).to.equal(403);
    expect(r.body.message).to.contain('Project "pb"');
    expect((await call(berth, "GET", `${G}/namespaces/pa/applications/batch-ok`)).status, "all or nothing").to.equal(404);
    const ok = await as("dev-a", "POST", "/berth/v1/apply", { items: [app("pa", "batch-ok")] });
    expect(ok.status, ok.text).to.equal(200);
  });

  it("team role viewer and platform role viewer read but never write; a developer creates a Project it then owns and alone may delete", async () => {
    expect((await as("dev-v", "GET", `${G}/namespaces/pa/applications/one`)).status).to.equal(200);
    const w = await as("dev-v", "PATCH", `${G}/namespaces/pa/applications/one`, { spec: { replicas: 2 } }, "application/merge-patch+json");
    expect(w.status).to.equal(403);
    expect(w.body.message).to.contain("team role is viewer");
    expect((await as("view-a", "GET", `${G}/namespaces/pa/applications/one`)).status).to.equal(200);
    expect((await as("view-a", "POST", `${G}/namespaces/pa/applications`, app("pa", "nope"))).status).to.equal(403);
    expect((await as("dev-b", "POST", `${G}/projects`, project("pc"))).status).to.equal(201);
    expect((await as("dev-b", "POST", `${G}/namespaces/pc/applications`, app("pc", "own"))).status).to.equal(201);
    expect((await as("dev-a", "GET", `${G}/projects/pc`)).status).to.equal(403);
    expect((await as("dev-a", "DELETE", `${G}/projects/pa`)).status, "a team member is no owner").to.equal(403);
  });

  it("a watch delivers only visible Projects' changes, and stops delivering a Project once the membership is gone", async () => {
    const events: any[] = [];
    const req = https.request(new URL(`${G}/applications?watch=true`, berth.url), { ca: berth.caPem, headers: { Authorization: `Bearer ${tokens["view-a"]}` } }, (res) => {
      let buf = "";
      res.on("data", (c: Buffer) => {
        buf += c.toString();
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          events.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
      });
    });
    req.end();
    try {
      await new Promise((r) => setTimeout(r, 500));
      expect(events.map((e) => e.object.metadata.namespace).every((ns) => ns === "pa"), "initial ADDED only of pa").to.equal(true);
      await call(berth, "POST", `${G}/namespaces/pb/applications`, app("pb", "hidden"));
      await call(berth, "POST", `${G}/namespaces/pa/applications`, app("pa", "seen"));
      await new Promise((r) => setTimeout(r, 500));
      const names = events.map((e) => e.object.metadata.name);
      expect(names).to.include("seen").and.not.include("hidden");
      expect((await call(berth, "DELETE", "/berth/v1/teams/team-a/members/view-a")).status).to.equal(200);
      await new Promise((r) => setTimeout(r, 1500));
      await call(berth, "POST", `${G}/namespaces/pa/applications`, app("pa", "after-removal"));
      await new Promise((r) => setTimeout(r, 500));
      expect(events.map((e) => e.object.metadata.name)).to.not.include("after-removal");
      expect((await as("view-a", "GET", `${G}/namespaces/pa/applications/one`)).status).to.equal(403);
    } finally {
      req.destroy();
    }
  });

  it("Syncs, users, teams and endpoints nobody classified are the admins'; tokens are everyone's own", async () => {
    expect((await as("dev-a", "GET", `${G}/syncs`)).status).to.equal(403);
    expect((await as("dev-a", "POST", "/berth/v1/users", { username: "evil", email: "e@x.test", role: "super_admin" })).status).to.equal(403);
    expect((await as("dev-a", "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {})).status).to.equal(403);
    expect((await as("dev-a", "GET", "/berth/v1/nothing-here")).status, "an unknown path is closed to non-admins").to.equal(403);
    const mine = await as("dev-a", "GET", "/berth/v1/tokens");
    expect(mine.status).to.equal(200);
    expect(mine.body.items.map((t: any) => t.name)).to.deep.equal(["test"]);
    expect(JSON.stringify(mine.body)).to.not.contain(tokens["dev-a"]);
    expect((await as("dev-a", "GET", "/berth/v1/tokens?user=dev-b")).status, "another user's tokens are the admins'").to.equal(403);
    expect((await as("dev-a", "DELETE", "/berth/v1/tokens/test?user=dev-b")).status).to.equal(403);
    expect((await call(berth, "GET", "/berth/v1/tokens?user=dev-b")).body.items.map((t: any) => t.name)).to.include("test");
    expect((await as("dev-a", "POST", "/berth/v1/tokens", { user: "dev-b", name: "steal" })).status).to.equal(403);
  });

  it("a revoked token is 401 at once; an expired one too; login with a password gives a token, a wrong one 401", async () => {
    const t = await as("dev-b", "POST", "/berth/v1/tokens", { name: "short" });
    expect(t.status, t.text).to.equal(201);
    const short = t.body.token;
    expect((await call(berth, "GET", `${G}/projects`, undefined, { token: short })).status).to.equal(200);
    expect((await as("dev-b", "DELETE", "/berth/v1/tokens/short")).status).to.equal(200);
    expect((await call(berth, "GET", `${G}/projects`, undefined, { token: short })).status).to.equal(401);
    const login = await call(berth, "POST", "/berth/v1/login", { username: "dev-b", password: PASSWORD }, { token: "" });
    expect(login.status, login.text).to.equal(201);
    expect((await call(berth, "GET", `${G}/projects`, undefined, { token: login.body.token })).body.items.map((p: any) => p.metadata.name)).to.deep.equal(["pb", "pc"]);
    const wrong = await call(berth, "POST", "/berth/v1/login", { username: "dev-b", password: "Wr0ng-password" }, { token: "" });
    expect(wrong.status).to.equal(401);
    const nobody = await call(berth, "POST", "/berth/v1/login", { username: "nobody", password: PASSWORD }, { token: "" });
    expect(nobody.status).to.equal(401);
    expect(nobody.text).to.equal(wrong.text);
  });

  it("a revocation or a removed membership made elsewhere (another server, psql) counts on the next request: the caches hear the store", async () => {
    // Warm both caches (token lookup, Project scope), then change the rows behind this server's back.
    const t = await as("dev-b", "POST", "/berth/v1/tokens", { name: "elsewhere" });
    expect(t.status, t.text).to.equal(201);
    const other = t.body.token;
    for (let i = 0; i < 3; i++) expect((await call(berth, "GET", `${G}/namespaces/pb/applications`, undefined, { token: other })).status).to.equal(200);
    await berth.dataSource.query(`UPDATE api_tokens SET revoked_at = now() WHERE name = 'elsewhere'`);
    const t0 = Date.now();
    const revoked = await waitStatus(() => call(berth, "GET", `${G}/namespaces/pb/applications`, undefined, { token: other }), 401);
    expect(revoked, "revoked by SQL: 401 within 300 ms (the cache lives 60 s)").to.be.below(300);

    expect((await as("dev-b", "GET", `${G}/namespaces/pb/applications/one`)).status).to.equal(200);
    await berth.dataSource.query(`DELETE FROM team_members m USING teams t, users u WHERE m.team_id = t.id AND m.user_id = u.id AND t.name = 'team-b' AND u.username = 'dev-b'`);
    const removed = await waitStatus(() => as("dev-b", "GET", `${G}/namespaces/pb/applications/one`), 403);
    expect(removed, "membership removed by SQL: 403 within 300 ms").to.be.below(300);
    await berth.dataSource.query(`INSERT INTO team_members (user_id, team_id, role) SELECT u.id, t.id, 'owner' FROM users u, teams t WHERE u.username = 'dev-b' AND t.name = 'team-b'`);
    const back = await waitStatus(() => as("dev-b", "GET", `${G}/namespaces/pb/applications/one`), 200);
    expect(back, "and back").to.be.below(300);
    expect(Date.now() - t0).to.be.below(5000);
  });

  it("bad input: a weak password, a duplicate username or email, a bad username → 422 naming the field, nothing stored; the last owner stays", async () => {
    const weak = await call(berth, "POST", "/berth/v1/users", { username: "weak", email: "weak@example.test", password: "password", role: "viewer" });
    expect(weak.status).to.equal(422);
    expect(JSON.stringify(weak.body.details?.causes)).to.contain("password");
    const dupUser = await call(berth, "POST", "/berth/v1/users", { username: "dev-a", email: "other@example.test", password: PASSWORD });
    expect(dupUser.status).to.equal(422);
    expect(dupUser.body.details.causes[0].field).to.equal("username");
    const dupMail = await call(berth, "POST", "/berth/v1/users", { username: "other", email: "dev-a@example.test", password: PASSWORD });
    expect(dupMail.body.details.causes[0].field).to.equal("email");
    for (const username of ["ＡＤＭＩＮ", "a", "x".repeat(300), "'; DROP TABLE users; --", "Admin"]) {
      const r = await call(berth, "POST", "/berth/v1/users", { username, email: `u${Math.random()}@example.test`, password: PASSWORD });
      expect(r.status, `${username}: ${r.text}`).to.be.within(400, 422);
    }
    expect((await call(berth, "POST", "/berth/v1/users", { username: 7, email: [], password: {} })).status).to.equal(422);
    const users = (await call(berth, "GET", "/berth/v1/users")).body.items.map((u: any) => u.metadata.name);
    expect(users).to.not.include("weak").and.not.include("other");
    expect(JSON.stringify(await call(berth, "GET", "/berth/v1/users"))).to.not.match(/\$2[aby]\$/);
    expect((await call(berth, "POST", "/berth/v1/teams/team-b/members", { user: "view-a", role: "member" })).status).to.equal(200);
    const last = await call(berth, "DELETE", "/berth/v1/teams/team-b/members/dev-b");
    expect(last.status, last.text).to.equal(409);
    expect(last.body.message).to.contain("at least one owner");
  });

  it("kubectl with a developer's token: get -A shows only its team's objects, get in another team's Project is Forbidden", async function () {
    if (spawnSync("sh", ["-c", "command -v kubectl"]).status !== 0) missingPrerequisite(this, "kubectl not installed");
    const cfg = path.join(berth.dataDir, "dev-a.kubeconfig");
    // Never spawnSync here: the server answering kubectl runs in this very process.
    const kubectl = (args: string[]) => promisify(execFile)("kubectl", args, { encoding: "utf8" }).then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => e);
    const kc = JSON.parse((await kubectl(["--kubeconfig", berth.kubeconfigPath, "config", "view", "--raw", "-o", "json"])).stdout);
    kc.users[0].user = { token: tokens["dev-a"] };
    writeFileSync(cfg, JSON.stringify(kc));
    const list = await kubectl(["--kubeconfig", cfg, "get", "applications.berth.dev", "-A", "-o", "jsonpath={.items[*].metadata.namespace}"]);
    expect(list.code, list.stderr).to.equal(0);
    const namespaces = list.stdout.trim().split(" ");
    expect(namespaces.length).to.equal((await call(berth, "GET", `${G}/namespaces/pa/applications`)).body.items.length);
    expect([...new Set(namespaces)]).to.deep.equal(["pa"]);
    const denied = await kubectl(["--kubeconfig", cfg, "get", "applications.berth.dev", "-n", "pb"]);
    expect(denied.code).to.not.equal(0);
    expect(denied.stderr).to.contain("Forbidden").and.contain('user "dev-a"');
  });

  it("no token, password or password hash in the logs, the audit rows or any answer of this run", async () => {
    const audit = JSON.stringify(await berth.dataSource.query("SELECT * FROM audit_logs"));
    const answers = JSON.stringify([await call(berth, "GET", "/berth/v1/users"), await call(berth, "GET", "/berth/v1/teams"), await as("dev-a", "GET", "/berth/v1/tokens")]);
    const hashes = (await berth.dataSource.query("SELECT password_hash FROM users WHERE password_hash LIKE '$2%'")).map((r: { password_hash: string }) => r.password_hash);
    expect(hashes.length, "bcrypt hashes are stored").to.be.greaterThan(3);
    for (const [where, text] of [["logs", logs.join("")], ["audit rows", audit], ["answers", answers]] as const) {
      for (const secret of [...Object.values(tokens), berth.token, PASSWORD, ...hashes]) expect(text.includes(secret), `${where} hold a secret`).to.equal(false);
    }
    expect(logs.length, "the logger heard the run").to.be.greaterThan(0);
  });
});

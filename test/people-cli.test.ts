/**
 * Issue 17, the CLI: `berth create user`, `login`, `token create|list|revoke`, `kubeconfig
 * --user`, `team …` and `get users|teams`, run as the real `berth` against an API-only Berth.
 * A password only ever travels on stdin: never in an argv, never in what the CLI prints.
 */
import { expect } from "chai";
import { copyFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { call, removeDir, runBerth, startTestBerth, tempDir, type RunResult } from "./helpers/berth.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const PASSWORD = "Sec0nd-Horse-battery";
const WRONG = "Wr0ng-Horse-battery";

describe("people CLI: users, login, tokens, kubeconfigs and teams through `berth`", function () {
  this.timeout(180_000);
  let berth: TestBerth;
  let dir: string;
  let admin: string;
  let alice: string;
  const runs: { args: string[]; result: RunResult }[] = [];

  /** The real CLI; every argv and every output is kept for the last test's search for the password. */
  async function berthCli(args: string[], opts: { kubeconfig?: string; stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    const result = await runBerth(args, opts);
    runs.push({ args: [...args, ...(opts.kubeconfig ? [opts.kubeconfig] : [])], result });
    return result;
  }
  const ok = (r: RunResult): RunResult => (expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0), r);
  const kubeconfigOf = (file: string): any => JSON.parse(readFileSync(file, "utf8"));
  const projectsOf = (r: RunResult): string[] => ok(r).stdout.trim().split("\n").slice(1).map((l) => l.split(/\s+/)[0]);

  before(async () => {
    berth = await startTestBerth();
    dir = tempDir("berth-people-cli-");
    admin = berth.kubeconfigPath;
    alice = path.join(dir, "alice.kubeconfig");
  });
  after(async () => {
    await berth?.cleanup();
    if (dir) removeDir(dir);
  });

  it("an admin creates users (the password from stdin) and lists them: NAME EMAIL ROLE", async () => {
    const r = ok(await berthCli(["create", "user", "alice", "--email", "alice@example.test", "--role", "developer", "--password-stdin"], { kubeconfig: admin, stdin: `${PASSWORD}\n` }));
    expect(r.stdout.trim()).to.equal("user.berth.dev/alice created (developer)");
    const bob = ok(await berthCli(["create", "user", "bob", "--email", "bob@example.test", "--role", "developer"], { kubeconfig: admin }));
    expect(bob.stderr).to.contain("No password").and.contain("berth kubeconfig --user bob");
    const weak = await berthCli(["create", "user", "weak", "--email", "weak@example.test", "--password-stdin"], { kubeconfig: admin, stdin: "password\n" });
    expect(weak.code).to.equal(1);
    expect(weak.stderr).to.match(/^Error from server \(Invalid\): .*password/);
    const users = ok(await berthCli(["get", "users"], { kubeconfig: admin })).stdout.trim().split("\n");
    expect(users[0].split(/\s+/)).to.deep.equal(["NAME", "EMAIL", "ROLE"]);
    expect(users.map((l) => l.split(/\s+/))).to.deep.include.members([["alice", "alice@example.test", "developer"], ["bob", "bob@example.test", "developer"]]);
    expect(users.join("\n")).to.not.contain("weak");
  });

  it("teams: create, add a member, get teams; the last owner cannot be removed; remove a member", async () => {
    expect(ok(await berthCli(["team", "create", "team-a", "--owner", "alice"], { kubeconfig: admin })).stdout).to.contain("team.berth.dev/team-a created");
    ok(await berthCli(["team", "add-member", "team-a", "bob"], { kubeconfig: admin }));
    const teams = ok(await berthCli(["get", "teams"], { kubeconfig: admin })).stdout.trim().split("\n");
    expect(teams[0].split(/\s+/)).to.deep.equal(["NAME", "MEMBERS"]);
    expect(teams[1].split(/\s+/)).to.deep.equal(["team-a", "alice(owner),bob(member)"]);
    const last = await berthCli(["team", "remove-member", "team-a", "alice"], { kubeconfig: admin });
    expect(last.code).to.equal(1);
    expect(last.stderr.trim()).to.equal("Error from server (Conflict): team team-a must keep at least one owner");
    expect(ok(await berthCli(["team", "remove-member", "team-a", "bob"], { kubeconfig: admin })).stdout.trim()).to.equal("bob removed from team team-a");
    const after = ok(await berthCli(["get", "teams", "team-a", "-o", "json"], { kubeconfig: admin }));
    expect(JSON.parse(after.stdout).items[0].members).to.deep.equal([{ username: "alice", role: "owner" }]);
    const unknown = await berthCli(["team", "add-member", "team-a", "nobody"], { kubeconfig: admin });
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.contain('Error from server (NotFound): users.berth.dev "nobody" not found');
  });

  it("login --password-stdin writes a context for the user into a copy of the kubeconfig; get projects shows only the user's", async () => {
    for (const [name, team] of [["pa", "team-a"], ["pb", undefined]] as const) {
      const r = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name }, spec: team ? { team } : {} });
      expect(r.status, r.text).to.equal(201);
    }
    copyFileSync(admin, alice);
    const before = kubeconfigOf(alice);
    const r = ok(await berthCli(["login", "--username", "alice", "--password-stdin"], { kubeconfig: alice, stdin: `${PASSWORD}\n` }));
    expect(r.stdout.trim()).to.equal('Logged in as alice (developer). Context "alice@berth" is current.');
    const kc = kubeconfigOf(alice);
    expect(kc["current-context"]).to.equal("alice@berth");
    expect(kc.clusters, "the cluster entry (server and CA) is kept").to.deep.equal(before.clusters);
    expect(kc.contexts).to.deep.include({ name: "alice@berth", context: { cluster: "berth", user: "alice@berth" } });
    expect(kc.users.find((u: any) => u.name === "alice@berth").user.token).to.match(/^bth_/);
    expect(kc.users.find((u: any) => u.name === "berth-admin"), "other entries stay").to.deep.equal(before.users[0]);
    expect(statSync(alice).mode & 0o777).to.equal(0o600);
    expect(projectsOf(await berthCli(["get", "projects"], { kubeconfig: alice }))).to.deep.equal(["pa"]);
    expect(projectsOf(await berthCli(["get", "projects"], { kubeconfig: admin })).sort()).to.deep.equal(["pa", "pb"]);
    const denied = await berthCli(["get", "users"], { kubeconfig: alice });
    expect(denied.code).to.equal(1);
    expect(denied.stderr).to.match(/^Error from server \(Forbidden\): user "alice" \(developer\) cannot list users/);
  });

  it("login with a wrong password exits 1 with a clear message and writes nothing; KUBECONFIG and --context are honoured", async () => {
    const cfg = path.join(dir, "wrong.kubeconfig");
    copyFileSync(admin, cfg);
    const before = readFileSync(cfg, "utf8");
    const r = await berthCli(["login", "--username", "alice"], { env: { KUBECONFIG: cfg }, stdin: `${WRONG}\n` });
    expect(r.code).to.equal(1);
    expect(r.stderr.trim()).to.equal(`error: login as "alice" failed: wrong username or password (Error from server (Unauthorized): Unauthorized); ${cfg} is unchanged`);
    expect(r.stdout).to.equal("");
    expect(readFileSync(cfg, "utf8"), "no token written").to.equal(before);
    const good = ok(await berthCli(["login", "--username", "alice", "--context", "mine"], { env: { KUBECONFIG: cfg }, stdin: PASSWORD }));
    expect(good.stdout.trim()).to.equal('Logged in as alice (developer). Context "mine" is current.');
    expect(kubeconfigOf(cfg)["current-context"]).to.equal("mine");
    expect(projectsOf(await berthCli(["get", "projects"], { env: { KUBECONFIG: cfg } }))).to.deep.equal(["pa"]);
  });

  it("token create prints the token once; list shows it without the token; a revoked token is 401 at the next command", async () => {
    const created = ok(await berthCli(["token", "create", "ci", "--expires-in-days", "7"], { kubeconfig: alice }));
    const token = created.stdout.trim();
    expect(token).to.match(/^bth_[A-Za-z0-9_-]{20,}$/);
    expect(created.stderr).to.contain('Token "ci"').and.contain("not shown again");
    const list = ok(await berthCli(["token", "list"], { kubeconfig: alice })).stdout.trim().split("\n");
    expect(list[0].split(/\s+/)).to.deep.equal(["NAME", "PREFIX", "CREATED", "EXPIRES", "LAST-USED", "REVOKED"]);
    const ci = list.find((l) => l.startsWith("ci "))!.split(/\s+/);
    expect(ci[1]).to.equal(token.slice(0, 12));
    expect(ci.slice(-4)).to.deep.equal(["in", "6d", "never", "-"]);
    expect(list.some((l) => /^login-/.test(l)), "the login's token is listed too").to.equal(true);
    expect(list.join("\n")).to.not.contain(token);

    const ciCfg = path.join(dir, "ci.kubeconfig");
    const kc = kubeconfigOf(alice);
    kc.users.find((u: any) => u.name === "alice@berth").user.token = token;
    writeFileSync(ciCfg, JSON.stringify(kc), { mode: 0o600 });
    expect(projectsOf(await berthCli(["get", "projects"], { kubeconfig: ciCfg }))).to.deep.equal(["pa"]);
    expect(ok(await berthCli(["token", "revoke", "ci"], { kubeconfig: alice })).stdout.trim()).to.equal(`token "ci" (prefix ${token.slice(0, 12)}) revoked`);
    const revoked = await berthCli(["get", "projects"], { kubeconfig: ciCfg });
    expect(revoked.code).to.equal(1);
    expect(revoked.stderr).to.contain("Error from server (Unauthorized): Unauthorized").and.contain("berth login");
    const again = ok(await berthCli(["token", "list"], { kubeconfig: alice })).stdout.split("\n").find((l) => l.startsWith("ci "))!;
    expect(again.trim().split(/\s+/).at(-1)).to.not.equal("-");
    const missing = await berthCli(["token", "revoke", "no-such-token"], { kubeconfig: alice });
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain("Error from server (NotFound)");
  });

  it("berth kubeconfig --user: an admin issues a kubeconfig (0600 file, or stdout) that works as that user; a developer may not", async () => {
    const file = path.join(dir, "bob.kubeconfig");
    const r = ok(await berthCli(["kubeconfig", "--user", "bob", "-o", file, "--name", "handed", "--expires-in-days", "30"], { kubeconfig: admin }));
    expect(r.stdout).to.equal("");
    expect(r.stderr).to.contain(`Wrote ${file} (mode 0600) for user bob`);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    const kc = kubeconfigOf(file);
    expect(kc["current-context"]).to.equal("bob@berth");
    expect(kc.clusters).to.deep.equal(kubeconfigOf(admin).clusters);
    expect(kc.users).to.have.length(1);
    // bob is in no team and owns nothing: no Project is visible, and the command still works.
    const none = ok(await berthCli(["get", "projects"], { kubeconfig: file }));
    expect(none.stdout).to.equal("");
    ok(await berthCli(["team", "add-member", "team-a", "bob", "--role", "viewer"], { kubeconfig: admin }));
    // A list is filtered by a scope cached for up to 1 s (src/api/scope-cache.ts); a grant shows after that.
    await new Promise((r) => setTimeout(r, 1100));
    expect(projectsOf(await berthCli(["get", "projects"], { kubeconfig: file }))).to.deep.equal(["pa"]);
    // GET /berth/v1/tokens answers the caller's own tokens whatever ?user= says (the server reads no query there): ask the store.
    const tokens = await berth.dataSource.query(`SELECT t.name, t.expires_at > now() + interval '29 days' AS "in30" FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.username = 'bob'`);
    expect(tokens).to.deep.equal([{ name: "handed", in30: true }]);

    const out = ok(await berthCli(["kubeconfig", "--user", "alice"], { kubeconfig: admin }));
    expect(JSON.parse(out.stdout).users[0].user.token).to.match(/^bth_/);
    const denied = await berthCli(["kubeconfig", "--user", "bob", "-o", path.join(dir, "steal.kubeconfig")], { kubeconfig: alice });
    expect(denied.code).to.equal(1);
    expect(denied.stderr).to.match(/^Error from server \(Forbidden\): user "alice" \(developer\) cannot manage tokens of user "bob"/);
  });

  it("usage errors exit 2; the password is in no argv, stdout or stderr of this run", async () => {
    expect((await berthCli(["login"], { kubeconfig: alice })).code).to.equal(2);
    expect((await berthCli(["token", "create", "x", "--expires-in-days", "soon"], { kubeconfig: alice })).code).to.equal(2);
    const empty = await berthCli(["login", "--username", "alice", "--password-stdin"], { kubeconfig: alice, stdin: "" });
    expect(empty.code).to.equal(2);
    expect(empty.stderr).to.contain("no password given");
    expect(runs.length).to.be.greaterThan(25);
    for (const { args, result } of runs) {
      for (const secret of [PASSWORD, WRONG]) {
        expect(args.join(" "), "argv").to.not.contain(secret);
        expect(result.stdout + result.stderr, `output of berth ${args.join(" ")}`).to.not.contain(secret);
      }
    }
  });
});

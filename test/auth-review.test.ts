/**
 * Issue 17: `kubectl auth whoami`, `kubectl auth can-i` (with --list) and `kubectl --as`, with
 * the real kubectl against an API-only Berth, per platform role and team role. Every "yes" and
 * "no" of can-i is checked against the request itself: what can-i says is what the API does.
 */
import { expect } from "chai";
import { missingPrerequisite } from "./helpers/prerequisites.js";
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { call, startTestBerth } from "./helpers/berth.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const PASSWORD = "Corr3ct-horse";
const app = (ns: string, name: string) => ({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace: ns }, spec: { source: { image: "busybox:1" }, replicas: 1 } });

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// Never spawnSync kubectl: the server answering it runs in this very process.
const kubectl = (args: string[]): Promise<Run> => promisify(execFile)("kubectl", args, { encoding: "utf8" }).then((r) => ({ code: 0, ...r }), (e: Run) => e);

/**
 * The users, by what they are to Project pa (made by the installation's super_admin, team
 * team-a) and po (made by dev-own, no team). "root" is the installation token (super_admin).
 */
const USERS = {
  adm: { role: "admin", team: undefined },
  "dev-own": { role: "developer", team: undefined },
  "dev-mem": { role: "developer", team: "member" },
  "dev-tv": { role: "developer", team: "viewer" },
  "dev-out": { role: "developer", team: undefined },
  viewer: { role: "viewer", team: "member" },
} as const;
type Who = keyof typeof USERS | "root";

/** Who may write (create, delete …) applications in each Project, and who may read them. */
const WRITES: Record<string, Who[]> = { pa: ["root", "adm", "dev-mem"], po: ["root", "adm", "dev-own"] };
const READS: Record<string, Who[]> = { pa: ["root", "adm", "dev-mem", "dev-tv", "viewer"], po: ["root", "adm", "dev-own"] };

describe("kubectl auth whoami, can-i, can-i --list and --as, per role and team role", function () {
  this.timeout(180_000);
  let berth: TestBerth;
  const tokens: Partial<Record<Who, string>> = {};
  const configs: Partial<Record<Who, string>> = {};
  const as = (who: Who, method: string, p: string, body?: unknown) => call(berth, method, p, body, { token: tokens[who] });
  const k = (who: Who, ...args: string[]) => kubectl(["--kubeconfig", configs[who]!, ...args]);

  before(async function () {
    if (spawnSync("sh", ["-c", "command -v kubectl"]).status !== 0) missingPrerequisite(this, "kubectl not installed");
    berth = await startTestBerth();
    tokens.root = berth.token;
    const admin = (method: string, p: string, body?: unknown) => call(berth, method, p, body);
    for (const [username, { role }] of Object.entries(USERS)) {
      const r = await admin("POST", "/berth/v1/users", { username, email: `${username}@example.test`, password: PASSWORD, role });
      expect(r.status, r.text).to.equal(201);
      const t = await admin("POST", "/berth/v1/tokens", { user: username, name: "test" });
      expect(t.status, t.text).to.equal(201);
      tokens[username as Who] = t.body.token;
    }
    expect((await admin("POST", "/berth/v1/teams", { name: "team-a", owner: "adm" })).status).to.equal(201);
    for (const [username, { team }] of Object.entries(USERS)) {
      if (team) expect((await admin("POST", "/berth/v1/teams/team-a/members", { user: username, role: team })).status).to.equal(200);
    }
    expect((await admin("POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "pa" }, spec: { team: "team-a" } })).status).to.equal(201);
    const po = await as("dev-own", "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "po" }, spec: {} });
    expect(po.status, po.text).to.equal(201);
    for (const ns of ["pa", "po"]) expect((await admin("POST", `${G}/namespaces/${ns}/applications`, app(ns, "one"))).status).to.equal(201);
    const kc = JSON.parse((await kubectl(["--kubeconfig", berth.kubeconfigPath, "config", "view", "--raw", "-o", "json"])).stdout);
    for (const who of Object.keys(tokens) as Who[]) {
      kc.users[0].user = { token: tokens[who] };
      configs[who] = path.join(berth.dataDir, `${who}.kubeconfig`);
      writeFileSync(configs[who]!, JSON.stringify(kc));
    }
  });
  after(async () => berth?.cleanup());

  it("whoami shows each user's name, uid, role group and team group", async () => {
    const ids = Object.fromEntries(((await call(berth, "GET", "/berth/v1/users")).body.items as any[]).map((u) => [u.metadata.name, u.metadata.uid]));
    for (const who of Object.keys(USERS) as (keyof typeof USERS)[]) {
      const r = await k(who, "auth", "whoami", "-o", "json");
      expect(r.code, r.stderr).to.equal(0);
      const review = JSON.parse(r.stdout);
      expect(review.kind).to.equal("SelfSubjectReview");
      const info = review.status.userInfo;
      expect(info.username).to.equal(who);
      expect(info.uid).to.equal(ids[who]);
      expect(info.groups).to.include(`berth:role:${USERS[who].role}`).and.include("system:authenticated");
      const inTeam = USERS[who].team !== undefined || who === "adm";
      expect(info.groups.includes("berth:team:team-a"), `${who} in team-a`).to.equal(inTeam);
    }
    const root = await k("root", "auth", "whoami");
    expect(root.code, root.stderr).to.equal(0);
    expect(root.stdout).to.match(/Username\s+admin/).and.contain("berth:role:super_admin");
  });

  it("can-i VERB applications -n P says yes exactly where the request itself succeeds", async () => {
    const whos = Object.keys(tokens) as Who[];
    await Promise.all(
      whos.map(async (who) => {
        for (const ns of ["pa", "po"]) {
          const writes = WRITES[ns].includes(who);
          const reads = READS[ns].includes(who);
          for (const [verb, expected] of [["create", writes], ["delete", writes], ["patch", writes], ["get", reads], ["list", reads], ["watch", reads]] as const) {
            const r = await k(who, "auth", "can-i", verb, "applications", "-n", ns);
            expect(r.stdout.trim().split(" ")[0], `${who} can-i ${verb} applications -n ${ns}: ${r.stdout} ${r.stderr}`).to.equal(expected ? "yes" : "no");
            expect(r.code, `${who} ${verb} ${ns}: exit code`).to.equal(expected ? 0 : 1);
            if (!expected) expect(r.stdout, "the reason names the user").to.contain(`user "${who === "root" ? "admin" : who}"`);
          }
          // The requests themselves.
          const name = `by-${who}`;
          const created = await as(who, "POST", `${G}/namespaces/${ns}/applications`, app(ns, name));
          expect(created.status, `${who} creates in ${ns}: ${created.text}`).to.equal(writes ? 201 : 403);
          const got = await as(who, "GET", `${G}/namespaces/${ns}/applications/one`);
          expect(got.status, `${who} gets in ${ns}`).to.equal(reads ? 200 : 403);
          expect((await as(who, "GET", `${G}/namespaces/${ns}/applications`)).status, `${who} lists ${ns}`).to.equal(reads ? 200 : 403);
          if (writes) expect((await as(who, "DELETE", `${G}/namespaces/${ns}/applications/${name}`)).status, `${who} deletes in ${ns}`).to.equal(200);
          else expect((await as(who, "DELETE", `${G}/namespaces/${ns}/applications/one`)).status, `${who} deletes in ${ns}`).to.equal(403);
        }
      }),
    );
  });

  it("can-i on Projects, users and the batch of Berth endpoints: only the owner deletes its Project, only admins make users", async () => {
    const cases: [Who, string[], boolean][] = [
      ["dev-own", ["delete", "projects/po"], true],
      ["dev-mem", ["delete", "projects/pa"], false],
      ["dev-mem", ["update", "projects/pa"], true],
      ["dev-tv", ["update", "projects/pa"], false],
      ["dev-tv", ["get", "projects/pa"], true],
      ["dev-out", ["get", "projects/pa"], false],
      ["dev-out", ["create", "projects"], true],
      ["viewer", ["create", "projects"], false],
      ["adm", ["create", "users.berth.dev"], true],
      ["dev-own", ["create", "users.berth.dev"], false],
      ["dev-own", ["create", "tokens.berth.dev"], true],
      ["dev-mem", ["get", "credentials.berth.dev", "-n", "pa"], true],
      ["dev-tv", ["get", "credentials.berth.dev", "-n", "pa"], false],
      ["dev-tv", ["list", "events", "-n", "pa"], true],
      ["dev-out", ["list", "events", "-n", "pa"], false],
      ["dev-out", ["get", "/healthz"], true],
      ["root", ["impersonate", "users"], true],
      ["adm", ["impersonate", "users"], false],
      ["dev-mem", ["*", "applications", "-n", "pa"], true],
      ["dev-tv", ["*", "applications", "-n", "pa"], false],
      ["dev-tv", ["get", "applications/status", "-n", "pa"], true],
      ["dev-tv", ["patch", "applications/scale", "-n", "pa"], false],
      ["root", ["*", "*"], true],
      ["dev-mem", ["*", "*"], false],
    ];
    for (const [who, args, yes] of cases) {
      const r = await k(who, "auth", "can-i", ...args);
      expect(r.stdout.trim().split(" ")[0], `${who} can-i ${args.join(" ")}: ${r.stdout} ${r.stderr}`).to.equal(yes ? "yes" : "no");
    }
    // The Project verbs checked against the API: a team member patches pa, a team viewer does not.
    const patch = (who: Who) => call(berth, "PATCH", `${G}/projects/pa`, { metadata: { labels: { by: who } } }, { token: tokens[who], contentType: "application/merge-patch+json" });
    expect((await patch("dev-mem")).status).to.equal(200);
    expect((await patch("dev-tv")).status).to.equal(403);
    expect((await as("dev-own", "POST", "/berth/v1/users", { username: "nope", email: "nope@example.test", password: PASSWORD, role: "viewer" })).status).to.equal(403);
  });

  it("can-i --list -n pa lists what the role and team role allow there", async () => {
    const verbsOf = async (who: Who, ns: string, resource: string): Promise<string | undefined> => {
      const r = await k(who, "auth", "can-i", "--list", "-n", ns);
      expect(r.code, r.stderr).to.equal(0);
      const line = r.stdout.split("\n").find((l) => l.split(/\s+/)[0] === resource);
      return line?.match(/\[([^\]]*)\]\s*$/)?.[1];
    };
    const all = "get list watch create update patch delete deletecollection";
    expect(await verbsOf("root", "pa", "applications.berth.dev")).to.equal(all);
    expect(await verbsOf("adm", "pa", "applications.berth.dev")).to.equal(all);
    expect(await verbsOf("dev-mem", "pa", "applications.berth.dev")).to.equal(all);
    expect(await verbsOf("dev-own", "po", "applications.berth.dev")).to.equal(all);
    expect(await verbsOf("dev-tv", "pa", "applications.berth.dev")).to.equal("get list watch");
    expect(await verbsOf("viewer", "pa", "applications.berth.dev")).to.equal("get list watch");
    expect(await verbsOf("dev-out", "pa", "applications.berth.dev")).to.equal(undefined);
    expect(await verbsOf("dev-own", "pa", "applications.berth.dev")).to.equal(undefined);
    // Secrets need write access; users only for admins; impersonation only for the super_admin.
    expect(await verbsOf("dev-mem", "pa", "credentials.berth.dev")).to.equal("get");
    expect(await verbsOf("dev-tv", "pa", "credentials.berth.dev")).to.equal(undefined);
    expect(await verbsOf("adm", "pa", "users.berth.dev")).to.equal("list create");
    expect(await verbsOf("dev-mem", "pa", "users.berth.dev")).to.equal(undefined);
    expect(await verbsOf("root", "pa", "users")).to.equal("impersonate");
    expect(await verbsOf("adm", "pa", "users")).to.equal(undefined);
    const own = await k("dev-own", "auth", "can-i", "--list", "-n", "po");
    expect(own.stdout).to.match(/projects\.berth\.dev\s+\[\]\s+\[po\]\s+\[get update patch delete\]/);
    const member = await k("dev-mem", "auth", "can-i", "--list", "-n", "pa");
    expect(member.stdout).to.match(/projects\.berth\.dev\s+\[\]\s+\[pa\]\s+\[get update patch\]/);
    const tv = await k("dev-tv", "auth", "can-i", "--list", "-n", "pa");
    expect(tv.stdout).to.match(/projects\.berth\.dev\s+\[\]\s+\[pa\]\s+\[get\]/);
  });

  it("--as is refused unless the caller is super_admin; the installation token's --as is decided and audited as that user", async () => {
    for (const who of ["dev-mem", "adm", "viewer"] as Who[]) {
      const r = await k(who, "--as=dev-out", "get", "projects");
      expect(r.code, who).to.not.equal(0);
      expect(r.stderr).to.contain("Forbidden").and.contain("cannot impersonate");
      const w = await k(who, "--as=root", "auth", "whoami");
      expect(w.code, `${who} whoami --as`).to.not.equal(0);
    }
    const whoami = await k("root", "--as=dev-tv", "auth", "whoami");
    expect(whoami.code, whoami.stderr).to.equal(0);
    expect(whoami.stdout).to.match(/Username\s+dev-tv/).and.contain("berth:role:developer").and.contain("berth:team:team-a");
    const no = await k("root", "--as=dev-tv", "auth", "can-i", "create", "applications", "-n", "pa");
    expect(no.stdout.trim()).to.match(/^no/);
    expect(no.stdout).to.contain('user "dev-tv"');
    const manifest = path.join(berth.dataDir, "as.json");
    writeFileSync(manifest, JSON.stringify(app("pa", "by-as")));
    const refused = await k("root", "--as=dev-tv", "create", "-f", manifest);
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.contain("Forbidden").and.contain('user "dev-tv"');
    expect((await k("root", "--as=dev-out", "get", "projects", "-o", "name")).stdout.trim(), "a list is the impersonated user's").to.equal("");
    expect((await k("root", "--as=dev-own", "get", "projects", "-o", "name")).stdout.trim()).to.equal("project.berth.dev/po");
    const yes = await k("root", "--as=dev-mem", "--as-group=berth:team:team-a", "auth", "can-i", "create", "applications", "-n", "pa");
    expect(yes.stdout.trim()).to.equal("yes");
    const created = await k("root", "--as=dev-mem", "create", "-f", manifest);
    expect(created.code, created.stderr).to.equal(0);
    const rows = await berth.dataSource.query(`SELECT details FROM audit_logs WHERE action = 'create' AND details->>'name' = 'by-as'`);
    expect(rows.length, "the create is audited").to.be.greaterThan(0);
    expect(rows[0].details).to.include({ actor: "dev-mem", impersonator: "admin" });
    // Groups are not a way around the user's own role and teams; an unknown user is refused.
    const foreign = await k("root", "--as=dev-out", "--as-group=berth:team:team-a", "get", "projects");
    expect(foreign.code).to.not.equal(0);
    expect(foreign.stderr).to.contain("cannot impersonate group");
    const nobody = await k("root", "--as=nobody", "get", "projects");
    expect(nobody.stderr).to.contain('cannot impersonate user "nobody"');
  });

  it("the reviews also answer JSON (curl, client libraries), and a body without attributes is 422", async () => {
    const r = await as("dev-mem", "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", { kind: "SelfSubjectAccessReview", apiVersion: "authorization.k8s.io/v1", spec: { resourceAttributes: { verb: "create", group: "berth.dev", resource: "applications", namespace: "pa" } } });
    expect(r.status, r.text).to.equal(201);
    expect(r.body.status.allowed).to.equal(true);
    const denied = await as("dev-tv", "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", { spec: { resourceAttributes: { verb: "create", group: "berth.dev", resource: "applications", namespace: "pa" } } });
    expect(denied.body.status).to.include({ allowed: false, denied: true });
    expect(denied.body.status.reason).to.contain("team role is viewer");
    expect((await as("dev-tv", "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", { spec: {} })).status).to.equal(422);
    for (const group of ["constructor", "__proto__", "nope.example"]) {
      const odd = await as("dev-mem", "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", { spec: { resourceAttributes: { verb: "get", group, resource: "applications", namespace: "pa" } } });
      expect(odd.body.status.allowed, `group ${group}`).to.equal(false);
    }
    const path = await as("dev-mem", "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", { spec: { nonResourceAttributes: { verb: "constructor", path: "/apis/berth.dev/v1alpha1/namespaces/pa/applications" } } });
    expect(path.body.status.allowed).to.equal(false);
    expect((await as("dev-tv", "GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")).status).to.equal(405);
    const bad = await call(berth, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "k8s\u0000\u00ff\u00ff", { token: tokens["dev-tv"], contentType: "application/vnd.kubernetes.protobuf" });
    expect(bad.status).to.equal(400);
  });
});

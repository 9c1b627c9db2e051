/**
 * `berth export` (issue 15): live desired state back out as manifests, run as the real CLI
 * against an API-only Berth. The round trip is the contract: export, `berth apply -f DIR`,
 * then `berth diff -f DIR` exits 0, for the example stack and a generated 50-object stack, with
 * no secret in plain text anywhere in DIR.
 */
import { expect } from "chai";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { call, REPO, removeDir, runBerth, startTestBerth, tempDir } from "./helpers/berth.js";

const STACK = path.join(REPO, "examples", "stack.yaml");
const G = "/apis/berth.dev/v1alpha1";

/** Secret values of the generated stack: none may appear in an export. */
const secretOf = (p: number, a: number): string => `plain-secret-${p}-${a}-xyzzy`;

/** 5 Projects × (the Project, 2 Databases, 4 Applications, 3 Domains) = 50 objects, plus one Sync. */
function generatedStack(): string {
  const docs: string[] = [];
  for (let p = 0; p < 5; p++) {
    const ns = `gen-${p}`;
    docs.push(`apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: ${ns}, labels: {team: t${p}}}\nspec: {description: generated ${p}}`);
    docs.push(`apiVersion: berth.dev/v1alpha1\nkind: Database\nmetadata: {name: pg, namespace: ${ns}}\nspec: {engine: postgresql, version: "16", storage: {size: 1Gi}}`);
    docs.push(`apiVersion: berth.dev/v1alpha1\nkind: Database\nmetadata: {name: cache, namespace: ${ns}}\nspec: {engine: redis, version: "7", deletionPolicy: Delete}`);
    for (let a = 0; a < 4; a++) {
      docs.push(
        [
          "apiVersion: berth.dev/v1alpha1",
          "kind: Application",
          `metadata: {name: app-${a}, namespace: ${ns}, labels: {idx: "${a}"}, annotations: {owner: "team-${p}", berth.dev/prune: disabled}}`,
          "spec:",
          '  source: {image: "berth-test/busybox:1"}',
          `  replicas: ${1 + (a % 3)}`,
          '  command: ["httpd", "-f", "-p", "8080"]',
          `  env: {INDEX: "${a}"}`,
          `  secretEnv: {TOKEN: "${secretOf(p, a)}", OTHER: "${secretOf(p, a)}-2"}`,
          "  envFrom: [{databaseRef: pg}]",
          a % 2 ? "  ports: [{containerPort: 8080, protocol: tcp}]" : "  ports: [{containerPort: 8080}]",
          a === 3 ? "  strategy: {type: Recreate}" : "  strategy: {type: RollingUpdate}",
        ].join("\n"),
      );
    }
    for (let d = 0; d < 3; d++) {
      docs.push(`apiVersion: berth.dev/v1alpha1\nkind: Domain\nmetadata: {name: dom-${d}, namespace: ${ns}}\nspec:\n  host: d${d}.p${p}.example.com\n  target: {application: app-${d}, port: 8080}\n  tls: {enabled: ${d !== 1}, issuer: internal}`);
    }
  }
  docs.push('apiVersion: berth.dev/v1alpha1\nkind: Sync\nmetadata: {name: infra}\nspec:\n  source: {git: {url: "file:///srv/infra.git", branch: main, path: clusters/prod}}\n  interval: 2m');
  return docs.join("\n---\n") + "\n";
}

/** Every document of every YAML file under dir. */
function exportedDocs(dir: string): any[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .flatMap((f) => YAML.parseAllDocuments(readFileSync(path.join(dir, f), "utf8")).map((d) => d.toJS()));
}

function allText(dir: string): string {
  return readdirSync(dir).map((f) => readFileSync(path.join(dir, f), "utf8")).join("\n");
}

describe("berth export: live state back to manifests that round-trip", function () {
  this.timeout(180_000);
  let berth: Awaited<ReturnType<typeof startTestBerth>>;
  let work: string;
  const cli = (args: string[]) => runBerth(args, { kubeconfig: berth.kubeconfigPath });

  before(async () => {
    berth = await startTestBerth();
    work = tempDir("berth-export-");
    const gen = path.join(work, "generated.yaml");
    writeFileSync(gen, generatedStack());
    const applied = await cli(["apply", "-f", STACK, "-f", gen]);
    expect(applied.code, applied.stderr).to.equal(0);
    // Written another way than `berth apply`: a server-side edit and kubectl's own annotation.
    const edited = await call(berth, "PATCH", `${G}/namespaces/gen-0/applications/app-0`, { metadata: { annotations: { "kubectl.kubernetes.io/last-applied-configuration": '{"spec":{"secretEnv":{"TOKEN":"x"}}}' } }, spec: { replicas: 5 } }, { contentType: "application/merge-patch+json" });
    expect(edited.status, edited.text).to.equal(200);
  });

  after(async () => {
    await berth?.cleanup();
    removeDir(work ?? "");
  });

  it("needs -n PROJECT or -A", async () => {
    const r = await cli(["export"]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain("-n PROJECT or -A");
  });

  it("-A -o DIR: one file per Project and _syncs.yaml, no server-set fields, defaults left out, secrets sealed", async () => {
    const dir = path.join(work, "all");
    const r = await cli(["export", "-A", "-o", dir]);
    expect(r.code, r.stderr).to.equal(0);
    expect(readdirSync(dir).sort()).to.deep.equal(["_syncs.yaml", "gen-0.yaml", "gen-1.yaml", "gen-2.yaml", "gen-3.yaml", "gen-4.yaml", "my-saas-app.yaml"]);
    const docs = exportedDocs(dir);
    expect(docs).to.have.length(55);
    // Each Project file starts with the Project, then Databases, Applications, Domains.
    const gen0 = YAML.parseAllDocuments(readFileSync(path.join(dir, "gen-0.yaml"), "utf8")).map((d) => d.toJS().kind);
    expect(gen0).to.deep.equal(["Project", "Database", "Database", "Application", "Application", "Application", "Application", "Domain", "Domain", "Domain"]);
    for (const d of docs) {
      expect(d).to.have.all.keys("apiVersion", "kind", "metadata", "spec");
      expect(d.metadata).to.not.have.any.keys("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "deletionTimestamp", "finalizers");
      for (const key of Object.keys(d.metadata.annotations ?? {})) expect(key).to.be.oneOf(["owner", "berth.dev/prune"]);
    }
    const text = allText(dir);
    expect(text).to.not.contain("s3cr3t");
    expect(text).to.not.contain("plain-secret");
    expect(text).to.not.contain("last-applied-configuration");
    expect(text).to.not.contain("applied-by");
    const app = docs.find((d) => d.kind === "Application" && d.metadata.namespace === "gen-1" && d.metadata.name === "app-1");
    expect(app.spec.secretEnv.TOKEN).to.match(/^sealed:v1:/);
    expect(app.metadata.annotations).to.deep.equal({ owner: "team-1", "berth.dev/prune": "disabled" });
    // Defaults the user did not write stay out (protocol tcp is the default, so it goes even when written).
    expect(app.spec.ports).to.deep.equal([{ containerPort: 8080 }]);
    expect(app.spec.strategy).to.deep.equal({ type: "RollingUpdate" });
    const recreate = docs.find((d) => d.kind === "Application" && d.metadata.namespace === "gen-1" && d.metadata.name === "app-3");
    expect(recreate.spec.strategy).to.deep.equal({ type: "Recreate" });
    const db = docs.find((d) => d.kind === "Database" && d.metadata.namespace === "gen-1" && d.metadata.name === "pg");
    expect(db.spec).to.not.have.property("deletionPolicy");
    expect(docs.find((d) => d.kind === "Database" && d.metadata.name === "cache").spec.deletionPolicy).to.equal("Delete");
    const patched = docs.find((d) => d.kind === "Application" && d.metadata.namespace === "gen-0" && d.metadata.name === "app-0");
    expect(patched.spec.replicas).to.equal(5);
    const sync = docs.find((d) => d.kind === "Sync");
    expect(sync.metadata).to.deep.equal({ name: "infra" });
    expect(sync.spec.interval).to.equal("2m");
  });

  it("round trip: berth apply -f DIR, then berth diff -f DIR exits 0, and a second apply is all unchanged", async () => {
    const dir = path.join(work, "all");
    const applied = await cli(["apply", "-f", dir]);
    expect(applied.code, applied.stderr).to.equal(0);
    const diff = await cli(["diff", "-f", dir]);
    expect(diff.code, diff.stdout + diff.stderr).to.equal(0);
    expect(diff.stdout.trim()).to.equal("");
    const again = await cli(["apply", "-f", dir]);
    const lines = again.stdout.trim().split("\n");
    expect(lines).to.have.length(55);
    expect(lines.filter((l) => !l.endsWith(" unchanged")), again.stdout).to.deep.equal([]);
    // The sealed strings went back in as the same secrets: a re-export is the same text.
    const second = path.join(work, "again");
    expect((await cli(["export", "-A", "-o", second])).code).to.equal(0);
    const docs = exportedDocs(second);
    const before = exportedDocs(dir);
    for (const d of docs) delete d.spec.secretEnv;
    for (const d of before) delete d.spec.secretEnv;
    expect(docs).to.deep.equal(before);
  });

  it("-n PROJECT to stdout: that Project's documents only; --redact writes <redacted> and still round-trips", async () => {
    const out = await cli(["export", "-n", "my-saas-app", "--redact"]);
    expect(out.code, out.stderr).to.equal(0);
    const docs = YAML.parseAllDocuments(out.stdout).map((d) => d.toJS());
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).to.deep.equal(["Project/my-saas-app", "Database/app-postgres", "Application/api-service", "Domain/api"]);
    const app = docs[2];
    expect(app.spec.secretEnv).to.deep.equal({ API_KEY: "<redacted>" });
    expect(out.stdout).to.not.contain("sealed:v1:");
    // What the user wrote in examples/stack.yaml, and nothing the server added.
    expect(app.spec.healthcheck).to.deep.equal({ http: { path: "/health", port: 8080 }, interval: "10s", timeout: "5s", retries: 3 });
    expect(docs[3].spec).to.deep.equal({ host: "api.example.com", target: { application: "api-service", port: 8080 }, tls: { issuer: "internal" } });
    const file = path.join(work, "redacted.yaml");
    writeFileSync(file, out.stdout);
    const applied = await cli(["apply", "-f", file]);
    expect(applied.code, applied.stderr).to.equal(0);
    const diff = await cli(["diff", "-f", file]);
    expect(diff.code, diff.stdout + diff.stderr).to.equal(0);
    // <redacted> kept the stored secret: the sealed export opens to the same value as before.
    const sealed = await cli(["export", "-n", "my-saas-app"]);
    expect(sealed.stdout).to.match(/API_KEY: sealed:v1:/);
    expect(sealed.stdout).to.not.contain("s3cr3t");
  });

  it("a -n PROJECT that does not exist is NotFound", async () => {
    const r = await cli(["export", "-n", "nope"]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain("NotFound");
  });

  it("a Sync secret the server returns unsealed is never written: <redacted> and a warning", async () => {
    const sync = { apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name: "hooked" }, spec: { source: { directory: { path: "/srv/manifests" } }, webhook: { secret: "hook-plaintext-42" } } };
    const created = await call(berth, "POST", `${G}/syncs`, sync);
    expect(created.status, created.text).to.equal(201);
    try {
      const r = await cli(["export", "-A"]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.not.contain("hook-plaintext-42");
      const doc = YAML.parseAllDocuments(r.stdout).map((d) => d.toJS()).find((d) => d.metadata.name === "hooked");
      if (String(created.body.spec.webhook.secret).startsWith("sealed:v1:")) {
        expect(doc.spec.webhook.secret).to.match(/^sealed:v1:/);
      } else {
        expect(doc.spec.webhook.secret).to.equal("<redacted>");
        expect(r.stderr).to.contain("spec.webhook.secret came back unsealed");
      }
    } finally {
      await call(berth, "DELETE", `${G}/syncs/hooked`);
    }
  });
});

import { expect } from "chai";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BerthClient } from "../src/cli/shared/client.js";
import { applyCommand } from "../src/cli/objects/apply.js";
import { CommandError } from "../src/cli/shared/errors.js";
import { call, REPO, removeDir, runBerth, spawnServe, tempDir, type ServeProcess } from "./helpers/berth.js";

const STACK = path.join(REPO, "examples", "stack.yaml");
const BAD = path.join(REPO, "test", "fixtures", "bad");

/** `# expect: <line>: <field>` headers of the bad-manifest corpus (a sidecar file for JSON). */
function expectations(file: string): { line: number; field: string }[] {
  const sidecar = `${file}.expect`;
  const text = file.endsWith(".json") ? readFileSync(sidecar, "utf8") : readFileSync(file, "utf8");
  return [...text.matchAll(/^# expect: (\d+):[ \t]*(\S*)[ \t]*$/gm)].map((m) => ({ line: Number(m[1]), field: m[2] }));
}

async function storeSnapshot(server: ServeProcess): Promise<string> {
  const parts: string[] = [];
  for (const plural of ["projects", "applications", "databases", "domains"]) {
    const r = await call(server, "GET", `/apis/berth.dev/v1alpha1/${plural}`);
    parts.push(...r.body.items.map((i: any) => `${plural}/${i.metadata.namespace ?? ""}/${i.metadata.name}@${i.metadata.resourceVersion}`));
  }
  return parts.sort().join("\n");
}

async function inBatches<T>(items: T[], size: number, fn: (t: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

describe("berth CLI against a real berth serve", function () {
  this.timeout(240_000);
  let server: ServeProcess;
  let work: string;
  const berth = (args: string[], stdin?: string) => runBerth(args, { kubeconfig: server.kubeconfig, stdin });

  before(async () => {
    // API only: this suite is about the CLI, and controllers writing status would move resourceVersions under the snapshots.
    server = await spawnServe({ env: { BERTH_CONTROLLERS: "false" } });
    work = tempDir("berth-cli-");
  });

  after(async () => {
    await server?.stop();
    removeDir(server?.dataDir ?? "");
    removeDir(work ?? "");
  });

  it("applies the example stack: created, then unchanged, then configured after an edit", async () => {
    const first = await berth(["apply", "-f", STACK]);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.contain("project.berth.dev/my-saas-app created");
    expect(first.stdout).to.contain("application.berth.dev/api-service created");
    expect(first.stdout).to.contain("domain.berth.dev/api created");
    const second = await berth(["apply", "-f", STACK]);
    expect(second.code).to.equal(0);
    expect(second.stdout.trim().split("\n").every((l) => l.endsWith(" unchanged"))).to.equal(true);
    const edited = path.join(work, "stack.yaml");
    writeFileSync(edited, readFileSync(STACK, "utf8").replace("replicas: 3", "replicas: 2"));
    const third = await berth(["apply", "-f", edited]);
    expect(third.stdout).to.contain("application.berth.dev/api-service configured");
    expect(third.stdout).to.contain("database.berth.dev/app-postgres unchanged");
  });

  it("gets objects as a table, wide, yaml and json, in one project or all", async () => {
    const table = await berth(["get", "app", "-n", "my-saas-app"]);
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout.split("\n")[0]).to.match(/^NAME\s+/);
    expect(table.stdout).to.contain("api-service");
    const all = await berth(["get", "applications", "-A"]);
    expect(all.stdout.split("\n")[0]).to.match(/^NAMESPACE\s+NAME/);
    expect(all.stdout).to.match(/my-saas-app\s+api-service/);
    const y = await berth(["get", "db", "app-postgres", "-n", "my-saas-app", "-o", "yaml"]);
    expect(y.stdout).to.contain("engine: postgresql");
    const j = await berth(["get", "proj", "-o", "json"]);
    expect(JSON.parse(j.stdout).items.map((i: any) => i.metadata.name)).to.include("my-saas-app");
    const wide = await berth(["get", "dom", "-n", "my-saas-app", "-o", "wide"]);
    expect(wide.stdout).to.contain("api.example.com");
  });

  it("never shows the secret value: not in get, describe, nor the server's logs", async () => {
    const y = await berth(["get", "app", "api-service", "-n", "my-saas-app", "-o", "yaml"]);
    expect(y.stdout).to.contain("API_KEY");
    expect(y.stdout).to.not.contain("s3cr3t");
    const d = await berth(["describe", "app", "api-service", "-n", "my-saas-app"]);
    expect(d.code, d.stderr).to.equal(0);
    expect(d.stdout).to.contain("Conditions:");
    expect(d.stdout).to.not.contain("s3cr3t");
    expect(server.logs()).to.not.contain("s3cr3t");
  });

  it("diffs: exit 0 when equal, 1 with a readable diff when not", async () => {
    const same = await berth(["diff", "-f", STACK.replace("stack.yaml", "stack.yaml")]);
    // The stack was edited to replicas 2 above; the original file differs from the live object.
    expect(same.code).to.equal(1);
    expect(same.stdout).to.contain("-  replicas: 2");
    expect(same.stdout).to.contain("+  replicas: 3");
    await berth(["apply", "-f", STACK]);
    const equal = await berth(["diff", "-f", STACK]);
    expect(equal.code, equal.stdout + equal.stderr).to.equal(0);
    expect(equal.stdout.trim()).to.equal("");
  });

  it("takes its own get -o yaml back, secrets sealed: diff exits 0, apply is unchanged", async () => {
    const y = await berth(["get", "app", "api-service", "-n", "my-saas-app", "-o", "yaml"]);
    expect(y.stdout).to.match(/API_KEY: sealed:v1:[A-Za-z0-9_-]+$/m);
    const dump = path.join(work, "api-service.yaml");
    writeFileSync(dump, y.stdout);
    const diff = await berth(["diff", "-f", dump]);
    expect(diff.code, diff.stdout + diff.stderr).to.equal(0);
    const before = await storeSnapshot(server);
    const applied = await berth(["apply", "-f", dump]);
    expect(applied.code, applied.stderr).to.equal(0);
    expect(applied.stdout.trim()).to.equal("application.berth.dev/api-service unchanged");
    expect(await storeSnapshot(server)).to.equal(before);
    const moved = path.join(work, "api-service-copy.yaml");
    writeFileSync(moved, y.stdout.replace(/^ {2}name: api-service$/m, "  name: api-copy"));
    const refused = await berth(["apply", "-f", moved]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain("spec.secretEnv.API_KEY").and.contain("this sealed value belongs to another object or key");
    expect(await storeSnapshot(server)).to.equal(before);
  });

  it("applies from stdin", async () => {
    const doc = "apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: from-stdin}\nspec: {description: piped}\n";
    const r = await berth(["apply", "-f", "-"], doc);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain("project.berth.dev/from-stdin created");
  });

  it("rejects each of the bad-manifest corpus with file:line: field and changes nothing", async () => {
    const files = readdirSync(BAD).filter((f) => /\.(ya?ml|json)$/.test(f)).map((f) => path.join(BAD, f));
    expect(files.length).to.be.at.least(25);
    const before = await storeSnapshot(server);
    const failures: string[] = [];
    const check = (file: string, code: number, stderr: string): void => {
      if (code !== 1) failures.push(`${path.basename(file)}: exit ${code}`);
      for (const e of expectations(file)) {
        const prefix = `${file}:${e.line}: ${e.field ? e.field : ""}`;
        if (!stderr.includes(prefix)) failures.push(`${path.basename(file)}: missing "${prefix}" in:\n${stderr}`);
      }
    };
    // Every fixture through the CLI's apply command against the live server (in this process,
    // to keep the suite fast), and a sample of them through the real `berth` binary.
    const client = new BerthClient(server.kubeconfig);
    for (const file of files) {
      const err: string[] = [];
      const io = { out: () => {}, err: (t: string) => err.push(t), readStdin: async () => "" };
      let code = 0;
      try {
        await applyCommand(client, [file], {}, io);
      } catch (e) {
        if (!(e instanceof CommandError)) throw e;
        code = e.exitCode;
        err.push(e.message);
      }
      check(file, code, err.join("\n"));
    }
    const sample = files.filter((_, i) => i % 10 === 0);
    await inBatches(sample, 3, async (file) => {
      const r = await berth(["apply", "-f", file]);
      check(file, r.code, r.stderr);
    });
    expect(failures, failures.join("\n")).to.deep.equal([]);
    // A generated 1.5 MiB document is refused too.
    const huge = path.join(work, "huge.yaml");
    writeFileSync(huge, `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: huge}\nspec:\n  description: "${"x".repeat(1_600_000)}"\n`);
    const h = await berth(["apply", "-f", huge]);
    expect(h.code).to.equal(1);
    expect(h.stderr).to.contain(`${huge}:`);
    expect(await storeSnapshot(server)).to.equal(before);
  });

  it("maps a server-side rejection back to file:line and stores nothing of the file", async () => {
    const file = path.join(work, "dup-host.yaml");
    const src = readFileSync(STACK, "utf8");
    // A second project whose Domain reuses api.example.com: the store's unique host index refuses it.
    const second = src.replace(/my-saas-app/g, "other-app");
    writeFileSync(file, second);
    const before = await storeSnapshot(server);
    const r = await berth(["apply", "-f", file]);
    expect(r.code).to.equal(1);
    const hostLine = second.split("\n").findIndex((l) => l.includes("host: api.example.com")) + 1;
    expect(r.stderr).to.contain(`${file}:${hostLine}: spec.host`);
    expect(r.stderr).to.contain("nothing was applied");
    expect(await storeSnapshot(server)).to.equal(before);
  });

  it("deletes by name and by file; a missing object is an error", async () => {
    const byName = await berth(["delete", "project", "from-stdin", "--wait", "--timeout", "30s"]);
    expect(byName.code, byName.stderr).to.equal(0);
    const copy = path.join(work, "stack-copy.yaml");
    copyFileSync(STACK, copy);
    const byFile = await berth(["delete", "-f", copy, "--wait", "--timeout", "60s"]);
    expect(byFile.code, byFile.stderr).to.equal(0);
    expect(byFile.stdout).to.contain('application.berth.dev "api-service" deleted');
    const gone = await berth(["get", "app", "api-service", "-n", "my-saas-app", "-o", "yaml"]);
    expect(gone.code).to.equal(1);
    expect(gone.stderr).to.contain("NotFound");
  });

  it("prunes what an earlier apply stored and the manifests dropped, nothing else, all or nothing", async () => {
    const dir = path.join(work, "prune");
    mkdirSync(dir, { recursive: true });
    const app = (name: string, ns = "gitops"): string => `apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  source: {image: "berth-test/busybox:1"}\n`;
    writeFileSync(path.join(dir, "00-project.yaml"), "apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: gitops}\nspec: {}\n");
    writeFileSync(path.join(dir, "web.yaml"), app("web"));
    writeFileSync(path.join(dir, "worker.yaml"), app("worker"));
    const first = await berth(["apply", "-f", dir, "--prune"]);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.not.contain("pruned");
    // Not from a manifest set: created through the API, as kubectl create would.
    const byHand = await call(server, "POST", "/apis/berth.dev/v1alpha1/namespaces/gitops/applications", { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "by-hand", namespace: "gitops" }, spec: { source: { image: "berth-test/busybox:1" } } });
    expect(byHand.status, byHand.text).to.equal(201);
    // Another Project applied from another directory is outside this set's scope.
    const other = path.join(work, "prune-other");
    mkdirSync(other, { recursive: true });
    writeFileSync(path.join(other, "all.yaml"), "apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: elsewhere}\nspec: {}\n---\n" + app("web", "elsewhere"));
    expect((await berth(["apply", "-f", other])).code).to.equal(0);

    rmSync(path.join(dir, "worker.yaml"));
    const diff = await berth(["diff", "-f", dir, "--prune"]);
    expect(diff.code, diff.stderr).to.equal(1);
    expect(diff.stdout).to.contain("live/applications.berth.dev/gitops/worker");
    expect(diff.stdout).to.match(/^-\s*name: worker$/m);
    expect((await berth(["diff", "-f", dir])).code, "without --prune nothing differs").to.equal(0);

    const before = await storeSnapshot(server);
    const dry = await berth(["apply", "-f", dir, "--prune", "--dry-run"]);
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stdout).to.contain("application.berth.dev/worker pruned (dry run)");
    expect(await storeSnapshot(server)).to.equal(before);

    // A bad document elsewhere in the set: nothing applied, nothing pruned.
    writeFileSync(path.join(dir, "broken.yaml"), app("broken").replace("source:", "replicas: -1\n  source:"));
    const refused = await berth(["apply", "-f", dir, "--prune"]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain("nothing was applied");
    expect(await storeSnapshot(server)).to.equal(before);
    rmSync(path.join(dir, "broken.yaml"));

    const pruned = await berth(["apply", "-f", dir, "--prune"]);
    expect(pruned.code, pruned.stderr).to.equal(0);
    expect(pruned.stdout).to.contain("application.berth.dev/worker pruned");
    expect(pruned.stderr).to.contain("1 pruned");
    const names = async (ns: string): Promise<string[]> => (await call(server, "GET", `/apis/berth.dev/v1alpha1/namespaces/${ns}/applications`)).body.items.map((i: any) => i.metadata.name).sort();
    expect(await names("gitops")).to.deep.equal(["by-hand", "web"]);
    expect(await names("elsewhere")).to.deep.equal(["web"]);
    const again = await berth(["apply", "-f", dir, "--prune"]);
    expect(again.stdout).to.not.contain("pruned");
    expect(again.stdout.trim().split("\n").every((l) => l.endsWith(" unchanged"))).to.equal(true);
  });

  it("apply --wait follows a watch: every status change is shown as it happens, and it returns at Ready", async () => {
    const file = path.join(work, "watched.yaml");
    writeFileSync(file, "apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: watched}\nspec: {}\n");
    const running = berth(["apply", "-f", file, "--wait", "--timeout", "30s"]);
    const G = "/apis/berth.dev/v1alpha1/projects/watched";
    let obj: any;
    for (let i = 0; i < 200 && (obj = (await call(server, "GET", G)).body)?.metadata?.generation === undefined; i++) await new Promise((r) => setTimeout(r, 25));
    const status = (ready: string, message: string) => ({ status: { observedGeneration: obj.metadata.generation, conditions: [{ type: "Ready", status: ready, reason: ready === "True" ? "Ready" : "Provisioning", message, lastTransitionTime: new Date().toISOString() }] } });
    // Two states that last 60 ms each: a 500 ms poll would miss them; a watch cannot.
    const steps = ["creating the network", "attaching the router"];
    for (const message of steps) {
      expect((await call(server, "PATCH", `${G}/status`, status("False", message), { contentType: "application/merge-patch+json" })).status).to.equal(200);
      await new Promise((r) => setTimeout(r, 60));
    }
    const readyAt = Date.now();
    expect((await call(server, "PATCH", `${G}/status`, status("True", "network berth-watched"), { contentType: "application/merge-patch+json" })).status).to.equal(200);
    const r = await running;
    const afterReady = Date.now() - readyAt;
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.split("\n").filter((l) => l.startsWith("project/watched"));
    expect(lines.map((l) => l.replace(/^project\/watched\s+/, ""))).to.include.members([...steps, "ready"]);
    expect(lines.findIndex((l) => l.includes(steps[0]))).to.be.lessThan(lines.findIndex((l) => l.includes(steps[1])));
    expect(r.stderr).to.contain("1 of 1 object(s) ready");
    // Process exit included: node's start-up is not in it (the process was already running).
    expect(afterReady, `returned ${afterReady} ms after Ready`).to.be.lessThan(400);
  });

  it("exits 2 on a usage error", async () => {
    const r = await berth(["get"]);
    expect(r.code).to.equal(2);
  });
});

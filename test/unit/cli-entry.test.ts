import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { missingPrerequisite } from "../helpers/prerequisites.js";
import { kubeconfigYaml } from "../../src/api/kubeconfig.js";
import { readConnection } from "../../src/cli/shared/kubeconfig-file.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function run(bin: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin], { env: { ...process.env, BERTH_DEBUG_ENTRY: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("exit", (code) => resolve({ code, out, err }));
  });
}

/**
 * A copy of bin/berth.js in a scratch package whose dist/ and src/ say which one ran, so the
 * choice between compiled output and sources is seen from outside, as a user would see it.
 */
function scratchPackage(dir: string): { bin: string; source: string; stamp: string } {
  for (const d of ["bin", "dist", "src/cli"]) mkdirSync(path.join(dir, d), { recursive: true });
  copyFileSync(path.join(ROOT, "bin/berth.js"), path.join(dir, "bin/berth.js"));
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  const source = path.join(dir, "src/cli/main.ts");
  writeFileSync(source, 'const from: string = "sources";\nconsole.log(from);\n');
  writeFileSync(path.join(dir, "dist/berth.js"), 'console.log("compiled");\n');
  const stamp = path.join(dir, "dist/.build-stamp");
  writeFileSync(stamp, JSON.stringify({ builtAt: "x", sources: ["src/cli/main.ts"] }));
  return { bin: path.join(dir, "bin/berth.js"), source, stamp };
}

describe("berth's entry point (bin/berth.js)", () => {
  let dir = "";
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), "berth-entry-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("runs the compiled bundle when it is newer than every source it was built from", async () => {
    const pkg = scratchPackage(dir);
    utimesSync(pkg.source, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const r = await run(pkg.bin);
    expect(r.out.trim()).to.equal("compiled");
    expect(r.err).to.contain("running dist/");
  });

  it("runs the sources through tsx once a source is edited after the build, never stale output", async () => {
    const pkg = scratchPackage(dir);
    utimesSync(pkg.stamp, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const r = await run(pkg.bin);
    expect(r.out.trim()).to.equal("sources");
    expect(r.err).to.contain("src/ through tsx");
  });

  it("runs the sources once a CRD (crds/*.yaml, precompiled into dist/) is edited after the build", async () => {
    const pkg = scratchPackage(dir);
    const crd = path.join(dir, "crds/application.yaml");
    mkdirSync(path.dirname(crd));
    writeFileSync(crd, "kind: CustomResourceDefinition\n");
    writeFileSync(pkg.stamp, JSON.stringify({ builtAt: "x", sources: ["src/cli/main.ts", "crds/application.yaml"] }));
    const old = new Date(Date.now() - 60_000);
    utimesSync(pkg.source, old, old);
    utimesSync(crd, old, old);
    expect((await run(pkg.bin)).out.trim()).to.equal("compiled");
    utimesSync(pkg.stamp, new Date(Date.now() - 30_000), new Date(Date.now() - 30_000));
    utimesSync(crd, new Date(), new Date());
    expect((await run(pkg.bin)).out.trim()).to.equal("sources");
  });

  it("the build's stamp lists every CRD and the schema sources it precompiled", function () {
    let stamp: { sources: string[] };
    try {
      stamp = JSON.parse(readFileSync(path.join(ROOT, "dist/.build-stamp"), "utf8")) as { sources: string[] };
    } catch {
      // `npm test` builds first; only a bare `npm run test:unit` on a fresh clone has no dist/.
      missingPrerequisite(this, "no dist/.build-stamp (run npm run build)");
    }
    const crds = readdirSync(path.join(ROOT, "crds")).filter((f) => f.endsWith(".yaml")).map((f) => `crds/${f}`);
    expect(crds).to.not.be.empty;
    expect(stamp.sources).to.include.members([...crds, "src/schema/crds.ts", "src/schema/schema-source.ts", "src/schema/precompile.ts"]);
  });

  it("runs the sources when there is no build, or when BERTH_FROM_SOURCE=1", async () => {
    const pkg = scratchPackage(dir);
    utimesSync(pkg.source, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    expect((await run(pkg.bin, { BERTH_FROM_SOURCE: "1" })).out.trim()).to.equal("sources");
    rmSync(pkg.stamp);
    expect((await run(pkg.bin)).out.trim()).to.equal("sources");
  });
});

describe("reading a kubeconfig without @kubernetes/client-node", () => {
  let dir = "";
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), "berth-kc-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the JSON kubeconfig berth serve writes: server, CA and token", async () => {
    const file = path.join(dir, "kubeconfig.yaml");
    writeFileSync(file, kubeconfigYaml("https://127.0.0.1:7443", "-----BEGIN CERTIFICATE-----\nabc\n", "tok-1"));
    const c = await readConnection(file);
    expect(c.server).to.equal("https://127.0.0.1:7443");
    expect(c.ca?.toString()).to.equal("-----BEGIN CERTIFICATE-----\nabc\n");
    expect(c.token).to.equal("tok-1");
    expect(c.insecure).to.equal(false);
  });

  it("reads a YAML kubeconfig (as kubectl rewrites it) with files relative to it and a non-current context", async () => {
    writeFileSync(path.join(dir, "ca.pem"), "CA-PEM");
    writeFileSync(path.join(dir, "token"), "tok-from-file\n");
    const file = path.join(dir, "config");
    writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        "current-context: other",
        "clusters:",
        "- name: b",
        "  cluster: {server: 'https://127.0.0.1:9', certificate-authority: ca.pem, tls-server-name: berth.local}",
        "users:",
        "- name: u",
        "  user: {tokenFile: token}",
        "contexts:",
        "- {name: mine, context: {cluster: b, user: u}}",
        "- {name: other, context: {cluster: missing, user: u}}",
      ].join("\n"),
    );
    const c = await readConnection(file, "mine");
    expect(c).to.include({ server: "https://127.0.0.1:9", token: "tok-from-file", servername: "berth.local" });
    expect(c.ca?.toString()).to.equal("CA-PEM");
    await readConnection(file).then(
      () => expect.fail("a context naming a missing cluster must fail"),
      (e: Error) => expect(e.message).to.equal(`kubeconfig ${file}: clusters: no entry named "missing"`),
    );
  });

  it("refuses exec credentials with a message naming the file instead of sending no token", async () => {
    const file = path.join(dir, "config");
    writeFileSync(file, JSON.stringify({ "current-context": "c", clusters: [{ name: "k", cluster: { server: "https://x" } }], users: [{ name: "u", user: { exec: { command: "x" } } }], contexts: [{ name: "c", context: { cluster: "k", user: "u" } }] }));
    const err = await readConnection(file).catch((e: Error) => e);
    expect((err as Error).message).to.match(new RegExp(`^kubeconfig ${file}: users: exec and auth-provider`));
  });
});

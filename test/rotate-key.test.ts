/**
 * `berth rotate-key` (issue 17, ADR 0016) against an API-only Berth on embedded Postgres (no
 * Docker): Applications with secretEnv (one with kubectl's last-applied copy), a Sync's token
 * and webhook secret, a Database's credentials and connection string, a rollout revision. The
 * CLI rotates; every stored ciphertext changes, every plaintext stays, the old key opens none,
 * the API shows none. A rotation stopped after a few batches (as a crash leaves it) resumes at
 * the next start and completes. Admins only: a developer gets 403.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { DataSource } from "typeorm";
import { writeKubeconfig } from "../src/api/kubeconfig.js";
import type { RequestContext } from "../src/core/types.js";
import { generateKey, parseKeyring, type KeyEntry } from "../src/store/keyring.js";
import { SecretBox, unsealRegistries, unsealSecretEnv, unsealSyncSecrets } from "../src/store/secrets.js";
import { call, removeDir, runBerth, startTestBerth, tempDir } from "./helpers/berth.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const P = "vault";
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
const PASSWORD = "Corr3ct-horse-battery";
/** Every plaintext secret the suite stores: none may ever appear in API output or the CLI's. */
const PLAIN: string[] = [];
const secret = (what: string): string => {
  const s = `${what}-${Math.random().toString(36).slice(2, 12)}`;
  PLAIN.push(s);
  return s;
};

function app(name: string, secretEnv: Record<string, string>): Record<string, unknown> {
  return { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace: P }, spec: { source: { image: "berth-test/busybox:1" }, secretEnv } };
}

/** Every `enc:v1:` value anywhere in the database (every table, every column), with where it is. */
async function ciphertexts(ds: DataSource): Promise<{ table: string; value: string }[]> {
  const tables: { table_name: string }[] = await ds.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`);
  const out: { table: string; value: string }[] = [];
  for (const { table_name } of tables) {
    const rows: { r: string }[] = await ds.query(`SELECT t::text AS r FROM "${table_name}" t`);
    for (const { r } of rows) for (const m of r.match(/enc:v1:[A-Za-z0-9_-]+/g) ?? []) out.push({ table: table_name, value: m });
  }
  return out;
}

const keysOf = (dataDir: string): KeyEntry[] => parseKeyring(readFileSync(path.join(dataDir, "secret.key"), "utf8"));

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("berth rotate-key: every sealed value under a new key, without downtime", function () {
  this.timeout(180_000);
  const dataDir = tempDir("berth-rotate-");
  let berth: TestBerth;
  let tokens: Record<string, string>;
  let opsKubeconfig: string;
  let devKubeconfig: string;
  /** field → plaintext, of every secret stored, to compare after each rotation. */
  let expected: Record<string, string>;
  let sealedBefore: string;

  /** The plaintext of every stored secret, read with `box`: Applications, the Sync, the Database. */
  async function plaintexts(box: SecretBox): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const apps = await berth.store.list("Application", { namespace: P }, true);
    for (const a of apps.items) for (const [k, v] of Object.entries(unsealSecretEnv(box, a.spec))) out[`${a.metadata.name}.${k}`] = v;
    for (const l of unsealRegistries(box, await berth.store.getStored("Project", undefined, P))) out[`registry.${l.server}`] = l.password;
    const sync = await berth.store.getStored("Sync", undefined, "infra");
    for (const [k, v] of Object.entries(unsealSyncSecrets(box, sync!))) out[`sync.${k}`] = v;
    const rows: { credentials: string; connection_string: string }[] = await berth.dataSource.query(`SELECT credentials, connection_string FROM databases WHERE name = 'main'`);
    out["db.credentials"] = box.decrypt(rows[0].credentials);
    out["db.url"] = box.decrypt(rows[0].connection_string);
    const retained: { credentials: string }[] = await berth.dataSource.query(`SELECT credentials FROM berth_retained_credentials`);
    out["db.retained"] = box.decrypt(retained[0].credentials);
    const revisions: { metadata: { spec: Record<string, unknown> } }[] = await berth.dataSource.query(`SELECT metadata FROM deployments`);
    for (const [k, v] of Object.entries(unsealSecretEnv(box, revisions[0].metadata.spec))) out[`revision.${k}`] = v;
    return out;
  }

  /** What an admin sees of everything: no plaintext anywhere. */
  async function expectNoPlaintextInApi(): Promise<void> {
    for (const p of [`${G}/projects`, `${G}/namespaces/${P}/applications`, `${G}/syncs`, `${G}/namespaces/${P}/databases`, "/berth/v1/rotate-key", `/berth/v1/audit`, `/berth/v1/namespaces/${P}/applications/web-0/deployments`]) {
      const r = await call(berth, "GET", p);
      expect(r.status, `${p}: ${r.text.slice(0, 200)}`).to.equal(200);
      for (const s of PLAIN) expect(r.text, `${p} shows a plaintext`).to.not.contain(s);
      expect(r.text, `${p} shows ciphertext`).to.not.match(/enc:v1:/);
    }
  }

  before(async () => {
    berth = await startTestBerth({ dataDir });
    const admin = (method: string, p: string, body?: unknown) => call(berth, method, p, body);
    expect((await admin("POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: { registries: { "registry.example.test": { username: "ci", password: secret("regpw") } } } })).status).to.equal(201);
    for (let i = 0; i < 7; i++) {
      const r = await admin("POST", `${G}/namespaces/${P}/applications`, app(`web-${i}`, { TOKEN: secret(`tok${i}`), OTHER: secret(`oth${i}`) }));
      expect(r.status, r.text).to.equal(201);
    }
    // kubectl's client-side apply keeps the manifest, secrets included, in an annotation.
    const applied = app("applied", { API_KEY: secret("apikey") });
    (applied.metadata as any).annotations = { [LAST_APPLIED]: JSON.stringify(applied) };
    expect((await admin("POST", `${G}/namespaces/${P}/applications`, applied)).status).to.equal(201);
    const sync = { apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name: "infra" }, spec: { source: { git: { url: "https://git.example.test/infra.git", auth: { token: secret("gittoken") } } }, suspend: true, webhook: { secret: secret("hook") } } };
    const s = await admin("POST", `${G}/syncs`, sync);
    expect(s.status, s.text).to.equal(201);
    const db = await admin("POST", `${G}/namespaces/${P}/databases`, { apiVersion: "berth.dev/v1alpha1", kind: "Database", metadata: { name: "main", namespace: P }, spec: { engine: "postgresql", version: "16", storage: { size: "1Gi" } } });
    expect(db.status, db.text).to.equal(201);
    // What the Database controller stores once it made the credentials (no Docker here).
    const password = secret("dbpass");
    await berth.stores.credentials.save(db.body.metadata.uid, "berth-vault-main", { engine: "postgresql", username: "app", password, database: "main" }, `postgresql://app:${password}@main:5432/main`);
    // And a rollout revision, as the Application controller records it (the stored spec).
    const stored = await berth.store.getStored("Application", P, "web-0");
    await berth.stores.revisions.ensure(stored!, "0123456789abcdef", 1);

    tokens = {};
    for (const [username, role] of [["ops", "admin"], ["dev", "developer"]]) {
      expect((await admin("POST", "/berth/v1/users", { username, email: `${username}@example.test`, password: PASSWORD, role })).status, username).to.equal(201);
      const t = await admin("POST", "/berth/v1/tokens", { user: username, name: "rotate" });
      tokens[username] = t.body.token;
    }
    opsKubeconfig = path.join(dataDir, "ops.kubeconfig");
    devKubeconfig = path.join(dataDir, "dev.kubeconfig");
    writeKubeconfig(opsKubeconfig, berth.url, berth.caPem, tokens.ops);
    writeKubeconfig(devKubeconfig, berth.url, berth.caPem, tokens.dev);

    const box = new SecretBox(keysOf(dataDir));
    expected = await plaintexts(box);
    expect(Object.keys(expected)).to.have.length(7 * 2 + 1 + 2 + 3 + 2 + 1);
    sealedBefore = (await admin("GET", `${G}/namespaces/${P}/applications/web-1`)).body.spec.secretEnv.TOKEN;
    expect(sealedBefore).to.match(/^sealed:v1:/);
  });

  after(async () => {
    await berth?.cleanup();
    removeDir(dataDir);
  });

  it("a developer gets 403 from the endpoint and from the CLI; nothing starts", async () => {
    for (const method of ["POST", "GET"]) {
      const r = await call(berth, method, "/berth/v1/rotate-key", method === "POST" ? {} : undefined, { token: tokens.dev });
      expect(r.status, r.text).to.equal(403);
      expect(r.body.message).to.contain('user "dev" (developer)').and.contain("keyrotations").and.contain("only admins");
    }
    const cli = await runBerth(["rotate-key"], { kubeconfig: devKubeconfig });
    expect(cli.code).to.not.equal(0);
    expect(cli.stderr).to.contain("only admins");
    expect(keysOf(dataDir)).to.have.length(1);
    expect((await call(berth, "GET", "/berth/v1/rotate-key")).status, "no rotation has run").to.equal(404);
  });

  it("berth rotate-key (an admin) re-encrypts every stored ciphertext; the plaintexts stay, the old key opens none of them, the API shows none", async () => {
    const oldKeys = keysOf(dataDir);
    const before = await ciphertexts(berth.dataSource);
    expect(new Set(before.map((c) => c.table))).to.include.members(["projects", "applications", "syncs", "env_vars", "databases", "berth_retained_credentials", "deployments", "resource_changes"]);
    const started = Date.now();
    const r = await runBerth(["rotate-key", "--batch-size", "3"], { kubeconfig: opsKubeconfig });
    expect(r.code, r.stderr).to.equal(0);
    for (const s of PLAIN) expect(r.stdout + r.stderr).to.not.contain(s);
    for (const k of oldKeys) expect(r.stdout + r.stderr, "no key is printed").to.not.contain(k.key.toString("hex"));

    const newKeys = keysOf(dataDir);
    expect(newKeys, "the old key is retired from the key file").to.have.length(1);
    expect(newKeys[0].id).to.not.equal(oldKeys[0].id);
    expect(r.stdout).to.contain(`rotated to key ${newKeys[0].id}`).and.contain(`retired ${oldKeys[0].id}`);
    expect(r.stdout).to.match(/applications\s+8\s+16\s+0/).and.match(/env_vars\s+15\s+15\s+0/).and.match(/databases\s+1\s+2\s+0/).and.match(/syncs\s+1\s+2\s+0/).and.match(/projects\s+1\s+1\s+0/);
    expect(r.stdout).to.match(/re-encrypted in \d+\.\d+s, 2 passes/);

    const after = await ciphertexts(berth.dataSource);
    expect(after.length).to.equal(before.length);
    const old = new SecretBox(oldKeys);
    const fresh = new SecretBox(newKeys);
    const beforeSet = new Set(before.map((c) => c.value));
    for (const c of after) {
      expect(beforeSet.has(c.value), `${c.table}: a ciphertext did not change`).to.equal(false);
      expect(old.tryDecrypt(c.value), `${c.table}: the old key still opens a value`).to.equal(undefined);
      expect(fresh.tryDecrypt(c.value), `${c.table}: the new key does not open a value`).to.not.equal(undefined);
    }
    expect(await plaintexts(fresh)).to.deep.equal(expected);
    await expectNoPlaintextInApi();

    const state = (await call(berth, "GET", "/berth/v1/rotate-key")).body;
    expect(state).to.include({ status: "completed", newKeyId: newKeys[0].id, startedBy: "ops" });
    expect(state.durationMs).to.be.within(0, Date.now() - started);
    // The audit log names the user, at the start and at the end, with ids and counts only.
    const audit = await call(berth, "GET", "/berth/v1/audit?action=rotate-key");
    const rows = audit.body.items.filter((i: any) => i.details.rotation === state.id);
    expect(rows.map((i: any) => [i.user, i.details.phase])).to.deep.equal([["ops", "completed"], ["ops", "started"]]);
    expect(rows[0].details.reencrypted.applications).to.deep.equal({ rows: 8, values: 16, unreadable: 0 });
    expect(rows[0].details.retiredKeyIds).to.deep.equal([oldKeys[0].id]);
  });

  it("the new sealed strings re-apply as a no-op; a sealed string from before the rotation fails with a message naming the field", async () => {
    const now = (await call(berth, "GET", `${G}/namespaces/${P}/applications/web-1`)).body;
    expect(now.spec.secretEnv.TOKEN).to.match(/^sealed:v1:/).and.not.equal(sealedBefore);
    const again = await call(berth, "PUT", `${G}/namespaces/${P}/applications/web-1`, now);
    expect(again.status, "the new sealed strings apply").to.equal(200);
    expect(again.body.metadata.resourceVersion, "a no-op").to.equal(now.metadata.resourceVersion);
    now.spec.secretEnv.TOKEN = sealedBefore;
    const stale = await call(berth, "PUT", `${G}/namespaces/${P}/applications/web-1`, now);
    expect(stale.status).to.equal(422);
    expect(stale.body.message).to.contain("spec.secretEnv.TOKEN").and.contain("berth rotate-key");
  });

  it("a rotation stopped after a few batches (as a crash leaves it) keeps serving with both keys, and the next start resumes and completes it", async () => {
    const ctx: RequestContext = { user: "admin", userId: berth.stores.adminUserId() };
    const oldKeys = keysOf(dataDir);
    const sealedOld = (await call(berth, "GET", `${G}/namespaces/${P}/applications/web-2`)).body;
    const { rotation, done } = await berth.keyRotation.start(ctx, { batchSize: 2, stopAfterBatches: 3 });
    const mid = await done;
    expect(mid.status).to.equal("running");
    expect(mid.batches).to.equal(3);
    expect(mid.tables.applications.done, "stopped inside the first table").to.equal(false);
    expect(mid.tables.applications.rows).to.equal(6);

    // Persisted before any row was touched: the new key first, the old one still there.
    const ring = keysOf(dataDir);
    expect(ring.map((k) => k.id)).to.deep.equal([rotation.newKeyId, oldKeys[0].id]);
    // The server keeps serving: an old sealed string still applies, and a new write uses the new key.
    const put = await call(berth, "PUT", `${G}/namespaces/${P}/applications/web-2`, sealedOld);
    expect(put.status, put.text).to.equal(200);
    const during = secret("during");
    expect((await call(berth, "POST", `${G}/namespaces/${P}/applications`, app("late", { LATE: during }))).status).to.equal(201);
    const late = await berth.store.getStored("Application", P, "late");
    expect(new SecretBox([ring[0]]).decrypt((late!.spec as any).secretEnv.LATE)).to.equal(during);
    const mixed = new Set((await ciphertexts(berth.dataSource)).map((c) => new SecretBox(ring).keyIdOf(c.value)));
    expect(mixed).to.deep.equal(new Set([ring[0].id, ring[1].id]));
    expect((await call(berth, "GET", "/berth/v1/rotate-key")).body).to.include({ status: "running", active: false });

    // A restart: the same data dir, the same Postgres; the rotation goes on by itself.
    await berth.stop();
    berth = await startTestBerth({ dataDir });
    const final = await until("the resumed rotation to complete", async () => {
      const r = await call(berth, "GET", "/berth/v1/rotate-key");
      return r.body.status === "completed" ? r.body : undefined;
    });
    expect(final.id).to.equal(rotation.id);
    expect(final.batches).to.be.greaterThan(3);
    // 8 Applications held old-key values; web-2's write may have re-encrypted it first; "late" never had one.
    expect(final.tables.applications.rows, "no row of the first batches was re-encrypted twice").to.be.within(7, 8);
    const keys = keysOf(dataDir);
    expect(keys.map((k) => k.id)).to.deep.equal([rotation.newKeyId]);
    const fresh = new SecretBox(keys);
    const old = new SecretBox(oldKeys);
    for (const c of await ciphertexts(berth.dataSource)) {
      expect(fresh.tryDecrypt(c.value), `${c.table}: not under the new key`).to.not.equal(undefined);
      expect(old.tryDecrypt(c.value), `${c.table}: still under the old key`).to.equal(undefined);
    }
    expect(await plaintexts(fresh)).to.deep.include(expected);
    await expectNoPlaintextInApi();
  });

  it("a rotation whose new key never reached the key file (a crash right after it was recorded) is abandoned; the next rotate-key starts afresh", async () => {
    writeKubeconfig(opsKubeconfig, berth.url, berth.caPem, tokens.ops);
    const before = keysOf(dataDir);
    const lost = await berth.stores.keyRotations.begin("klost0000000", [before[0].id], { user: "ops" });
    const r = await runBerth(["rotate-key", "-o", "json"], { kubeconfig: opsKubeconfig });
    expect(r.code, r.stderr).to.equal(0);
    const done = JSON.parse(r.stdout);
    expect(done.id).to.not.equal(lost.id);
    expect(done).to.include({ status: "completed" });
    const rows: { status: string }[] = await berth.dataSource.query(`SELECT status FROM berth_key_rotations WHERE id = $1`, [lost.id]);
    expect(rows[0].status).to.equal("abandoned");
    expect(keysOf(dataDir).map((k) => k.id)).to.deep.equal([done.newKeyId]);
    expect(await plaintexts(new SecretBox(keysOf(dataDir)))).to.deep.include(expected);
  });

  it("with the key in BERTH_SECRET_KEY, rotate-key says how to rotate instead of writing a key anywhere", async () => {
    const keys = keysOf(dataDir);
    await berth.stop();
    const env = `${keys[0].id}:${keys[0].key.toString("hex")}`;
    process.env.BERTH_SECRET_KEY = env;
    try {
      berth = await startTestBerth({ dataDir });
      writeKubeconfig(opsKubeconfig, berth.url, berth.caPem, tokens.ops);
      const r = await runBerth(["rotate-key"], { kubeconfig: opsKubeconfig });
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.contain("BERTH_SECRET_KEY").and.contain("put a new key first");
      expect(r.stderr).to.not.contain(keys[0].key.toString("hex"));
    } finally {
      delete process.env.BERTH_SECRET_KEY;
    }
  });

  it("a keyring in BERTH_SECRET_KEY (new key first) rotates to its primary while requests go on; the summary says which key to remove", async () => {
    const current = keysOf(dataDir)[0];
    const next = generateKey();
    await berth.stop();
    process.env.BERTH_SECRET_KEY = [next, current].map((k) => `${k.id}:${k.key.toString("hex")}`).join(",");
    try {
      berth = await startTestBerth({ dataDir });
      writeKubeconfig(opsKubeconfig, berth.url, berth.caPem, tokens.ops);
      let stop = false;
      const statuses: number[] = [];
      let last = "";
      // Reads and writes while the CLI rotates one row per transaction: the server keeps serving.
      const traffic = (async () => {
        for (let i = 0; !stop; i++) {
          const got = await call(berth, "GET", `${G}/namespaces/${P}/applications/web-4`);
          statuses.push(got.status);
          last = secret(`live${i}`);
          got.body.spec.secretEnv.TOKEN = last;
          statuses.push((await call(berth, "PUT", `${G}/namespaces/${P}/applications/web-4`, got.body)).status);
          statuses.push((await call(berth, "GET", `${G}/namespaces/${P}/applications`)).status);
        }
      })();
      const r = await runBerth(["rotate-key", "--batch-size", "1"], { kubeconfig: opsKubeconfig });
      stop = true;
      await traffic;
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.contain(`rotated to key ${next.id}`).and.contain(`now remove key(s) ${current.id} from BERTH_SECRET_KEY`);
      expect(statuses.length, "requests ran during the rotation").to.be.at.least(3);
      expect(statuses.every((st) => st === 200), `statuses: ${statuses.join(",")}`).to.equal(true);
      const only = new SecretBox([next]);
      for (const c of await ciphertexts(berth.dataSource)) expect(only.tryDecrypt(c.value), `${c.table}: not under the new key`).to.not.equal(undefined);
      const web4 = await berth.store.getStored("Application", P, "web-4");
      expect(unsealSecretEnv(only, web4!.spec).TOKEN).to.equal(last);
      await expectNoPlaintextInApi();
    } finally {
      delete process.env.BERTH_SECRET_KEY;
    }
  });
});

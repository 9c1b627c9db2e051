/**
 * Sealed secret strings (ADR 0006): what the API shows instead of a secret value, and what a
 * write does with it. The crypto on its own, then through the real store on embedded Postgres.
 */
import { expect } from "chai";
import { createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { ApiError } from "../../src/core/errors.js";
import type { ResourceObject } from "../../src/core/types.js";
import { ApplicationReconciler } from "../../src/reconcilers/application/reconciler.js";
import { FakeDriver } from "../../src/runtime/fake.js";
import { BatchError, ResourceStore } from "../../src/store/resources.js";
import { SecretBox, SecretEnvError, unsealSecretEnv, unsealSyncSecrets } from "../../src/store/secrets.js";
import { ctx, unitStore, type UnitStore } from "../helpers/unit-store.js";

const ADMIN = { user: "admin" };
const SECRET = "tok-" + randomBytes(9).toString("hex");
const SEALED = /^sealed:v1:[A-Za-z0-9_-]+$/;
const binding = (over: Partial<{ kind: string; namespace: string; name: string; field: string }> = {}) => ({ kind: "Application", namespace: "shop", name: "web", field: "spec.secretEnv.TOKEN", ...over });

function app(ns: string, name: string, secretEnv: Record<string, string>, annotations?: Record<string, string>): ResourceObject {
  return { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) }, spec: { source: { image: "berth-test/busybox:1" }, secretEnv } };
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<any> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, "expected the write to be rejected").to.not.equal(undefined);
  return e;
}

describe("sealed secret strings", function () {
  this.timeout(30_000);

  describe("the format (no store)", () => {
    const box = new SecretBox(randomBytes(32));

    it("is deterministic for the same field and value, and different for another value", () => {
      const a = box.seal(binding(), SECRET);
      expect(a).to.match(SEALED);
      expect(box.seal(binding(), SECRET)).to.equal(a);
      expect(box.seal(binding(), SECRET + "x")).to.not.equal(a);
      expect(a).to.not.contain(SECRET);
      expect(Buffer.from(a.slice("sealed:v1:".length), "base64url").toString("latin1")).to.not.contain(SECRET);
      expect(box.open(binding(), a)).to.equal(SECRET);
    });

    it("opens only for the kind, Project, object and key it was sealed for", () => {
      const s = box.seal(binding(), SECRET);
      expect(box.open(binding({ field: "spec.secretEnv.OTHER" }), s), "another key").to.equal(undefined);
      expect(box.open(binding({ name: "api" }), s), "another object").to.equal(undefined);
      expect(box.open(binding({ namespace: "other" }), s), "another Project").to.equal(undefined);
      expect(box.open(binding({ kind: "Database" }), s), "another kind").to.equal(undefined);
      // The same value under another binding does not even share the IV (no equality leaks across fields).
      expect(box.seal(binding({ name: "api" }), SECRET).slice(10, 26)).to.not.equal(s.slice(10, 26));
    });

    it("rejects a tampered or malformed value, and one that is not in its canonical form", () => {
      const s = box.seal(binding(), SECRET);
      const raw = Buffer.from(s.slice(10), "base64url");
      for (const i of [0, 13, raw.length - 1]) {
        const t = Buffer.from(raw);
        t[i] ^= 1;
        expect(box.open(binding(), "sealed:v1:" + t.toString("base64url")), `byte ${i} flipped`).to.equal(undefined);
      }
      for (const bad of ["sealed:v1:", "sealed:v1:abc", "sealed:v1:" + "A".repeat(40), s + "!", "sealed:v2:" + s.slice(10)]) expect(box.open(binding(), bad), bad).to.equal(undefined);
    });

    it("cannot be opened by an installation with another key", () => {
      const s = box.seal(binding(), SECRET);
      const other = new SecretBox(randomBytes(32));
      expect(other.open(binding(), s)).to.equal(undefined);
      expect(other.seal(binding(), SECRET)).to.not.equal(s);
    });

    it("is AES-256-GCM under HKDF-SHA256(installation key, info \"berth sealed strings v1\"), never the at-rest key", () => {
      const key = randomBytes(32);
      const s = new SecretBox(key).seal(binding(), SECRET);
      const raw = Buffer.from(s.slice(10), "base64url");
      const aad = Buffer.from(JSON.stringify(["berth.dev/sealed/v1", "Application", "shop", "web", "spec.secretEnv.TOKEN"]));
      const open = (k: Buffer): string => {
        const d = createDecipheriv("aes-256-gcm", k, raw.subarray(0, 12));
        d.setAAD(aad);
        d.setAuthTag(raw.subarray(12, 28));
        return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString("utf8");
      };
      const derived = Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), "berth sealed strings v1", 64)).subarray(0, 32);
      expect(open(derived)).to.equal(SECRET);
      expect(() => open(key), "the at-rest key does not open it").to.throw();
    });
  });

  describe("through the store", () => {
    let u: UnitStore;
    let store: ResourceStore;
    const storedSecretEnv = async (ns: string, name: string): Promise<Record<string, string> | undefined> =>
      (await u.ds.query(`SELECT a.spec->'secretEnv' AS s FROM applications a JOIN projects p ON p.id = a.project_id WHERE p.name = $1 AND a.name = $2`, [ns, name]))[0]?.s;
    const maxRv = async (): Promise<number> => Number((await u.ds.query(`SELECT coalesce(max(rv), 0) AS rv FROM resource_changes`))[0].rv);

    before(async () => {
      u = await unitStore();
      store = u.stores.resources;
    });

    beforeEach(async () => {
      await u.reset();
      for (const name of ["shop", "other"]) await store.create({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name }, spec: {} }, ADMIN);
    });

    it("stores ciphertext and shows the same sealed string on every read: get, list, watch, the write's answer", async () => {
      const from = await store.currentResourceVersion();
      const created = await store.create(app("shop", "web", { TOKEN: SECRET }), ADMIN);
      const sealed = created.object.spec!.secretEnv as Record<string, string>;
      expect(sealed.TOKEN).to.match(SEALED);
      const atRest = (await storedSecretEnv("shop", "web"))!;
      expect(atRest.TOKEN).to.match(/^enc:v1:/);
      expect(u.box.decrypt(atRest.TOKEN)).to.equal(SECRET);
      expect((await store.get("Application", "shop", "web"))!.spec!.secretEnv).to.deep.equal(sealed);
      expect((await store.list("Application", { namespace: "shop" })).items[0].spec!.secretEnv).to.deep.equal(sealed);
      const changes = await store.changesSince(from);
      expect(changes.find((c) => c.name === "web")!.object.spec!.secretEnv).to.deep.equal(sealed);
      expect(u.box.open(binding(), sealed.TOKEN)).to.equal(SECRET);
      const rows = JSON.stringify(await u.ds.query(`SELECT object FROM resource_changes UNION ALL SELECT details FROM audit_logs`));
      expect(rows).to.not.contain(SECRET);
      expect(rows, "the change log keeps the stored form").to.contain("enc:v1:");
      const audit = (await u.ds.query(`SELECT details FROM audit_logs WHERE action = 'create' AND details->>'name' = 'web'`))[0].details;
      expect(audit.after.spec.secretEnv, "audit rows keep the placeholder").to.deep.equal({ TOKEN: "<redacted>" });
    });

    it("accepts its own sealed string back: a no-op for the stored object, the secret for a re-created one", async () => {
      const { object } = await store.create(app("shop", "web", { TOKEN: SECRET, OTHER: "o-" + SECRET }), ADMIN);
      const atRest = await storedSecretEnv("shop", "web");
      const rv = await maxRv();
      const again = await store.update({ kind: "Application", namespace: "shop", name: "web" }, ADMIN, "update", (cur) => ({ ...cur!, spec: object.spec }));
      expect(again.changed, "same value: no new resourceVersion").to.equal(false);
      expect(await maxRv()).to.equal(rv);
      expect(await storedSecretEnv("shop", "web"), "the stored ciphertext is kept").to.deep.equal(atRest);
      await store.delete({ kind: "Application", namespace: "shop", name: "web" }, ADMIN);
      const recreated = await store.create({ ...object, metadata: { name: "web", namespace: "shop" } }, ADMIN);
      expect(recreated.object.spec!.secretEnv).to.deep.equal(object.spec!.secretEnv);
      const now = (await storedSecretEnv("shop", "web"))!;
      expect(u.box.decrypt(now.TOKEN)).to.equal(SECRET);
      expect(u.box.decrypt(now.OTHER)).to.equal("o-" + SECRET);
    });

    it("rejects a sealed string moved into another key, object or Project with 422, storing nothing", async () => {
      const sealed = (await store.create(app("shop", "web", { TOKEN: SECRET }), ADMIN)).object.spec!.secretEnv as Record<string, string>;
      await store.create(app("shop", "api", { TOKEN: "mine" }), ADMIN);
      const before = { rv: await maxRv(), api: await storedSecretEnv("shop", "api") };
      const attempts: [string, () => Promise<unknown>][] = [
        ["another key", () => store.update({ kind: "Application", namespace: "shop", name: "web" }, ADMIN, "patch", (cur) => ({ ...cur!, spec: { ...cur!.spec, secretEnv: { ...sealed, COPY: sealed.TOKEN } } }))],
        ["another object", () => store.update({ kind: "Application", namespace: "shop", name: "api" }, ADMIN, "patch", (cur) => ({ ...cur!, spec: { ...cur!.spec, secretEnv: { TOKEN: sealed.TOKEN } } }))],
        ["a new object", () => store.create(app("shop", "copy", { TOKEN: sealed.TOKEN }), ADMIN)],
        ["another Project", () => store.create(app("other", "web", { TOKEN: sealed.TOKEN }), ADMIN)],
      ];
      for (const [what, attempt] of attempts) {
        const e = await rejection(attempt());
        expect(e, what).to.be.instanceOf(ApiError);
        expect(e.code, what).to.equal(422);
        expect(e.message, what).to.match(/spec\.secretEnv\.(TOKEN|COPY): Invalid value: "sealed:v1:[^"]*…": this sealed value belongs to another object or key/);
        expect(e.details.causes[0].field, what).to.match(/^spec\.secretEnv\.(TOKEN|COPY)$/);
      }
      expect(await maxRv(), "nothing was stored").to.equal(before.rv);
      expect(await storedSecretEnv("shop", "api")).to.deep.equal(before.api);
      expect(await store.get("Application", "other", "web")).to.equal(undefined);
      expect(await store.get("Application", "shop", "copy")).to.equal(undefined);
    });

    it("rejects a sealed string from an installation with another key", async () => {
      const sealed = (await store.create(app("shop", "web", { TOKEN: SECRET }), ADMIN)).object.spec!.secretEnv as Record<string, string>;
      await store.delete({ kind: "Application", namespace: "shop", name: "web" }, ADMIN);
      const elsewhere = new ResourceStore(u.ds, new SecretBox(randomBytes(32)), () => undefined);
      const e = await rejection(elsewhere.create(app("shop", "web", { TOKEN: sealed.TOKEN }), ADMIN));
      expect(e.code).to.equal(422);
      expect(e.message).to.contain("spec.secretEnv.TOKEN: Invalid value:");
      expect(await store.get("Application", "shop", "web")).to.equal(undefined);
    });

    it("takes <redacted> as the stored value, and refuses it where there is none", async () => {
      const e = await rejection(store.create(app("shop", "web", { TOKEN: "<redacted>" }), ADMIN));
      expect(e.code).to.equal(422);
      expect(e.message).to.equal('Application.berth.dev "web" is invalid: spec.secretEnv.TOKEN: "<redacted>" keeps a stored value, and this object has none');
      expect(await store.get("Application", "shop", "web")).to.equal(undefined);
      await store.create(app("shop", "web", { TOKEN: SECRET }), ADMIN);
      const atRest = await storedSecretEnv("shop", "web");
      const kept = await store.update({ kind: "Application", namespace: "shop", name: "web" }, ADMIN, "update", (cur) => ({ ...cur!, spec: { ...cur!.spec, secretEnv: { TOKEN: "<redacted>" } } }));
      expect(kept.changed).to.equal(false);
      expect(await storedSecretEnv("shop", "web")).to.deep.equal(atRest);
      const added = await rejection(store.update({ kind: "Application", namespace: "shop", name: "web" }, ADMIN, "patch", (cur) => ({ ...cur!, spec: { ...cur!.spec, secretEnv: { TOKEN: "<redacted>", NEW: "<redacted>" } } })));
      expect(added.message).to.contain('spec.secretEnv.NEW: "<redacted>" keeps a stored value, and this object has none');
      expect(await storedSecretEnv("shop", "web")).to.deep.equal(atRest);
    });

    it("seals the last-applied annotation's copy the same way, and checks it on the way in", async () => {
      const applied = (value: string): Record<string, string> => ({ "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify(app("shop", "web", { TOKEN: value })) + "\n" });
      const { object } = await store.create(app("shop", "web", { TOKEN: SECRET }, applied(SECRET)), ADMIN);
      const shown = JSON.parse(object.metadata.annotations!["kubectl.kubernetes.io/last-applied-configuration"]);
      expect(shown.spec.secretEnv.TOKEN).to.equal((object.spec!.secretEnv as any).TOKEN);
      const raw = (await u.ds.query(`SELECT annotations FROM applications WHERE name = 'web'`))[0].annotations["kubectl.kubernetes.io/last-applied-configuration"];
      expect(raw).to.not.contain(SECRET).and.not.contain("sealed:v1:");
      await store.delete({ kind: "Application", namespace: "shop", name: "web" }, ADMIN);
      const again = await store.create({ ...object, metadata: { name: "web", namespace: "shop", annotations: object.metadata.annotations } }, ADMIN);
      expect(again.object.metadata.annotations).to.deep.equal(object.metadata.annotations);
      const foreign = new SecretBox(randomBytes(32)).seal(binding(), SECRET);
      const e = await rejection(store.create(app("shop", "bad", { TOKEN: SECRET }, applied(foreign)), ADMIN));
      expect(e.details.causes[0].field).to.equal("metadata.annotations[kubectl.kubernetes.io/last-applied-configuration].spec.secretEnv.TOKEN");
    });

    it("rejects a whole batch when one item carries a foreign sealed string", async () => {
      const sealed = (await store.create(app("shop", "web", { TOKEN: SECRET }), ADMIN)).object.spec!.secretEnv as Record<string, string>;
      const rv = await maxRv();
      const put = (ns: string, name: string, secretEnv: Record<string, string>) => ({ kind: "Application", namespace: ns, name, action: "apply", mutate: () => app(ns, name, secretEnv) });
      const e = await rejection(store.batch([put("shop", "fine", { TOKEN: "ok" }), put("other", "web", { TOKEN: sealed.TOKEN })], ADMIN));
      expect(e).to.be.instanceOf(BatchError);
      expect(e.index).to.equal(1);
      expect(e.failure.code).to.equal(422);
      expect(await maxRv()).to.equal(rv);
      expect(await store.get("Application", "shop", "fine")).to.equal(undefined);
    });

    it("gives the runtime only at-rest ciphertext: a placeholder, a sealed string or plaintext is refused", () => {
      const sealed = u.box.seal(binding(), SECRET);
      expect(unsealSecretEnv(u.box, { secretEnv: { TOKEN: u.box.encrypt(SECRET) } })).to.deep.equal({ TOKEN: SECRET });
      for (const v of ["<redacted>", sealed, SECRET, u.box.encrypt("<redacted>"), u.box.encrypt(sealed), new SecretBox(randomBytes(32)).encrypt(SECRET)]) {
        expect(() => unsealSecretEnv(u.box, { secretEnv: { TOKEN: v } }), v).to.throw(SecretEnvError, "spec.secretEnv.TOKEN");
      }
    });

    it("the Application reconciler reports a value it cannot deliver and starts nothing", async () => {
      const fake = new FakeDriver();
      fake.images.set("berth-test/busybox:1", { cmd: ["sh"] });
      const s = u.stores;
      const traffic = { withdraw: async () => undefined, isWithdrawn: () => false, removed: async () => undefined };
      const reconciler = new ApplicationReconciler({ store: s.resources, events: s.events, driver: fake, traffic, box: u.box, credentials: s.credentials, revisions: s.revisions, volumes: s.volumes, metrics: u.metrics });
      await store.create(app("shop", "web", { TOKEN: SECRET }), ADMIN);
      // Data written before this rule (or by hand): the placeholder itself stored as the value.
      await u.ds.query(`UPDATE applications SET spec = jsonb_set(spec, '{secretEnv,TOKEN}', '"<redacted>"') WHERE name = 'web'`);
      await reconciler.reconcile({ kind: "Application", namespace: "shop", name: "web" }, ctx()).catch(() => undefined);
      expect(fake.containers.size, "no container got the placeholder").to.equal(0);
      const ready = ((await store.get("Application", "shop", "web"))!.status!.conditions as any[]).find((c) => c.type === "Ready");
      expect(ready).to.include({ status: "False", reason: "SecretUnreadable" });
      expect(ready.message).to.contain("spec.secretEnv.TOKEN");
    });
  });

  describe("a Sync's secret fields (spec.source.git.auth.token, spec.webhook.secret)", () => {
    let u: UnitStore;
    let store: ResourceStore;
    const TOKEN = "ghp_" + randomBytes(12).toString("hex");
    const HOOK = "whs-" + randomBytes(12).toString("hex");
    const sync = (name: string, token: string, secret: string): ResourceObject => ({
      apiVersion: "berth.dev/v1alpha1",
      kind: "Sync",
      metadata: { name },
      spec: { source: { git: { url: "https://git.example.com/infra.git", branch: "main", auth: { token } } }, webhook: { secret } },
    });
    const storedSpec = async (name: string): Promise<any> => (await u.ds.query(`SELECT spec FROM syncs WHERE name = $1`, [name]))[0]?.spec;
    const fields = (o: ResourceObject): { token: string; secret: string } => ({ token: (o.spec as any).source.git.auth.token, secret: (o.spec as any).webhook.secret });
    const maxRv = async (): Promise<number> => Number((await u.ds.query(`SELECT coalesce(max(rv), 0) AS rv FROM resource_changes`))[0].rv);

    before(async () => {
      u = await unitStore();
      store = u.stores.resources;
    });

    beforeEach(async () => {
      await u.reset();
      // Syncs are cluster-scoped: a TRUNCATE of projects does not reach them.
      await u.ds.query(`TRUNCATE syncs`);
      // The change log must not be empty, or a read from its start is "too old".
      await store.create({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "shop" }, spec: {} }, ADMIN);
    });

    it("stores both as ciphertext and shows sealed strings on get, list, watch and the write's answer; audit rows keep <redacted>", async () => {
      const from = await store.currentResourceVersion();
      const created = await store.create(sync("infra", TOKEN, HOOK), ADMIN);
      const sealed = fields(created.object);
      expect(sealed.token).to.match(SEALED);
      expect(sealed.secret).to.match(SEALED);
      const atRest = await storedSpec("infra");
      expect(atRest.source.git.auth.token).to.match(/^enc:v1:/);
      expect(atRest.webhook.secret).to.match(/^enc:v1:/);
      expect(u.box.decrypt(atRest.source.git.auth.token)).to.equal(TOKEN);
      expect(u.box.decrypt(atRest.webhook.secret)).to.equal(HOOK);
      expect(atRest.source.git.url, "the other fields are untouched").to.equal("https://git.example.com/infra.git");
      expect(fields((await store.get("Sync", undefined, "infra"))!)).to.deep.equal(sealed);
      expect(fields((await store.list("Sync")).items[0])).to.deep.equal(sealed);
      expect(fields((await store.changesSince(from)).find((c) => c.name === "infra")!.object)).to.deep.equal(sealed);
      expect(u.box.open({ kind: "Sync", namespace: undefined, name: "infra", field: "spec.source.git.auth.token" }, sealed.token)).to.equal(TOKEN);
      expect(u.box.open({ kind: "Sync", namespace: undefined, name: "infra", field: "spec.webhook.secret" }, sealed.secret)).to.equal(HOOK);
      const everything = JSON.stringify(await u.ds.query(`SELECT row_to_json(s)::text AS r FROM syncs s UNION ALL SELECT object::text FROM resource_changes UNION ALL SELECT details::text FROM audit_logs`));
      expect(everything).to.not.contain(TOKEN).and.not.contain(HOOK);
      const audit = (await u.ds.query(`SELECT details FROM audit_logs WHERE action = 'create' AND details->>'name' = 'infra'`))[0].details;
      expect(fields(audit.after)).to.deep.equal({ token: "<redacted>", secret: "<redacted>" });
    });

    it("round-trips: the read object written back is a no-op, and re-creates the secrets after a delete", async () => {
      const { object } = await store.create(sync("infra", TOKEN, HOOK), ADMIN);
      const atRest = await storedSpec("infra");
      const rv = await maxRv();
      const again = await store.update({ kind: "Sync", namespace: undefined, name: "infra" }, ADMIN, "update", (cur) => ({ ...cur!, spec: object.spec }));
      expect(again.changed).to.equal(false);
      expect(await maxRv()).to.equal(rv);
      expect(await storedSpec("infra")).to.deep.equal(atRest);
      const plainAgain = await store.update({ kind: "Sync", namespace: undefined, name: "infra" }, ADMIN, "update", (cur) => ({ ...cur!, spec: sync("infra", TOKEN, HOOK).spec }));
      expect(plainAgain.changed, "the same plaintext keeps the stored ciphertext").to.equal(false);
      await store.delete({ kind: "Sync", namespace: undefined, name: "infra" }, ADMIN);
      const recreated = await store.create({ ...object, metadata: { name: "infra" } }, ADMIN);
      expect(fields(recreated.object)).to.deep.equal(fields(object));
      expect(unsealSyncSecrets(u.box, (await store.getStored("Sync", undefined, "infra"))!)).to.deep.equal({ token: TOKEN, webhookSecret: HOOK });
      expect(await store.syncWebhookSecret("infra")).to.equal(HOOK);
      expect(await store.syncWebhookSecret("absent")).to.equal(undefined);
    });

    it("rejects a sealed string moved into the other field or another Sync with 422, storing nothing", async () => {
      const sealed = fields((await store.create(sync("infra", TOKEN, HOOK), ADMIN)).object);
      const rv = await maxRv();
      const swapped = await rejection(store.create(sync("other", sealed.secret, sealed.token), ADMIN));
      expect(swapped.code).to.equal(422);
      expect(swapped.details.causes.map((c: any) => c.field).sort()).to.deep.equal(["spec.source.git.auth.token", "spec.webhook.secret"]);
      expect(swapped.message).to.not.contain(TOKEN).and.not.contain(HOOK);
      const moved = await rejection(store.update({ kind: "Sync", namespace: undefined, name: "infra" }, ADMIN, "patch", (cur) => ({ ...cur!, spec: { ...cur!.spec, webhook: { secret: sealed.token } } })));
      expect(moved.details.causes[0].field).to.equal("spec.webhook.secret");
      expect(await maxRv()).to.equal(rv);
      expect(await store.get("Sync", undefined, "other")).to.equal(undefined);
    });

    it("seals the copy in kubectl's last-applied annotation too", async () => {
      const annotations = { "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify(sync("infra", TOKEN, HOOK)) };
      const { object } = await store.create({ ...sync("infra", TOKEN, HOOK), metadata: { name: "infra", annotations } }, ADMIN);
      const shown = JSON.parse(object.metadata.annotations!["kubectl.kubernetes.io/last-applied-configuration"]);
      expect(fields(shown)).to.deep.equal(fields(object));
      const raw = JSON.stringify((await u.ds.query(`SELECT annotations FROM syncs WHERE name = 'infra'`))[0].annotations);
      expect(raw).to.not.contain(TOKEN).and.not.contain(HOOK);
    });

    it("gives the controller plaintext only from this installation's ciphertext", () => {
      const spec = (token: string, secret: string) => sync("x", token, secret).spec;
      expect(unsealSyncSecrets(u.box, { spec: spec(u.box.encrypt(TOKEN), u.box.encrypt(HOOK)) })).to.deep.equal({ token: TOKEN, webhookSecret: HOOK });
      expect(unsealSyncSecrets(u.box, { spec: { source: { git: { url: "u" } } } }), "absent fields are left out").to.deep.equal({});
      expect(() => unsealSyncSecrets(u.box, { spec: spec(TOKEN, u.box.encrypt(HOOK)) })).to.throw(SecretEnvError, "spec.source.git.auth.token");
      expect(() => unsealSyncSecrets(u.box, { spec: spec(u.box.encrypt(TOKEN), u.box.encrypt("<redacted>")) })).to.throw(SecretEnvError, "spec.webhook.secret");
    });
  });
});

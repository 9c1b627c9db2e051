/**
 * The installation keyring (ADR 0016): key ids, the text forms of the key file and of
 * BERTH_SECRET_KEY, a SecretBox over several keys (encrypt with the primary, open with any),
 * and the re-encryption of the values inside a stored text. No store.
 */
import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fingerprint, formatKeyring, generateKey, loadKeyring, parseKeyring, writeKeyFile } from "../../src/store/keyring.js";
import { reencryptText } from "../../src/store/key-rotation.js";
import { SecretBox } from "../../src/store/secrets.js";

const binding = { kind: "Application", namespace: "shop", name: "web", field: "spec.secretEnv.TOKEN" };
const SECRET = "s3cr3t-" + randomBytes(6).toString("hex");

describe("keyring", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), "berth-keyring-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe("text forms", () => {
    it("a one-line key (hex, base64, passphrase) is one key whose id is its fingerprint, as before keyrings", () => {
      const key = randomBytes(32);
      for (const text of [key.toString("hex"), key.toString("base64"), ` ${key.toString("hex")}\n`]) {
        const ring = parseKeyring(text);
        expect(ring).to.have.length(1);
        expect(ring[0].key.equals(key)).to.equal(true);
        expect(ring[0].id).to.equal(fingerprint(key)).and.match(/^k[0-9a-f]{12}$/);
      }
      const pass = parseKeyring("correct horse, battery: staple");
      expect(pass).to.have.length(1);
      expect(pass[0].key).to.have.length(32);
      // BERTH_SECRET_KEY was never trimmed: a passphrase with spaces around it keeps its key.
      const spaced = loadKeyring(dir, { BERTH_SECRET_KEY: " spaced pass " }).keys[0].key;
      expect(spaced.equals(createHash("sha256").update(" spaced pass ").digest())).to.equal(true);
    });

    it("the fingerprint names a key without revealing it", () => {
      const key = randomBytes(32);
      expect(fingerprint(key)).to.not.contain(key.toString("hex").slice(0, 12));
      expect(fingerprint(key)).to.equal(fingerprint(Buffer.from(key)));
      expect(fingerprint(randomBytes(32))).to.not.equal(fingerprint(key));
    });

    it("entries `<id>:<64 hex>` by line (file) or by comma (BERTH_SECRET_KEY), primary first; a duplicate id is refused", () => {
      const a = generateKey();
      const b = generateKey();
      const file = formatKeyring([a, b]);
      expect(file.trim().split("\n")).to.have.length(2);
      for (const text of [file, `${a.id}:${a.key.toString("hex")},${b.id}:${b.key.toString("hex")}`]) {
        const ring = parseKeyring(text);
        expect(ring.map((k) => k.id)).to.deep.equal([a.id, b.id]);
        expect(ring[1].key.equals(b.key)).to.equal(true);
      }
      expect(() => parseKeyring(`x:${a.key.toString("hex")}\nx:${b.key.toString("hex")}`)).to.throw(/twice/);
      expect(() => parseKeyring("  \n")).to.throw(/empty/);
    });

    it("loadKeyring: BERTH_SECRET_KEY first; else the key file, made on first start with mode 0600 and read back the same", () => {
      const env = generateKey();
      const fromEnv = loadKeyring(dir, { BERTH_SECRET_KEY: `${env.id}:${env.key.toString("hex")}` });
      expect(fromEnv.source).to.deep.equal({ kind: "env" });
      expect(fromEnv.keys[0].id).to.equal(env.id);
      const first = loadKeyring(dir, {});
      const file = path.join(dir, "secret.key");
      expect(first.source).to.deep.equal({ kind: "file", path: file });
      expect(statSync(file).mode & 0o777).to.equal(0o600);
      expect(loadKeyring(dir, {}).keys[0].key.equals(first.keys[0].key)).to.equal(true);
    });

    it("writeKeyFile replaces the file atomically with mode 0600 and leaves no temporary file", () => {
      const file = path.join(dir, "secret.key");
      writeFileSync(file, randomBytes(32).toString("hex"));
      const a = generateKey();
      const b = generateKey();
      writeKeyFile(file, [a, b]);
      expect(parseKeyring(readFileSync(file, "utf8")).map((k) => k.id)).to.deep.equal([a.id, b.id]);
      expect(statSync(file).mode & 0o777).to.equal(0o600);
      expect(readFileSync(file, "utf8")).to.not.contain("tmp");
    });
  });

  describe("a SecretBox over several keys", () => {
    const oldKey = generateKey();
    const newKey = generateKey();

    it("encrypts with the primary; opens under any key of the ring and tells which; a retired key opens nothing new", () => {
      const before = new SecretBox([oldKey]);
      const old = before.encrypt(SECRET);
      const during = new SecretBox([newKey, oldKey]);
      const fresh = during.encrypt(SECRET);
      expect(during.keyIdOf(old)).to.equal(oldKey.id);
      expect(during.keyIdOf(fresh)).to.equal(newKey.id);
      expect(during.decrypt(old)).to.equal(SECRET);
      expect(during.isCurrent(fresh)).to.equal(true);
      expect(during.isCurrent(old)).to.equal(false);
      expect(before.tryDecrypt(fresh), "the old key alone cannot open a value of the new").to.equal(undefined);
      const after = new SecretBox([newKey]);
      expect(after.tryDecrypt(old)).to.equal(undefined);
      expect(() => after.decrypt(old)).to.throw(/not encrypted with a key of this installation/);
      expect(after.decrypt(fresh)).to.equal(SECRET);
    });

    it("a one-key box made from a Buffer is the same key as its keyring entry (ids are fingerprints)", () => {
      const box = new SecretBox(oldKey.key);
      expect(box.primaryId).to.equal(oldKey.id);
      expect(new SecretBox([oldKey]).decrypt(box.encrypt(SECRET))).to.equal(SECRET);
    });

    it("seals with the primary; opens sealed strings of every key in the ring; after retirement the old one does not open", () => {
      const oldSealed = new SecretBox([oldKey]).seal(binding, SECRET);
      const during = new SecretBox([newKey, oldKey]);
      expect(during.open(binding, oldSealed)).to.equal(SECRET);
      const newSealed = during.seal(binding, SECRET);
      expect(newSealed).to.not.equal(oldSealed);
      expect(newSealed).to.equal(new SecretBox([newKey]).seal(binding, SECRET));
      expect(new SecretBox([newKey]).open(binding, oldSealed)).to.equal(undefined);
    });

    it("setKeys switches the ring in place; keys() and keyIds() list it primary first; a bad ring is refused", () => {
      const box = new SecretBox([oldKey]);
      box.setKeys([newKey, oldKey]);
      expect(box.keyIds()).to.deep.equal([newKey.id, oldKey.id]);
      expect(box.keys()[0].key.equals(newKey.key)).to.equal(true);
      expect(() => box.setKeys([])).to.throw(/at least one/);
      expect(() => box.setKeys([{ id: "short", key: Buffer.alloc(8) }])).to.throw(/32 bytes/);
    });
  });

  describe("reencryptText", () => {
    const oldKey = generateKey();
    const newKey = generateKey();

    it("re-encrypts every old-key value in a text (also inside an annotation's JSON string), keeps new ones, counts what no key opens", () => {
      const old = new SecretBox([oldKey]);
      const box = new SecretBox([newKey, oldKey]);
      const a = old.encrypt("alpha");
      const b = box.encrypt("beta");
      const foreign = new SecretBox([generateKey()]).encrypt("gamma");
      const annotation = JSON.stringify({ spec: { secretEnv: { A: a } } });
      const text = JSON.stringify({ spec: { secretEnv: { A: a, B: b, C: foreign } }, annotations: { last: annotation } });
      const r = reencryptText(box, text);
      expect(r.values).to.equal(2);
      expect(r.unreadable).to.equal(1);
      const parsed = JSON.parse(r.text);
      expect(parsed.spec.secretEnv.A).to.not.equal(a);
      expect(box.keyIdOf(parsed.spec.secretEnv.A)).to.equal(newKey.id);
      expect(box.decrypt(parsed.spec.secretEnv.A)).to.equal("alpha");
      expect(parsed.spec.secretEnv.B).to.equal(b);
      expect(parsed.spec.secretEnv.C).to.equal(foreign);
      const inner = JSON.parse(parsed.annotations.last);
      expect(box.keyIdOf(inner.spec.secretEnv.A)).to.equal(newKey.id);
      expect(reencryptText(box, r.text).values, "a second pass finds nothing to do").to.equal(0);
    });
  });
});

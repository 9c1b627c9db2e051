import { createCipheriv, createDecipheriv, randomBytes, createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ResourceObject } from "../core/types.js";
/**
 * Secret values at rest: the installation key (SecretBox, AES-256-GCM) and what the store does
 * with it on every write (seal) and read (redact); only the runtime asks for plaintext.
 */

/** Prefix of an encrypted value as stored: version, then base64url(iv | tag | ciphertext). */
const PREFIX = "enc:v1:";
export const REDACTED = "<redacted>";

/** AES-256-GCM encryption of secret values at rest (secretEnv, credentials, certificate keys). */
export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error("secret key must be 32 bytes");
    this.key = key;
  }

  /**
   * The key comes from BERTH_SECRET_KEY (64 hex chars or base64 of 32 bytes) or from
   * `<dataDir>/secret.key`, created on first start with mode 0600.
   */
  static fromEnvOrDataDir(dataDir: string, env: NodeJS.ProcessEnv = process.env): SecretBox {
    const fromEnv = env.BERTH_SECRET_KEY;
    if (fromEnv) return new SecretBox(parseKey(fromEnv));
    const file = path.join(dataDir, "secret.key");
    if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
    return new SecretBox(parseKey(readFileSync(file, "utf8").trim()));
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
  }

  decrypt(stored: string): string {
    if (!isEncrypted(stored)) throw new Error("value is not an encrypted secret");
    const raw = Buffer.from(stored.slice(PREFIX.length), "base64url");
    const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  }
}

export function isEncrypted(v: unknown): v is string {
  return typeof v === "string" && v.startsWith(PREFIX);
}

function parseKey(text: string): Buffer {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  const b = Buffer.from(text, "base64");
  if (b.length === 32) return b;
  // Any other passphrase is stretched so that a short key still gives 256 bits.
  return createHash("sha256").update(text).digest();
}


const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

type StringMap = Record<string, string>;

/**
 * Secret values in an incoming spec become ciphertext. A value equal to the stored one (or the
 * redaction placeholder a client read back) keeps the stored ciphertext, so a re-apply of the same
 * manifest is a no-op instead of a new encryption every time.
 */
function sealMap(box: SecretBox, incoming: StringMap, stored: StringMap | undefined): StringMap {
  const out: StringMap = {};
  for (const [key, value] of Object.entries(incoming)) {
    const old = stored?.[key];
    if (old !== undefined && (value === REDACTED || value === old || (isEncrypted(old) && box.decrypt(old) === value))) out[key] = old;
    else out[key] = isEncrypted(value) ? value : box.encrypt(String(value));
  }
  return out;
}

function redactMap(map: StringMap): StringMap {
  return Object.fromEntries(Object.keys(map).map((k) => [k, REDACTED]));
}

function secretEnvOf(spec: unknown): StringMap | undefined {
  const s = spec as { secretEnv?: StringMap } | undefined;
  return s && typeof s.secretEnv === "object" && s.secretEnv !== null ? s.secretEnv : undefined;
}

function withSecretEnv<T extends { spec?: Record<string, unknown> }>(obj: T, secretEnv: StringMap | undefined): T {
  if (!secretEnv || !obj.spec) return obj;
  return { ...obj, spec: { ...obj.spec, secretEnv } };
}

/** kubectl keeps the whole applied manifest, secrets included, in an annotation: seal it too. */
function mapLastApplied(annotations: StringMap | undefined, fn: (applied: { spec?: Record<string, unknown> }) => { spec?: Record<string, unknown> }): StringMap | undefined {
  const raw = annotations?.[LAST_APPLIED];
  if (!raw) return annotations;
  try {
    const applied = JSON.parse(raw);
    return { ...annotations, [LAST_APPLIED]: JSON.stringify(fn(applied)) + (raw.endsWith("\n") ? "\n" : "") };
  } catch {
    return annotations;
  }
}

export function sealObject(box: SecretBox, incoming: ResourceObject, stored: ResourceObject | undefined): ResourceObject {
  const secretEnv = secretEnvOf(incoming.spec);
  let out = secretEnv ? withSecretEnv(incoming, sealMap(box, secretEnv, secretEnvOf(stored?.spec))) : incoming;
  const storedApplied = parseLastApplied(stored?.metadata.annotations);
  const annotations = mapLastApplied(out.metadata.annotations, (applied) => {
    const s = secretEnvOf(applied.spec);
    return s ? withSecretEnv(applied, sealMap(box, s, secretEnvOf(storedApplied?.spec) ?? secretEnvOf(stored?.spec))) : applied;
  });
  if (annotations !== out.metadata.annotations) out = { ...out, metadata: { ...out.metadata, annotations } };
  return out;
}

function parseLastApplied(annotations: StringMap | undefined): { spec?: Record<string, unknown> } | undefined {
  const raw = annotations?.[LAST_APPLIED];
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/** What every reader outside the store sees: secret values replaced by a placeholder. */
export function redactObject(obj: ResourceObject): ResourceObject {
  const secretEnv = secretEnvOf(obj.spec);
  let out = secretEnv ? withSecretEnv(obj, redactMap(secretEnv)) : obj;
  const annotations = mapLastApplied(out.metadata.annotations, (applied) => {
    const s = secretEnvOf(applied.spec);
    return s ? withSecretEnv(applied, redactMap(s)) : applied;
  });
  if (annotations !== out.metadata.annotations) out = { ...out, metadata: { ...out.metadata, annotations } };
  return out;
}

/** For the runtime only (container env): plaintext secret values of a stored spec. */
export function unsealSecretEnv(box: SecretBox, spec: Record<string, unknown> | undefined): StringMap {
  const s = secretEnvOf(spec) ?? {};
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, isEncrypted(v) ? box.decrypt(v) : v]));
}

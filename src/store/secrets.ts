import { createCipheriv, createDecipheriv, randomBytes, createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { invalid, type ValidationCause } from "../core/errors.js";
import type { ResourceObject } from "../core/types.js";
import { isSealed, SealedStrings, type SealBinding } from "./sealed.js";
/**
 * Secret values: the installation key (SecretBox, AES-256-GCM at rest) and what the store does
 * with it on every write (encrypt what comes in, sealed strings opened first) and every read
 * (sealed strings out, ADR 0006); only the runtime asks for plaintext.
 */

/** Prefix of an encrypted value as stored: version, then base64url(iv | tag | ciphertext). */
const PREFIX = "enc:v1:";
export const REDACTED = "<redacted>";

/** AES-256-GCM encryption of secret values at rest (secretEnv, credentials, certificate keys). */
export class SecretBox {
  private readonly key: Buffer;
  private readonly sealed: SealedStrings;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error("secret key must be 32 bytes");
    this.key = key;
    this.sealed = new SealedStrings(key);
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

  /** The plaintext, or undefined when `stored` is not ciphertext this key can open. */
  tryDecrypt(stored: string): string | undefined {
    try {
      return this.decrypt(stored);
    } catch {
      return undefined;
    }
  }

  /** The sealed string the API shows for `plain` in the field `binding` names (ADR 0006). */
  seal(binding: SealBinding, plain: string): string {
    return this.sealed.seal(binding, plain);
  }

  /** The plaintext of a sealed string, or undefined when it belongs to another field, object or installation. */
  open(binding: SealBinding, sealed: string): string | undefined {
    return this.sealed.open(binding, sealed);
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
/** Where a bad value inside kubectl's last-applied annotation is reported. */
const LAST_APPLIED_PATH = `metadata.annotations[${LAST_APPLIED}].spec.secretEnv`;

type StringMap = Record<string, string>;
type Applied = { spec?: Record<string, unknown> };

/** The object a secret value belongs to: sealed strings are bound to it. */
interface Owner {
  kind: string;
  namespace: string | undefined;
  name: string;
}

/** What sealing one incoming map needs: the key, the owner, where to report, what went wrong. */
interface SealTarget {
  box: SecretBox;
  owner: Owner;
  path: string;
  causes: ValidationCause[];
}

function ownerOf(obj: ResourceObject): Owner {
  return { kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name };
}

/**
 * The spec's value and the annotation's copy of it share one binding, so both read back as the
 * same sealed string and either can be sent where the other was.
 */
function bindingOf(owner: Owner, key: string): SealBinding {
  return { ...owner, field: `spec.secretEnv.${key}` };
}

function reject(t: SealTarget, key: string, message: string): undefined {
  t.causes.push({ field: `${t.path}.${key}`, message, reason: "FieldValueInvalid" });
  return undefined;
}

/** A sealed string in an error message: enough to recognise it, not the whole blob. */
function shortened(value: string): string {
  return JSON.stringify(value.length > 24 ? `${value.slice(0, 22)}…` : value);
}

/** What an incoming value means in plaintext; undefined (and a cause) when it cannot be opened. */
function plaintextOf(t: SealTarget, key: string, value: string): string | undefined {
  if (isSealed(value)) return t.box.open(bindingOf(t.owner, key), value) ?? reject(t, key, `Invalid value: ${shortened(value)}: this sealed value belongs to another object or key`);
  // At-rest ciphertext comes back only from the store itself (rollout undo writes a revision's spec).
  if (isEncrypted(value)) return t.box.tryDecrypt(value) ?? reject(t, key, `Invalid value: ${shortened(value)}: not encrypted with this installation's key`);
  return value;
}

/**
 * One incoming secret value as it is stored. The same plaintext as the stored ciphertext (or the
 * placeholder) keeps that ciphertext, so a re-apply is a no-op instead of a new encryption.
 */
function sealValue(t: SealTarget, key: string, value: string, old: string | undefined): string | undefined {
  if (value === REDACTED) return old ?? reject(t, key, `"${REDACTED}" keeps a stored value, and this object has none`);
  const plain = plaintextOf(t, key, value);
  if (plain === undefined) return undefined;
  return old !== undefined && isEncrypted(old) && t.box.tryDecrypt(old) === plain ? old : t.box.encrypt(plain);
}

function sealMap(t: SealTarget, incoming: StringMap, stored: StringMap | undefined): StringMap {
  const out: StringMap = {};
  for (const [key, value] of Object.entries(incoming)) {
    const next = sealValue(t, key, String(value), stored?.[key]);
    if (next !== undefined) out[key] = next;
  }
  return out;
}

/** How a reader sees a stored value: its sealed string, or the placeholder if it cannot be opened. */
function sealedOf(box: SecretBox, owner: Owner, key: string, stored: string): string {
  const plain = isEncrypted(stored) ? box.tryDecrypt(stored) : undefined;
  // The placeholder keeps the stored value on a write, so a broken value is not lost by a round trip.
  return plain === undefined ? REDACTED : box.seal(bindingOf(owner, key), plain);
}

function redactMap(map: StringMap): StringMap {
  return Object.fromEntries(Object.keys(map).map((k) => [k, REDACTED]));
}

function secretEnvOf(spec: unknown): StringMap | undefined {
  const s = spec as { secretEnv?: StringMap } | undefined;
  return s && typeof s.secretEnv === "object" && s.secretEnv !== null ? s.secretEnv : undefined;
}

function withSecretEnv<T extends Applied>(obj: T, secretEnv: StringMap | undefined): T {
  if (!secretEnv || !obj.spec) return obj;
  return { ...obj, spec: { ...obj.spec, secretEnv } };
}

/** kubectl keeps the whole applied manifest, secrets included, in an annotation: it is treated like the spec. */
function mapLastApplied(annotations: StringMap | undefined, fn: (applied: Applied) => Applied): StringMap | undefined {
  const raw = annotations?.[LAST_APPLIED];
  if (!raw) return annotations;
  try {
    const applied = JSON.parse(raw);
    return { ...annotations, [LAST_APPLIED]: JSON.stringify(fn(applied)) + (raw.endsWith("\n") ? "\n" : "") };
  } catch {
    return annotations;
  }
}

function parseLastApplied(annotations: StringMap | undefined): Applied | undefined {
  const raw = annotations?.[LAST_APPLIED];
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/** `fn` applied to spec.secretEnv and to the secretEnv inside the last-applied annotation. */
function mapSecretEnvs(obj: ResourceObject, fn: (secretEnv: StringMap, inAnnotation: boolean) => StringMap): ResourceObject {
  const secretEnv = secretEnvOf(obj.spec);
  let out = secretEnv ? withSecretEnv(obj, fn(secretEnv, false)) : obj;
  const annotations = mapLastApplied(out.metadata.annotations, (applied) => {
    const s = secretEnvOf(applied.spec);
    return s ? withSecretEnv(applied, fn(s, true)) : applied;
  });
  if (annotations !== out.metadata.annotations) out = { ...out, metadata: { ...out.metadata, annotations } };
  return out;
}

/**
 * The stored form of an incoming object: every secret value as at-rest ciphertext. A sealed
 * string is opened for this object and field first; one that does not open, or a placeholder
 * with nothing stored behind it, is a 422 and nothing is stored.
 */
export function sealObject(box: SecretBox, incoming: ResourceObject, stored: ResourceObject | undefined): ResourceObject {
  const causes: ValidationCause[] = [];
  const owner = ownerOf(incoming);
  const storedSpec = secretEnvOf(stored?.spec);
  // The annotation's previous copy of a value first, else the spec's: either holds the same secret.
  const storedApplied = { ...storedSpec, ...secretEnvOf(parseLastApplied(stored?.metadata.annotations)?.spec) };
  const out = mapSecretEnvs(incoming, (map, inAnnotation) =>
    inAnnotation ? sealMap({ box, owner, causes, path: LAST_APPLIED_PATH }, map, storedApplied) : sealMap({ box, owner, causes, path: "spec.secretEnv" }, map, storedSpec),
  );
  if (causes.length) throw invalid(incoming.kind, incoming.metadata.name, causes);
  return out;
}

/** What API readers see (ADR 0006): every secret value as a sealed string bound to its field. */
export function sealedView(box: SecretBox, obj: ResourceObject): ResourceObject {
  const owner = ownerOf(obj);
  return mapSecretEnvs(obj, (map) => Object.fromEntries(Object.entries(map).map(([k, v]) => [k, sealedOf(box, owner, k, v)])));
}

/** For records that need no round trip (audit rows, revision history): a placeholder only. */
export function redactObject(obj: ResourceObject): ResourceObject {
  return mapSecretEnvs(obj, redactMap);
}

/** A stored secret value the runtime must not deliver: the reconciler reports it instead. */
export class SecretEnvError extends Error {}

function unsealValue(box: SecretBox, key: string, stored: unknown): string {
  const plain = isEncrypted(stored) ? box.tryDecrypt(stored) : undefined;
  if (plain === undefined) throw new SecretEnvError(`spec.secretEnv.${key} is not a value this installation encrypted; set it again`);
  // Not even from old data: a container never receives the placeholder or a sealed string.
  if (plain === REDACTED || isSealed(plain)) throw new SecretEnvError(`spec.secretEnv.${key} holds a placeholder, not a secret; set it again`);
  return plain;
}

/** For the runtime only (container env): plaintext secret values of a stored spec. */
export function unsealSecretEnv(box: SecretBox, spec: Record<string, unknown> | undefined): StringMap {
  const s = secretEnvOf(spec) ?? {};
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, unsealValue(box, k, v)]));
}

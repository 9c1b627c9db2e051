import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { invalid, type ValidationCause } from "../core/errors.js";
import { SECRET_FIELDS } from "../core/secret-fields.js";
import type { ResourceObject } from "../core/types.js";
import { fingerprint, loadKeyring, type KeyEntry, type KeySource } from "./keyring.js";
import { isSealed, SealedStrings, type SealBinding } from "./sealed.js";
/**
 * Secret values: the installation key (SecretBox, AES-256-GCM at rest) and what the store does
 * with it on every write (encrypt what comes in, sealed strings opened first) and every read
 * (sealed strings out, ADR 0006); only the runtime asks for plaintext.
 */

/** Prefix of an encrypted value as stored: version, then base64url(iv | tag | ciphertext). */
const PREFIX = "enc:v1:";
export const REDACTED = "<redacted>";

/**
 * AES-256-GCM encryption of secret values at rest (secretEnv, credentials, certificate keys)
 * under the installation's keyring (ADR 0016): new values are encrypted with the primary key;
 * a stored value opens under any key of the ring (GCM's tag tells which: a wrong key never
 * authenticates), so during a rotation old and new ciphertext both read.
 */
export class SecretBox {
  private ring: { entry: KeyEntry; sealed: SealedStrings }[] = [];
  /** Where the keyring came from (a rotation rewrites a file, never the environment). */
  readonly source: KeySource | undefined;

  constructor(keys: Buffer | readonly KeyEntry[], source?: KeySource) {
    this.source = source;
    this.setKeys(Buffer.isBuffer(keys) ? [{ id: fingerprint(keys), key: keys }] : keys);
  }

  /**
   * The key comes from BERTH_SECRET_KEY or from `<dataDir>/secret.key`, created on first start
   * with mode 0600; either may hold a keyring (src/store/keyring.ts).
   */
  static fromEnvOrDataDir(dataDir: string, env: NodeJS.ProcessEnv = process.env): SecretBox {
    const { keys, source } = loadKeyring(dataDir, env);
    return new SecretBox(keys, source);
  }

  /** Replaces the keyring in place (every component holding this box sees it at once); primary first. */
  setKeys(keys: readonly KeyEntry[]): void {
    if (!keys.length) throw new Error("a keyring needs at least one key");
    for (const k of keys) if (k.key.length !== 32) throw new Error("secret key must be 32 bytes");
    this.ring = keys.map((entry) => ({ entry: { id: entry.id, key: Buffer.from(entry.key) }, sealed: new SealedStrings(entry.key) }));
  }

  /** The keys, primary first (for the rotation, which persists them; never shown). */
  keys(): KeyEntry[] {
    return this.ring.map((r) => ({ id: r.entry.id, key: Buffer.from(r.entry.key) }));
  }

  /** The ids of the keys, primary first. */
  keyIds(): string[] {
    return this.ring.map((r) => r.entry.id);
  }

  get primaryId(): string {
    return this.ring[0].entry.id;
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.ring[0].entry.key, iv);
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
  }

  decrypt(stored: string): string {
    const opened = this.openAtRest(stored);
    if (!opened) throw new Error(isEncrypted(stored) ? "value is not encrypted with a key of this installation" : "value is not an encrypted secret");
    return opened.plain;
  }

  /** The plaintext, or undefined when `stored` is not ciphertext a key of the ring can open. */
  tryDecrypt(stored: string): string | undefined {
    return this.openAtRest(stored)?.plain;
  }

  /** The id of the key `stored` is encrypted with, or undefined when none of the ring opens it. */
  keyIdOf(stored: string): string | undefined {
    return this.openAtRest(stored)?.id;
  }

  /** Whether `stored` is ciphertext of the primary key (what every write produces). */
  isCurrent(stored: string): boolean {
    return this.keyIdOf(stored) === this.primaryId;
  }

  /** The plaintext of `stored` when it is under the primary key; undefined otherwise (an old key's too). */
  openCurrent(stored: string): string | undefined {
    const opened = this.openAtRest(stored);
    return opened?.id === this.primaryId ? opened.plain : undefined;
  }

  /** The sealed string the API shows for `plain` in the field `binding` names (ADR 0006), under the primary key. */
  seal(binding: SealBinding, plain: string): string {
    return this.ring[0].sealed.seal(binding, plain);
  }

  /** The plaintext of a sealed string, or undefined when it belongs to another field, object or installation (or a retired key). */
  open(binding: SealBinding, sealed: string): string | undefined {
    for (const r of this.ring) {
      const plain = r.sealed.open(binding, sealed);
      if (plain !== undefined) return plain;
    }
    return undefined;
  }

  private openAtRest(stored: string): { plain: string; id: string } | undefined {
    if (!isEncrypted(stored)) return undefined;
    const raw = Buffer.from(stored.slice(PREFIX.length), "base64url");
    if (raw.length < 28) return undefined;
    for (const r of this.ring) {
      try {
        const decipher = createDecipheriv("aes-256-gcm", r.entry.key, raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(12, 28));
        return { plain: Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8"), id: r.entry.id };
      } catch {
        // not this key: the next one
      }
    }
    return undefined;
  }
}

export function isEncrypted(v: unknown): v is string {
  return typeof v === "string" && v.startsWith(PREFIX);
}

export { SECRET_FIELDS };

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
/** Where a bad value inside kubectl's last-applied annotation is reported (before its field path). */
const LAST_APPLIED_PREFIX = `metadata.annotations[${LAST_APPLIED}].`;

type StringMap = Record<string, string>;
type Spec = Record<string, unknown>;
type Applied = { spec?: Spec };
/** What to do with one secret value; `field` is its full path, e.g. `spec.secretEnv.TOKEN`. */
type Visit = (field: string, value: string) => string | undefined;

/** The object a secret value belongs to: sealed strings are bound to it. */
interface Owner {
  kind: string;
  namespace: string | undefined;
  name: string;
}

/** What sealing one incoming value needs: the key, the owner, where to report, what went wrong. */
interface SealTarget {
  box: SecretBox;
  owner: Owner;
  /** Put before the field path in a cause: "" for the spec, the annotation for its copy. */
  prefix: string;
  causes: ValidationCause[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function getAt(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const p of path) cur = isRecord(cur) ? cur[p] : undefined;
  return cur;
}

/** A copy of `obj` with `value` at `path` (every object on the way exists: getAt found a value there). */
function setAt(obj: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  return { ...obj, [head]: rest.length ? setAt(obj[head] as Record<string, unknown>, rest, value) : value };
}

/** `fn` over each key of a secret map; a key `fn` maps to undefined is left out. */
function mapEntries(map: Record<string, unknown>, field: string, fn: Visit): StringMap {
  const out: StringMap = {};
  for (const [key, value] of Object.entries(map)) {
    const next = fn(`${field}.${key}`, String(value));
    if (next !== undefined) out[key] = next;
  }
  return out;
}

/** `fn` over the `entry` key of each object of a map (`spec.registries.<server>.password`); other keys as they are. */
function mapEntryFields(map: Record<string, unknown>, field: string, entry: string, fn: Visit): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(map)) {
    const secret = isRecord(value) ? value[entry] : undefined;
    if (typeof secret !== "string") out[key] = value;
    else {
      const next = fn(`${field}.${key}.${entry}`, secret);
      const { [entry]: _dropped, ...rest } = value as Record<string, unknown>;
      out[key] = next === undefined ? rest : { ...rest, [entry]: next };
    }
  }
  return out;
}

/** `spec` with `fn` applied to every secret value `kind` has in it; the same object when there is none. */
function mapSecrets<T extends Spec | undefined>(kind: string, spec: T, fn: Visit): T {
  if (!isRecord(spec)) return spec;
  let out: Spec = spec;
  for (const f of SECRET_FIELDS[kind] ?? []) {
    const value = getAt(out, f.path);
    const field = `spec.${f.path.join(".")}`;
    if (f.map && f.entry && isRecord(value)) out = setAt(out, f.path, mapEntryFields(value, field, f.entry, fn));
    else if (f.map && isRecord(value)) out = setAt(out, f.path, mapEntries(value, field, fn));
    else if (!f.map && typeof value === "string") out = setAt(out, f.path, fn(field, value) ?? value);
  }
  return out as T;
}

/** Every secret value of a spec by its field path (`spec.secretEnv.TOKEN`, `spec.webhook.secret`). */
function secretsOf(kind: string, spec: Spec | undefined): StringMap {
  const out: StringMap = {};
  mapSecrets(kind, spec, (field, value) => (out[field] = value));
  return out;
}

function ownerOf(obj: ResourceObject): Owner {
  return { kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name };
}

/**
 * The spec's value and the annotation's copy of it share one binding, so both read back as the
 * same sealed string and either can be sent where the other was.
 */
function bindingOf(owner: Owner, field: string): SealBinding {
  return { ...owner, field };
}

function reject(t: SealTarget, field: string, message: string): undefined {
  t.causes.push({ field: `${t.prefix}${field}`, message, reason: "FieldValueInvalid" });
  return undefined;
}

/** A sealed string in an error message: enough to recognise it, not the whole blob. */
function shortened(value: string): string {
  return JSON.stringify(value.length > 24 ? `${value.slice(0, 22)}…` : value);
}

/** What an incoming value means in plaintext; undefined (and a cause) when it cannot be opened. */
function plaintextOf(t: SealTarget, field: string, value: string): string | undefined {
  if (isSealed(value)) return t.box.open(bindingOf(t.owner, field), value) ?? reject(t, field, `Invalid value: ${shortened(value)}: this sealed value belongs to another object or key (or was sealed under a key retired by \`berth rotate-key\`: seal the value again, or set it in plaintext)`);
  // At-rest ciphertext comes back only from the store itself (rollout undo writes a revision's spec).
  if (isEncrypted(value)) return t.box.tryDecrypt(value) ?? reject(t, field, `Invalid value: ${shortened(value)}: not encrypted with this installation's key`);
  return value;
}

/**
 * One incoming secret value as it is stored. The same plaintext as the stored ciphertext (or the
 * placeholder) keeps that ciphertext, so a re-apply is a no-op instead of a new encryption.
 */
function sealValue(t: SealTarget, field: string, value: string, old: string | undefined): string | undefined {
  if (value === REDACTED) return old ?? reject(t, field, `"${REDACTED}" keeps a stored value, and this object has none`);
  const plain = plaintextOf(t, field, value);
  if (plain === undefined) return undefined;
  // Kept only when under the primary key: once a rotation starts, no write stores old-key ciphertext (ADR 0016).
  return old !== undefined && t.box.openCurrent(old) === plain ? old : t.box.encrypt(plain);
}

/** How a reader sees a stored value: its sealed string, or the placeholder if it cannot be opened. */
function sealedOf(box: SecretBox, owner: Owner, field: string, stored: string): string {
  const plain = isEncrypted(stored) ? box.tryDecrypt(stored) : undefined;
  // The placeholder keeps the stored value on a write, so a broken value is not lost by a round trip.
  return plain === undefined ? REDACTED : box.seal(bindingOf(owner, field), plain);
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

/** `fn` applied to every secret value of the spec and of the spec inside the last-applied annotation. */
function mapObjectSecrets(obj: ResourceObject, fn: (field: string, value: string, inAnnotation: boolean) => string | undefined): ResourceObject {
  if (!SECRET_FIELDS[obj.kind]) return obj;
  const spec = mapSecrets(obj.kind, obj.spec, (f, v) => fn(f, v, false));
  let out = spec === obj.spec ? obj : { ...obj, spec };
  const annotations = mapLastApplied(out.metadata.annotations, (applied) => {
    if (!isRecord(applied)) return applied;
    const s = mapSecrets(obj.kind, applied.spec, (f, v) => fn(f, v, true));
    return s === applied.spec ? applied : { ...applied, spec: s };
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
  if (!SECRET_FIELDS[incoming.kind]) return incoming;
  const causes: ValidationCause[] = [];
  const owner = ownerOf(incoming);
  const storedSpec = secretsOf(incoming.kind, stored?.spec);
  // The annotation's previous copy of a value first, else the spec's: either holds the same secret.
  const storedApplied = { ...storedSpec, ...secretsOf(incoming.kind, parseLastApplied(stored?.metadata.annotations)?.spec) };
  const spec: SealTarget = { box, owner, causes, prefix: "" };
  const annotation: SealTarget = { box, owner, causes, prefix: LAST_APPLIED_PREFIX };
  const out = mapObjectSecrets(incoming, (field, value, inAnnotation) =>
    inAnnotation ? sealValue(annotation, field, value, storedApplied[field]) : sealValue(spec, field, value, storedSpec[field]),
  );
  if (causes.length) throw invalid(incoming.kind, incoming.metadata.name, causes);
  return out;
}

/** What API readers see (ADR 0006): every secret value as a sealed string bound to its field. */
export function sealedView(box: SecretBox, obj: ResourceObject): ResourceObject {
  const owner = ownerOf(obj);
  return mapObjectSecrets(obj, (field, value) => sealedOf(box, owner, field, value));
}

/** For records that need no round trip (audit rows, revision history): a placeholder only. */
export function redactObject(obj: ResourceObject): ResourceObject {
  return mapObjectSecrets(obj, () => REDACTED);
}

/** A stored secret value the runtime must not use: the reconciler reports it instead. */
export class SecretValueError extends Error {}
/** The name the Application reconciler knows it by. */
export { SecretValueError as SecretEnvError };

function unsealValue(box: SecretBox, field: string, stored: unknown): string {
  const plain = isEncrypted(stored) ? box.tryDecrypt(stored) : undefined;
  if (plain === undefined) throw new SecretValueError(`${field} is not a value this installation encrypted; set it again`);
  // Not even from old data: a container never receives the placeholder or a sealed string.
  if (plain === REDACTED || isSealed(plain)) throw new SecretValueError(`${field} holds a placeholder, not a secret; set it again`);
  return plain;
}

/**
 * For controllers only: the plaintext of every secret value `kind` has in a stored spec, by field
 * path (`spec.secretEnv.TOKEN`, `spec.webhook.secret`). A value that is not this installation's
 * ciphertext, or that decrypts to a placeholder, throws SecretValueError naming the field.
 */
export function unsealSecrets(box: SecretBox, kind: string, spec: Spec | undefined): StringMap {
  return Object.fromEntries(Object.entries(secretsOf(kind, spec)).map(([field, v]) => [field, unsealValue(box, field, v)]));
}

/** For the runtime only (container env): plaintext secret values of a stored spec. */
export function unsealSecretEnv(box: SecretBox, spec: Spec | undefined): StringMap {
  const s = getAt(spec, ["secretEnv"]);
  if (!isRecord(s)) return {};
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, unsealValue(box, `spec.secretEnv.${k}`, v)]));
}

export const SYNC_TOKEN = "spec.source.git.auth.token";
export const SYNC_WEBHOOK_SECRET = "spec.webhook.secret";

/** The plaintext secrets of a Sync (absent fields are left out). */
export interface SyncSecrets {
  /** spec.source.git.auth.token: the HTTPS token for the fetch. */
  token?: string;
  /** spec.webhook.secret: what POST /hooks/sync/<name> is signed with. */
  webhookSecret?: string;
}

/**
 * The plaintext of one secret field of a stored spec (`spec.webhook.secret`), undefined when it
 * is not set; throws SecretValueError for a value it must not use.
 */
export function unsealSecret(box: SecretBox, kind: string, spec: Spec | undefined, field: string): string | undefined {
  const stored = secretsOf(kind, spec)[field];
  return stored === undefined ? undefined : unsealValue(box, field, stored);
}

/**
 * For the Sync controller (and the webhook endpoint through the store): the plaintext of a
 * stored Sync's secret fields. Throws SecretValueError for a value it must not use.
 */
export function unsealSyncSecrets(box: SecretBox, sync: Pick<ResourceObject, "spec">): SyncSecrets {
  const token = unsealSecret(box, "Sync", sync.spec, SYNC_TOKEN);
  const webhookSecret = unsealSecret(box, "Sync", sync.spec, SYNC_WEBHOOK_SECRET);
  return { ...(token !== undefined ? { token } : {}), ...(webhookSecret !== undefined ? { webhookSecret } : {}) };
}

/** One registry's credentials of a Project (ADR 0022), the password in plaintext: for pulls only. */
export interface RegistryLogin {
  server: string;
  username: string;
  password: string;
}

/**
 * For the controllers only: the plaintext logins of a stored Project's spec.registries, by server.
 * Throws SecretValueError naming the field for a password it must not use.
 */
export function unsealRegistries(box: SecretBox, project: Pick<ResourceObject, "spec"> | undefined): RegistryLogin[] {
  const registries = getAt(project?.spec, ["registries"]);
  if (!isRecord(registries)) return [];
  return Object.entries(registries).map(([server, v]) => {
    const entry = isRecord(v) ? v : {};
    const password = entry.password === undefined ? "" : unsealValue(box, `spec.registries.${server}.password`, entry.password);
    return { server, username: String(entry.username ?? ""), password };
  });
}

export const GIT_TOKEN = "spec.source.git.auth.token";
export const GIT_WEBHOOK_SECRET = "spec.source.git.webhook.secret";

/**
 * For the Application controller and the git webhook endpoint: the plaintext of a git-source
 * Application's token and webhook secret. Throws SecretValueError for a value it must not use.
 */
export function unsealGitSecrets(box: SecretBox, app: Pick<ResourceObject, "spec">): { token?: string; webhookSecret?: string } {
  const token = unsealSecret(box, "Application", app.spec, GIT_TOKEN);
  const webhookSecret = unsealSecret(box, "Application", app.spec, GIT_WEBHOOK_SECRET);
  return { ...(token !== undefined ? { token } : {}), ...(webhookSecret !== undefined ? { webhookSecret } : {}) };
}

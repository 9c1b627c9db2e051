import { isEncrypted, REDACTED, type SecretBox } from "../util/secrets.js";
import type { ResourceObject } from "./types.js";

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

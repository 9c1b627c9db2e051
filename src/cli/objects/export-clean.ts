/**
 * What `berth export` writes for one live object: the manifest a user would have written. No
 * server-set metadata, no status, none of Berth's own annotations, no schema defaults the
 * re-apply would fill in again, and no secret in plain text. Pure: nothing here talks to a server.
 */
import { API_VERSION, type KindInfo } from "../../core/kinds.js";
import { applyDefaults, openApiSchema, type OpenApiSchema } from "../../schema/crds.js";

/** What the API shows for a secret value (ADR 0006): it opens only on this installation. */
export const SEALED_PREFIX = "sealed:v1:";
/** Written instead of a secret value by --redact; on a re-apply it keeps the stored value. */
export const REDACTED = "<redacted>";

/** kubectl's copy of the whole applied manifest (secrets included): never exported. */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
/** berth.dev annotations a user sets on purpose; every other berth.dev one is Berth's own. */
const USER_BERTH_ANNOTATIONS = new Set(["berth.dev/prune", "berth.dev/prune-confirm"]);
/** Finalizers Berth's controllers add (FINALIZER in core/kinds.ts) all live under this prefix. */
const BERTH_PREFIX = "berth.dev/";

export interface CleanOptions {
  /** Write `<redacted>` for every secret value instead of its sealed string. */
  redact?: boolean;
}

export interface Cleaned {
  object: Record<string, unknown>;
  /** Secret fields that came back neither sealed nor redacted, written as `<redacted>`. */
  unsealed: string[];
}

type Obj = Record<string, any>;

function isPlainObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Structural equality of JSON values, key order ignored (defaulting adds keys in schema order). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}

function userAnnotations(annotations: unknown): Record<string, string> | undefined {
  if (!isPlainObject(annotations)) return undefined;
  const kept = Object.entries(annotations).filter(([k]) => k !== LAST_APPLIED && (!k.startsWith(BERTH_PREFIX) || USER_BERTH_ANNOTATIONS.has(k)));
  return kept.length ? Object.fromEntries(kept) : undefined;
}

/** name, namespace, labels, user annotations and finalizers not Berth's; nothing the server set. */
function cleanMetadata(kind: KindInfo, m: Obj): Obj {
  const out: Obj = { name: m.name };
  if (kind.namespaced && m.namespace) out.namespace = m.namespace;
  if (isPlainObject(m.labels) && Object.keys(m.labels).length) out.labels = m.labels;
  const annotations = userAnnotations(m.annotations);
  if (annotations) out.annotations = annotations;
  const finalizers = Array.isArray(m.finalizers) ? m.finalizers.filter((f: unknown) => typeof f === "string" && !f.startsWith(BERTH_PREFIX)) : [];
  if (finalizers.length) out.finalizers = finalizers;
  return out;
}

/** Where secret values live in a spec, per kind: a map of them, or single fields. */
function secretSlots(kind: KindInfo, spec: Obj): { path: string; holder: Obj; key: string }[] {
  const slots: { path: string; holder: Obj; key: string }[] = [];
  const add = (holder: unknown, key: string, path: string): void => {
    if (isPlainObject(holder) && typeof holder[key] === "string") slots.push({ holder, key, path });
  };
  if (kind.kind === "Application" && isPlainObject(spec.secretEnv)) {
    for (const key of Object.keys(spec.secretEnv)) add(spec.secretEnv, key, `spec.secretEnv.${key}`);
  }
  if (kind.kind === "Sync") {
    add(spec.source?.git?.auth, "token", "spec.source.git.auth.token");
    add(spec.webhook, "secret", "spec.webhook.secret");
  }
  if (kind.kind === "BackupDestination") add(spec, "secretAccessKey", "spec.secretAccessKey");
  return slots;
}

/**
 * Every secret value as the sealed string the API returned (or `<redacted>` with --redact). A
 * value that came back in plain text (a field the server does not seal yet) is never written:
 * it becomes `<redacted>` and is reported, so the caller can warn that it must be set again.
 */
function protectSecrets(kind: KindInfo, spec: Obj, opts: CleanOptions): string[] {
  const unsealed: string[] = [];
  for (const slot of secretSlots(kind, spec)) {
    const value = slot.holder[slot.key] as string;
    if (opts.redact || value === REDACTED) {
      slot.holder[slot.key] = REDACTED;
      continue;
    }
    if (!value.startsWith(SEALED_PREFIX)) {
      slot.holder[slot.key] = REDACTED;
      unsealed.push(slot.path);
    }
  }
  return unsealed;
}

function specSchema(kind: KindInfo): OpenApiSchema | undefined {
  return openApiSchema(kind).properties?.spec;
}

/**
 * Drops every field of `spec` whose value admission would put back by itself: a field with a
 * schema default is removed when defaulting the result gives the live spec again, exactly. So a
 * value the user wrote that equals the default goes too (it means the same); one that differs,
 * or whose removal would lose a nested default (a parent without a default of its own), stays,
 * and so does a default that is the only field left in an object. Shallowest first: a whole `strategy: {type: RollingUpdate}` goes before its children are tried.
 */
export function withoutDefaults(kind: KindInfo, spec: Obj): Obj {
  const schema = specSchema(kind);
  if (!schema) return spec;
  const live = applyDefaults(kind.kind, { spec }).spec;
  const candidate = structuredClone(spec);
  const stripper: Stripper = { root: candidate, restores: () => jsonEqual(applyDefaults(kind.kind, { spec: candidate }).spec, live) };
  stripNode(stripper, candidate, schema);
  return stripper.restores() ? candidate : spec;
}

/** The spec being stripped, and the check that defaulting it still gives the live spec. */
interface Stripper {
  root: Obj;
  restores: () => boolean;
}

function childSchema(s: OpenApiSchema | undefined, key: string): OpenApiSchema | undefined {
  return s?.properties?.[key] ?? (isPlainObject(s?.additionalProperties) ? (s.additionalProperties as OpenApiSchema) : undefined);
}

function stripNode(st: Stripper, node: unknown, s: OpenApiSchema): void {
  if (s["x-kubernetes-preserve-unknown-fields"]) return;
  if (Array.isArray(node)) {
    if (s.items) for (const item of node) stripNode(st, item, s.items);
    return;
  }
  if (!isPlainObject(node)) return;
  for (const key of Object.keys(node)) {
    const child = childSchema(s, key);
    if (!child) continue;
    if (child.default !== undefined && tryRemove(st, node, key)) continue;
    stripNode(st, node[key], child);
  }
}

/** Removes node[key] if defaulting puts it back; a default that is all an object holds stays. */
function tryRemove(st: Stripper, node: Obj, key: string): boolean {
  // `strategy: {type: RollingUpdate}` reads better than `strategy: {}`.
  if (node !== st.root && Object.keys(node).length === 1) return false;
  const saved = node[key];
  delete node[key];
  if (st.restores()) return true;
  node[key] = saved;
  return false;
}

/**
 * A copy with every object's keys in the order the CRD declares them (source, replicas, command, …),
 * the way people write manifests; map keys (env, labels) alphabetically. The store's JSONB
 * keeps neither order, so without this every export would read shuffled.
 */
export function inSchemaOrder(value: unknown, schema: OpenApiSchema | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => inSchemaOrder(v, schema?.items));
  if (!isPlainObject(value)) return value;
  const declared = Object.keys(schema?.properties ?? {});
  const rank = (k: string): number => {
    const i = declared.indexOf(k);
    return i < 0 ? declared.length : i;
  };
  const keys = Object.keys(value).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(keys.map((k) => [k, inSchemaOrder(value[k], childSchema(schema, k))]));
}

/** The manifest for one live object; see the module comment for what is left out. */
export function cleanObject(kind: KindInfo, live: Obj, opts: CleanOptions = {}): Cleaned {
  const spec = structuredClone(isPlainObject(live.spec) ? live.spec : {});
  const unsealed = protectSecrets(kind, spec, opts);
  const object: Obj = { apiVersion: API_VERSION, kind: kind.kind, metadata: cleanMetadata(kind, live.metadata ?? {}), spec: inSchemaOrder(withoutDefaults(kind, spec), specSchema(kind)) };
  return { object, unsealed };
}

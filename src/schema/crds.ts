/**
 * The one place the schemas of the four kinds are loaded. They live in crds/*.yaml as
 * CustomResourceDefinitions; this module reads them, validates objects against them
 * with ajv, finds and prunes fields they do not declare, and fills their defaults.
 */
import type { ErrorObject, ValidateFunction } from "ajv";
import type { ValidationCause } from "../core/errors.js";
import { API_VERSION, GROUP, KINDS, VERSION, type KindInfo } from "../core/kinds.js";
import { isSecretPath } from "../core/secret-fields.js";
import { schemaSource as builtInSource, type SchemaSource } from "./schema-source.js";

export type { ValidationCause };

export type KindName = KindInfo["kind"];


export interface CelRule {
  rule: string;
  message?: string;
}

/** The subset of a CRD's OpenAPI v3 schema (JSONSchemaProps) that Berth's CRDs use. */
export interface OpenApiSchema {
  type?: string;
  description?: string;
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: OpenApiSchema | boolean;
  items?: OpenApiSchema;
  required?: string[];
  default?: unknown;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  oneOf?: OpenApiSchema[];
  anyOf?: OpenApiSchema[];
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-validations"?: CelRule[];
  [keyword: string]: unknown;
}

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema: { openAPIV3Schema: OpenApiSchema };
  subresources?: { status?: Record<string, never>; scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string } };
  additionalPrinterColumns?: { name: string; type: string; jsonPath: string; description?: string; priority?: number; format?: string }[];
}

export interface CrdDocument {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    group: string;
    scope: "Cluster" | "Namespaced";
    names: { plural: string; singular: string; kind: string; listKind: string; shortNames?: string[]; categories?: string[] };
    versions: CrdVersion[];
  };
}

/** One step of a field path: a property name or an array index. */
export type PathSegment = string | number;

/** metadata fields the server sets; a manifest may carry them (e.g. from `get -o yaml`). */
const SERVER_SET_METADATA = [
  "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "finalizers", "managedFields", "namespace",
];
const USER_METADATA = ["name", "generateName", "labels", "annotations"];
const TOP_LEVEL_FIELDS = ["apiVersion", "kind", "metadata", "spec", "status"];

const DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
const LABEL_KEY = "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
/** A finalizer is a domain-qualified name (`example.com/name`), as Kubernetes requires of any but its own. */
const FINALIZER_NAME = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
/** Kubernetes sets no count; 64 is far beyond what any set of controllers adds to one object. */
const MAX_FINALIZERS = 64;
const LABEL_VALUE = "^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$";

/** Friendlier words for patterns users meet often; the regex is still quoted. */
const PATTERN_HINTS: Record<string, string> = {
  [DNS_LABEL]: "must consist of lower case letters, digits and '-', and start and end with a letter or digit",
  [LABEL_KEY]: "must be a label key: an optional DNS prefix and '/', then a name of letters, digits, '-', '_' and '.'",
  [LABEL_VALUE]: "must be empty or consist of letters, digits, '-', '_' and '.', and start and end with a letter or digit",
};

// ---------------------------------------------------------------------------
// Loading

let crdCache: Map<KindName, CrdDocument> | undefined;

/**
 * From sources: crds/*.yaml parsed and compiled at run time (schema-source.ts). In the bundle:
 * the build's precompiled CRDs and ajv standalone validators, which scripts/build.mjs puts in
 * schema-source.ts's place.
 */
let source: SchemaSource = builtInSource;

/** Which source is in use: "runtime" or "precompiled". */
export function schemaSourceName(): string {
  return source.name;
}

/**
 * Switches the source (test/unit/precompiled-schemas.test.ts runs the same corpus through both);
 * no argument restores the built-in one. Drops every cached CRD and validator.
 */
export function useSchemaSource(next: SchemaSource = builtInSource): void {
  source = next;
  crdCache = undefined;
  validators.clear();
}

function readCrd(info: KindInfo): CrdDocument {
  const { crd: parsed, where: file } = source.readCrd(info);
  const crd = parsed as CrdDocument;
  const expectedName = `${info.plural}.${GROUP}`;
  if (crd?.kind !== "CustomResourceDefinition" || crd.metadata?.name !== expectedName || crd.spec?.names?.kind !== info.kind) {
    throw new Error(`${file}: expected the CustomResourceDefinition ${expectedName} for kind ${info.kind}`);
  }
  if (!crd.spec.versions.some((v) => v.name === VERSION)) throw new Error(`${file}: no version ${VERSION}`);
  return crd;
}

function crdMap(): Map<KindName, CrdDocument> {
  if (!crdCache) {
    const map = new Map<KindName, CrdDocument>();
    for (const info of KINDS) map.set(info.kind, readCrd(info));
    for (const [kind, crd] of map) assertKnownCelRules(rootSchemaOf(crd), kind);
    crdCache = map;
  }
  return crdCache;
}

/** The four CRDs, parsed once from crds/*.yaml, in KINDS order. Treat them as read-only. */
export function loadCrds(): CrdDocument[] {
  return [...crdMap().values()];
}

function resolveKind(kind: string | KindInfo): KindInfo {
  const name = typeof kind === "string" ? kind : kind.kind;
  const info = KINDS.find((k) => k.kind === name);
  if (!info) throw new Error(`unknown kind ${name}`);
  return info;
}

/** The CRD of a kind ("Application" or its KindInfo). Treat it as read-only. */
export function crdFor(kind: string | KindInfo): CrdDocument {
  const crd = crdMap().get(resolveKind(kind).kind);
  if (!crd) throw new Error(`no CRD for ${String(kind)}`);
  return crd;
}

function rootSchemaOf(crd: CrdDocument): OpenApiSchema {
  const version = crd.spec.versions.find((v) => v.name === VERSION);
  if (!version) throw new Error(`${crd.metadata.name}: no version ${VERSION}`);
  return version.schema.openAPIV3Schema;
}

function rootSchema(kind: string | KindInfo): OpenApiSchema {
  return rootSchemaOf(crdFor(kind));
}

/** A copy of the kind's openAPIV3Schema, to publish (OpenAPI documents, kubectl explain). */
export function openApiSchema(kind: string | KindInfo): OpenApiSchema {
  return structuredClone(rootSchema(kind));
}

// ---------------------------------------------------------------------------
// CEL rules (x-kubernetes-validations)
//
// A real cluster evaluates these with CEL. Berth has no CEL interpreter, so every rule in
// the CRDs must be one this module knows how to enforce; an unknown rule stops the
// server at start instead of being silently skipped.

const KEY_PATTERN_RULE = /^self\.all\((\w+),\s*\1\.matches\('([^'\\]*)'\)\)$/;
const FIXED_HOST_PORT_RULE =
  "!has(self.ports) || !has(self.replicas) || self.replicas <= 1 || self.ports.all(p, !has(p.publish) || !has(p.publish.hostPort))";

type CelCheck = (value: unknown, path: PathSegment[]) => ValidationCause[];

const ONE_GIT_REF_RULE = "[has(self.branch), has(self.tag), has(self.commit)].filter(x, x).size() <= 1";

const CEL_CHECKS: Record<string, CelCheck> = {
  [FIXED_HOST_PORT_RULE]: checkFixedHostPorts,
  [ONE_GIT_REF_RULE]: checkOneGitRef,
};

function checkOneGitRef(git: unknown, path: PathSegment[]): ValidationCause[] {
  if (!isPlainObject(git)) return [];
  const set = ["branch", "tag", "commit"].filter((k) => git[k] !== undefined);
  if (set.length <= 1) return [];
  return [{ field: formatFieldPath([...path, set[1]!]), reason: "FieldValueForbidden", message: `Forbidden: set at most one of branch, tag and commit (got ${set.join(" and ")})` }];
}

function keyPatternOf(rule: string): string | undefined {
  return KEY_PATTERN_RULE.exec(rule)?.[2];
}

function assertKnownCelRules(schema: OpenApiSchema, kind: string, path = "openAPIV3Schema"): void {
  for (const { rule } of schema["x-kubernetes-validations"] ?? []) {
    if (keyPatternOf(rule) === undefined && !CEL_CHECKS[rule]) {
      throw new Error(`${kind} CRD ${path}: x-kubernetes-validations rule ${JSON.stringify(rule)} is not enforced by src/schema/crds.ts`);
    }
  }
  for (const [name, child] of childSchemas(schema)) assertKnownCelRules(child, kind, `${path}.${name}`);
}

function childSchemas(schema: OpenApiSchema): [string, OpenApiSchema][] {
  const out: [string, OpenApiSchema][] = Object.entries(schema.properties ?? {});
  if (isSchema(schema.additionalProperties)) out.push(["additionalProperties", schema.additionalProperties]);
  if (schema.items) out.push(["items", schema.items]);
  return out;
}

function checkFixedHostPorts(spec: unknown, path: PathSegment[]): ValidationCause[] {
  if (!isPlainObject(spec) || !Array.isArray(spec.ports)) return [];
  const replicas = spec.replicas ?? 1;
  if (typeof replicas !== "number" || replicas <= 1) return [];
  const causes: ValidationCause[] = [];
  spec.ports.forEach((port, i) => {
    if (isPlainObject(port) && isPlainObject(port.publish) && port.publish.hostPort !== undefined) {
      causes.push({
        field: formatFieldPath([...path, "ports", i, "publish", "hostPort"]),
        reason: "FieldValueForbidden",
        message: `Forbidden: a fixed hostPort needs replicas <= 1 (replicas is ${replicas}); leave it unset to give each replica a free port`,
      });
    }
  });
  return causes;
}

// ---------------------------------------------------------------------------
// ajv

const validators = new Map<KindName, ValidateFunction>();

function validatorFor(info: KindInfo): ValidateFunction {
  let validate = validators.get(info.kind);
  if (!validate) {
    validate = source.validator(info, () => validationSchema(info));
    validators.set(info.kind, validate);
  }
  return validate;
}

/**
 * The CRD schema as ajv should see it: apiVersion and kind pinned, ObjectMeta spelled
 * out (CRDs may only constrain metadata.name), and key-pattern CEL rules turned into
 * propertyNames, which structural schemas cannot express but ajv can.
 */
export function validationSchema(kind: string | KindInfo): OpenApiSchema {
  const info = resolveKind(kind);
  const root = structuredClone(rootSchema(info));
  const props = root.properties ?? {};
  props.apiVersion = { type: "string", enum: [API_VERSION] };
  props.kind = { type: "string", enum: [info.kind] };
  props.metadata = objectMetaSchema(props.metadata);
  root.properties = props;
  root.required = ["apiVersion", "kind", "metadata", ...(root.required ?? [])];
  translateKeyPatterns(root);
  boundUnbounded(props.spec);
  return root;
}

/**
 * Bounds for spec fields the CRDs leave open, applied at validation (the published schemas are
 * unchanged): no string a user writes needs more than 64 KiB, no list more than 1000 entries.
 * Without them one field could carry megabytes into every list and watch event.
 */
export const DEFAULT_MAX_STRING = 64 * 1024;
export const DEFAULT_MAX_ITEMS = 1000;

function boundUnbounded(schema: OpenApiSchema | undefined): void {
  if (!schema) return;
  if (schema.type === "string" && schema.maxLength === undefined) schema.maxLength = DEFAULT_MAX_STRING;
  if (schema.type === "array" && schema.maxItems === undefined) schema.maxItems = DEFAULT_MAX_ITEMS;
  for (const [, child] of childSchemas(schema)) boundUnbounded(child);
}

function objectMetaSchema(crdMetadata: OpenApiSchema | undefined): OpenApiSchema {
  const qualifiedKeys = { maxLength: 317, pattern: LABEL_KEY };
  return {
    type: "object",
    required: ["name"],
    properties: {
      name: { type: "string", minLength: 1, ...(crdMetadata?.properties?.name ?? {}) },
      namespace: { type: "string", maxLength: 63, pattern: DNS_LABEL },
      labels: { type: "object", propertyNames: qualifiedKeys, additionalProperties: { type: "string", maxLength: 63, pattern: LABEL_VALUE } },
      annotations: { type: "object", propertyNames: qualifiedKeys, additionalProperties: { type: "string" } },
      finalizers: { type: "array", maxItems: MAX_FINALIZERS, items: { type: "string", maxLength: 317, pattern: FINALIZER_NAME } },
    },
  };
}

function translateKeyPatterns(schema: OpenApiSchema): void {
  const rules = schema["x-kubernetes-validations"] ?? [];
  for (const { rule } of rules) {
    const pattern = keyPatternOf(rule);
    if (pattern !== undefined) schema.propertyNames = { pattern };
  }
  for (const [, child] of childSchemas(schema)) translateKeyPatterns(child);
}

// ---------------------------------------------------------------------------
// Validation

/**
 * Validates a whole object (apiVersion, kind, metadata, spec) against its kind's CRD.
 * Fields the schema does not declare are not reported here; see unknownFields().
 * As the Kubernetes API server does, null fields count as absent.
 */
export function validateObject(kind: string | KindInfo, obj: unknown): ValidationCause[] {
  const info = resolveKind(kind);
  if (!isPlainObject(obj)) return [{ field: "", reason: "FieldValueTypeInvalid", message: `must be of type object, got ${jsonType(obj)}` }];
  const subject = withoutNulls(obj);
  // A missing metadata is reported as the missing name, which is what the user must add.
  subject.metadata ??= {};
  const validate = validatorFor(info);
  validate(subject);
  const causes = errorsToCauses(validate.errors ?? [], subject);
  causes.push(...schemaWalkCauses(rootSchema(info), subject, []));
  causes.push(...annotationSizeCauses(subject.metadata));
  return onePerField(causes).map((c) => withoutSecretValue(info.kind, subject, c));
}

/**
 * A secret's value is never repeated in an error (`quote it: "…"`, `Invalid value: "…"`): in a
 * cause on a secret field (secretEnv values, a Sync's token and webhook secret) it reads <redacted>.
 */
function withoutSecretValue(kind: string, subject: Record<string, unknown>, cause: ValidationCause): ValidationCause {
  const path = parseFieldPath(cause.field);
  if (!isSecretPath(kind, path)) return cause;
  let value: unknown = subject;
  for (const seg of path) value = isPlainObject(value) ? value[seg] : undefined;
  if (value === undefined || value === null || typeof value === "object") return cause;
  const text = String(value);
  // A long string is shown shortened, so its shown form goes first; then the value itself, anywhere.
  let message = typeof value === "string" ? cause.message.split(shortJson(value)).join('"<redacted>"') : cause.message;
  if (text.length >= 3) message = message.split(text).join("<redacted>");
  return { ...cause, message };
}

/** Kubernetes' limit on all of an object's annotations together (keys and values), in bytes. */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

function annotationSizeCauses(metadata: unknown): ValidationCause[] {
  const annotations = isPlainObject(metadata) ? metadata.annotations : undefined;
  if (!isPlainObject(annotations)) return [];
  let bytes = 0;
  for (const [k, v] of Object.entries(annotations)) bytes += Buffer.byteLength(k) + (typeof v === "string" ? Buffer.byteLength(v) : 0);
  if (bytes <= MAX_ANNOTATIONS_BYTES) return [];
  return [{ field: "metadata.annotations", reason: "FieldValueTooLong", message: `Too long: must have at most ${MAX_ANNOTATIONS_BYTES} bytes (has ${bytes})` }];
}

/** One cause per field; a wrong type explains everything else wrong with the value, so it wins. */
function onePerField(causes: ValidationCause[]): ValidationCause[] {
  const seen = new Map<string, ValidationCause>();
  for (const c of causes) {
    const prev = seen.get(c.field);
    if (!prev || (c.reason === "FieldValueTypeInvalid" && prev.reason !== "FieldValueTypeInvalid")) seen.set(c.field, c);
  }
  return [...seen.values()];
}

function errorsToCauses(errors: ErrorObject[], subject: Record<string, unknown>): ValidationCause[] {
  // oneOf/anyOf report why each branch failed; the summary error says it better.
  const summaries = errors.filter((e) => e.keyword === "oneOf" || e.keyword === "anyOf").map((e) => `${e.schemaPath}/`);
  const kept = errors.filter((e) => e.keyword !== "propertyNames" && !summaries.some((p) => e.schemaPath.startsWith(p)));
  return kept.map((e) => causeOf(e, subject));
}

function causeOf(err: ErrorObject, subject: Record<string, unknown>): ValidationCause {
  const path = pointerToPath(err.instancePath, subject);
  const key = (err as ErrorObject & { propertyName?: string }).propertyName;
  if (key !== undefined) return { field: formatFieldPath([...path, key]), ...describe(err, key) };
  if (err.keyword === "required") {
    const missing = (err.params as { missingProperty: string }).missingProperty;
    return { field: formatFieldPath([...path, missing]), reason: "FieldValueRequired", message: "Required value" };
  }
  return { field: formatFieldPath(path), ...describe(err, err.data) };
}

type Described = Pick<ValidationCause, "reason" | "message">;

type Describer = (p: Record<string, unknown>, value: unknown, err: ErrorObject) => Described;

const invalidValue = (value: unknown, text: string): Described => ({ reason: "FieldValueInvalid", message: `Invalid value: ${shortJson(value)}: ${text}` });
const bound: Describer = (p, v) => invalidValue(v, `must be ${String(p.comparison)} ${String(p.limit)}`);
const tooMany: Describer = (p, _v, err) => ({ reason: "FieldValueTooLong", message: `Too many: may not have more than ${String(p.limit)} ${err.keyword === "maxItems" ? "items" : "entries"}` });
const tooFew: Describer = (p, v, err) => invalidValue(v, Number(p.limit) === 1 ? "must not be empty" : `must have at least ${String(p.limit)} ${err.keyword === "minLength" ? "characters" : "entries"}`);

/** Kubernetes' words (and cause reasons) for each ajv keyword. */
const DESCRIBERS: Record<string, Describer> = {
  type: (p, v) => ({ reason: "FieldValueTypeInvalid", message: `must be of type ${String(p.type)}, got ${jsonType(v)}${quoteHint(p.type, v)}` }),
  enum: (p, v) => ({ reason: "FieldValueNotSupported", message: `Unsupported value: ${shortJson(v)}: supported values: ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(", ")}` }),
  minimum: bound,
  maximum: bound,
  exclusiveMinimum: bound,
  exclusiveMaximum: bound,
  pattern: (p, v) => invalidValue(v, patternMessage(String(p.pattern))),
  format: (p, v) => invalidValue(v, `must be a valid ${String(p.format)}`),
  maxLength: (p) => ({ reason: "FieldValueTooLong", message: `Too long: may not be more than ${String(p.limit)} characters` }),
  maxItems: tooMany,
  maxProperties: tooMany,
  minLength: tooFew,
  minItems: tooFew,
  minProperties: tooFew,
  oneOf: (_p, _v, err) => describeOneOf(err),
  anyOf: (_p, v, err) => invalidValue(v, describeAnyOf(err)),
};

function describe(err: ErrorObject, value: unknown): Described {
  const d = DESCRIBERS[err.keyword];
  return d ? d(err.params as Record<string, unknown>, value, err) : invalidValue(value, err.message ?? "is invalid");
}

/** YAML turns 16 into a number and true into a boolean; say how to keep them strings. */
function quoteHint(expected: unknown, value: unknown): string {
  const scalar = typeof value === "number" || typeof value === "boolean";
  return expected === "string" && scalar ? ` (quote it: "${String(value)}")` : "";
}

function patternMessage(pattern: string): string {
  const hint = PATTERN_HINTS[pattern];
  return hint ? `${hint} (regex ${pattern})` : `must match ${pattern}`;
}

/** Our oneOf lists are "exactly one of these fields"; say so in those words. */
function describeOneOf(err: ErrorObject): Described {
  const branches = (err.schema as OpenApiSchema[]).map((b) => (b.required ?? []).join("+"));
  const choices = branches.join(", ");
  const passing = (err.params as { passingSchemas: number[] | null }).passingSchemas;
  if (!passing) return { reason: "FieldValueRequired", message: `Required value: set exactly one of ${choices}` };
  const set = passing.map((i) => branches[i]).join(" and ");
  return { reason: "FieldValueForbidden", message: `Forbidden: set exactly one of ${choices} (got ${set})` };
}

function describeAnyOf(err: ErrorObject): string {
  const branches = err.schema as OpenApiSchema[];
  if (branches.every((b) => typeof b.format === "string")) return `must be a valid ${branches.map((b) => b.format).join(" or ")} address`;
  return "does not match any of the allowed forms";
}

/** Checks ajv cannot do from the schema alone: list-map key uniqueness and CEL rules. */
function schemaWalkCauses(schema: OpenApiSchema, value: unknown, path: PathSegment[]): ValidationCause[] {
  if (schema["x-kubernetes-preserve-unknown-fields"]) return [];
  const causes = (schema["x-kubernetes-validations"] ?? []).flatMap(({ rule }) => CEL_CHECKS[rule]?.(value, path) ?? []);
  if (Array.isArray(value) && schema.items) return [...causes, ...duplicateListItems(schema, value, path), ...value.flatMap((item, i) => schemaWalkCauses(schema.items as OpenApiSchema, item, [...path, i]))];
  if (isPlainObject(value)) return [...causes, ...Object.entries(value).flatMap(([key, child]) => childCauses(schema, key, child, path))];
  return causes;
}

function childCauses(schema: OpenApiSchema, key: string, child: unknown, path: PathSegment[]): ValidationCause[] {
  const childSchema = schema.properties?.[key] ?? (isSchema(schema.additionalProperties) ? schema.additionalProperties : undefined);
  return childSchema ? schemaWalkCauses(childSchema, child, [...path, key]) : [];
}

function duplicateListItems(schema: OpenApiSchema, list: unknown[], path: PathSegment[]): ValidationCause[] {
  const listType = schema["x-kubernetes-list-type"];
  if (listType !== "map" && listType !== "set") return [];
  const seen = new Set<string>();
  const causes: ValidationCause[] = [];
  list.forEach((item, i) => {
    const key = listType === "map" ? mapKeyOf(schema, item) : JSON.stringify(item);
    if (key === undefined) return;
    if (seen.has(key)) causes.push({ field: formatFieldPath([...path, i]), reason: "FieldValueDuplicate", message: `Duplicate value: ${key}` });
    seen.add(key);
  });
  return causes;
}

/** The identity of a list-map item, with defaulted keys filled in as the API server would. */
function mapKeyOf(schema: OpenApiSchema, item: unknown): string | undefined {
  if (!isPlainObject(item)) return undefined;
  const key: Record<string, unknown> = {};
  for (const name of schema["x-kubernetes-list-map-keys"] ?? []) key[name] = item[name] ?? schema.items?.properties?.[name]?.default;
  return JSON.stringify(key);
}

// ---------------------------------------------------------------------------
// Unknown fields, pruning, defaults

/** Dotted paths of fields the kind's schema does not declare (status is never checked). */
export function unknownFields(kind: string | KindInfo, obj: unknown): string[] {
  return unknownFieldPaths(resolveKind(kind), obj).map(formatFieldPath);
}

/** A copy of obj without the fields unknownFields() reports. */
export function pruneUnknownFields<T>(kind: string | KindInfo, obj: T): T {
  const copy = structuredClone(obj);
  for (const path of unknownFieldPaths(resolveKind(kind), copy)) deleteAt(copy, path);
  return copy;
}

function unknownFieldPaths(info: KindInfo, obj: unknown): PathSegment[][] {
  if (!isPlainObject(obj)) return [];
  const out: PathSegment[][] = [];
  for (const key of Object.keys(obj)) if (!TOP_LEVEL_FIELDS.includes(key)) out.push([key]);
  if (isPlainObject(obj.metadata)) {
    for (const key of Object.keys(obj.metadata)) {
      if (!USER_METADATA.includes(key) && !SERVER_SET_METADATA.includes(key)) out.push(["metadata", key]);
    }
  }
  const specSchema = rootSchema(info).properties?.spec;
  if (specSchema && obj.spec !== undefined) collectUnknown(specSchema, obj.spec, ["spec"], out);
  return out;
}

function collectUnknown(schema: OpenApiSchema, value: unknown, path: PathSegment[], out: PathSegment[][]): void {
  if (schema["x-kubernetes-preserve-unknown-fields"]) return;
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, i) => collectUnknown(schema.items as OpenApiSchema, item, [...path, i], out));
    return;
  }
  if (!isPlainObject(value) || (schema.type !== undefined && schema.type !== "object")) return;
  const additional = isSchema(schema.additionalProperties) ? schema.additionalProperties : undefined;
  for (const [key, child] of Object.entries(value)) {
    const childSchema = schema.properties?.[key] ?? additional;
    if (childSchema) collectUnknown(childSchema, child, [...path, key], out);
    else out.push([...path, key]);
  }
}

function deleteAt(root: unknown, path: PathSegment[]): void {
  let node: unknown = root;
  for (const seg of path.slice(0, -1)) node = (node as Record<PathSegment, unknown>)[seg];
  if (isPlainObject(node)) delete node[path[path.length - 1] as string];
}

/**
 * A copy of obj with the schema's defaults filled in where the parent object exists,
 * after dropping null fields, as the Kubernetes API server does.
 */
export function applyDefaults<T>(kind: string | KindInfo, obj: T): T {
  if (!isPlainObject(obj)) return structuredClone(obj);
  const copy = withoutNulls(obj);
  fillDefaults(rootSchema(resolveKind(kind)), copy);
  return copy as T;
}

function fillDefaults(schema: OpenApiSchema, value: unknown): void {
  if (schema["x-kubernetes-preserve-unknown-fields"]) return;
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) fillDefaults(schema.items, item);
    return;
  }
  if (isPlainObject(value)) fillObjectDefaults(schema, value);
}

function fillObjectDefaults(schema: OpenApiSchema, value: Record<string, unknown>): void {
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    if (value[key] === undefined && child.default !== undefined) value[key] = structuredClone(child.default);
    if (value[key] !== undefined) fillDefaults(child, value[key]);
  }
  const additional = schema.additionalProperties;
  if (!isSchema(additional)) return;
  for (const [key, child] of Object.entries(value)) if (!schema.properties?.[key]) fillDefaults(additional, child);
}

/** A deep copy without object fields whose value is null; status is copied untouched. */
function withoutNulls(obj: Record<string, unknown>): Record<string, unknown> {
  const copy = dropNulls(obj) as Record<string, unknown>;
  if (obj.status !== undefined) copy.status = structuredClone(obj.status);
  return copy;
}

function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = dropNulls(v);
  return out;
}

// ---------------------------------------------------------------------------
// Field paths

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** ["spec","ports",0,"containerPort"] → "spec.ports[0].containerPort"; odd keys go in brackets: labels[app.kubernetes.io/name]. */
export function formatFieldPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${seg}]`;
  }
  return out;
}

/** The inverse of formatFieldPath; "[3]" comes back as the number 3. */
export function parseFieldPath(field: string): PathSegment[] {
  const out: PathSegment[] = [];
  const re = /\[([^\]]*)\]|\.?([^.[]+)/g;
  for (let m = re.exec(field); m; m = re.exec(field)) {
    if (m[1] !== undefined) out.push(/^\d+$/.test(m[1]) ? Number(m[1]) : m[1]);
    else out.push(m[2]);
  }
  return out;
}

/** An ajv instancePath (JSON Pointer) as path segments, with array indexes as numbers. */
function pointerToPath(pointer: string, root: unknown): PathSegment[] {
  if (pointer === "") return [];
  const out: PathSegment[] = [];
  let node: unknown = root;
  for (const raw of pointer.slice(1).split("/")) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    const step: PathSegment = Array.isArray(node) ? Number(seg) : seg;
    out.push(step);
    node = isPlainObject(node) || Array.isArray(node) ? (node as Record<PathSegment, unknown>)[step] : undefined;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Small helpers

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isSchema(v: unknown): v is OpenApiSchema {
  return typeof v === "object" && v !== null;
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function shortJson(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

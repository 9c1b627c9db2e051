/**
 * The Compose Specification's published JSON Schema (compose-spec/compose-spec,
 * schema/compose-spec.json), as the npm package dclint ships it (schemas/compose.schema.json;
 * docs/adr/0017-compose-applications.md says which revision and why that package). Compiled
 * with ajv once, on the first compose file a process validates.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";

const require = createRequire(import.meta.url);

/** The package that ships the schema, and the schema file inside it. */
export const COMPOSE_SCHEMA_PACKAGE = "dclint";
const SCHEMA_FILE = "schemas/compose.schema.json";

let compiled: ValidateFunction | undefined;

/** The schema file's text, as the package ships it. */
export function composeSchemaText(): string {
  const pkg = require.resolve(`${COMPOSE_SCHEMA_PACKAGE}/package.json`);
  return readFileSync(path.join(path.dirname(pkg), SCHEMA_FILE), "utf8");
}

/** sha256 of the shipped schema: a test pins it, so an upgrade of the package is a decision. */
export function composeSchemaDigest(): string {
  return createHash("sha256").update(composeSchemaText()).digest("hex");
}

function validator(): ValidateFunction {
  if (compiled) return compiled;
  const schema = JSON.parse(composeSchemaText()) as Record<string, unknown>;
  // "https://json-schema.org/draft-07/schema" (no "#") is not the URI ajv registers draft-07 under;
  // the schema is draft-07, which is ajv's default dialect.
  delete schema.$schema;
  // strict off: the published schema is not written for ajv's strict mode (union types, bare keywords).
  const ajv = new Ajv({ allErrors: true, strict: false });
  compiled = ajv.compile(schema);
  return compiled;
}

/** `/services/web/ports/0` → `services.web.ports[0]`. */
function dotted(instancePath: string): string {
  const parts = instancePath.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  return parts.reduce((out, p) => (/^\d+$/.test(p) ? `${out}[${p}]` : out ? `${out}.${p}` : p), "");
}

function describe(e: ErrorObject): string {
  const at = dotted(e.instancePath);
  if (e.keyword === "additionalProperties") {
    const key = (e.params as { additionalProperty: string }).additionalProperty;
    return `${at ? `${at}.` : ""}${key}: not a key of the Compose Specification`;
  }
  return `${at || "(top level)"}: ${e.message ?? "invalid"}`;
}

/**
 * The problems of a parsed compose document against the Compose Specification, each naming
 * where (`services.web.ports[0]: must be …`). Of a oneOf's failed branches only the errors at
 * the deepest path are kept: they are the ones that say what is wrong.
 */
export function validateComposeSpec(doc: unknown): string[] {
  const validate = validator();
  if (validate(doc)) return [];
  const errors = (validate.errors ?? []).filter((e) => e.keyword !== "oneOf" && e.keyword !== "anyOf" && e.keyword !== "if");
  const deepest = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    const service = /^\/services\/[^/]+/.exec(e.instancePath)?.[0] ?? "";
    const list = deepest.get(service) ?? [];
    list.push(e);
    deepest.set(service, list);
  }
  const out: string[] = [];
  for (const list of deepest.values()) {
    const max = Math.max(...list.map((e) => e.instancePath.split("/").length));
    // An unknown key is always worth naming; type mismatches only at the deepest level.
    for (const e of list) if (e.keyword === "additionalProperties" || e.instancePath.split("/").length === max) out.push(describe(e));
  }
  return [...new Set(out)];
}

/**
 * The bundle validates with ajv standalone code generated at build time (src/schema/precompile.ts,
 * docs/adr/0014-compiled-cli-and-footprint.md); sources compile the same schemas at run time.
 * Both must give the same answer to every input, cause for cause and in the same order: the
 * manifest error corpus (test/fixtures/bad, examples/), and every field of every kind's schema
 * set to values of each JSON type, through validateObject, unknownFields, pruneUnknownFields
 * and applyDefaults.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { API_VERSION, KINDS, type KindInfo } from "../../src/core/kinds.js";
import {
  applyDefaults,
  loadCrds,
  pruneUnknownFields,
  schemaSourceName,
  unknownFields,
  useSchemaSource,
  validateObject,
  validationSchema,
  type OpenApiSchema,
  type PathSegment,
} from "../../src/schema/crds.js";
import { loadManifests, ManifestError } from "../../src/schema/manifests.js";
import type { SchemaSource } from "../../src/schema/schema-source.js";
import { precompiledSchemaSource } from "../helpers/precompiled.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BAD = path.join(ROOT, "test", "fixtures", "bad");
const FILES = [...readdirSync(BAD).filter((f) => /\.(ya?ml|json)$/.test(f)).sort().map((f) => path.join(BAD, f)), path.join(ROOT, "examples", "stack.yaml")];

/** What loadManifests made of a file: its problems, or its objects with kind and line. */
async function outcome(file: string): Promise<unknown> {
  try {
    const docs = await loadManifests([file]);
    return { docs: docs.map((d) => ({ kind: d.kind.kind, line: d.line, index: d.index, object: d.object })) };
  } catch (e) {
    if (e instanceof ManifestError) return { problems: e.problems, message: e.message };
    throw e;
  }
}

const BASES: Record<string, Record<string, unknown>> = {
  Project: { metadata: { name: "p" }, spec: {} },
  Application: { metadata: { name: "web", namespace: "p" }, spec: { source: { image: "busybox" } } },
  Database: { metadata: { name: "db", namespace: "p" }, spec: { engine: "redis", version: "7" } },
  Domain: { metadata: { name: "d", namespace: "p" }, spec: { host: "a.example.com", target: { application: "web", port: 80 } } },
  Sync: { metadata: { name: "s", namespace: "p" }, spec: {} },
};

const JUNK: unknown[] = [null, "", "x", "Not_A-Name!", "16", 16, -1, 0, 1.5, 70000, true, [], [1, "a"], {}, { a: 1 }, "x".repeat(64 * 1024 + 1)];

/** Every schema node below spec and metadata, with a path to it (array items at index 0). */
function* schemaPaths(schema: OpenApiSchema, at: PathSegment[]): Generator<[PathSegment[], OpenApiSchema]> {
  yield [at, schema];
  for (const [k, v] of Object.entries(schema.properties ?? {})) yield* schemaPaths(v, [...at, k]);
  if (schema.items) yield* schemaPaths(schema.items, [...at, 0]);
  if (typeof schema.additionalProperties === "object") yield* schemaPaths(schema.additionalProperties, [...at, "SOME_KEY"]);
}

function setAt(root: Record<string, unknown>, at: PathSegment[], value: unknown): void {
  let node: any = root;
  at.slice(0, -1).forEach((seg, i) => {
    const nextIsIndex = typeof at[i + 1] === "number";
    if (typeof node[seg] !== "object" || node[seg] === null || Array.isArray(node[seg]) !== nextIsIndex) node[seg] = nextIsIndex ? [] : {};
    node = node[seg];
  });
  node[at[at.length - 1]] = value;
}

/** The base object of each kind with one field set to each value: junk, its enum values, its default. */
function variants(info: KindInfo): Record<string, unknown>[] {
  const base = { apiVersion: API_VERSION, kind: info.kind, ...BASES[info.kind] };
  const out: Record<string, unknown>[] = [structuredClone(base), { kind: info.kind }, { ...structuredClone(base), metadata: null }];
  const root = validationSchema(info);
  for (const [at, node] of schemaPaths(root, [])) {
    if (at.length === 0 || at[0] === "status") continue;
    const values = [...JUNK, ...(node.enum ?? []), ...(node.default === undefined ? [] : [node.default]), Array.from({ length: 1001 }, () => "a")];
    for (const value of values) {
      const obj = structuredClone(base) as Record<string, unknown>;
      setAt(obj, at, structuredClone(value));
      out.push(obj);
    }
  }
  return out;
}

interface Results {
  validate: unknown;
  unknown: unknown;
  pruned: unknown;
  defaulted: unknown;
}

function resultsFor(info: KindInfo, objects: Record<string, unknown>[]): Results[] {
  return objects.map((obj) => ({
    validate: validateObject(info, obj),
    unknown: unknownFields(info, obj),
    pruned: pruneUnknownFields(info, obj),
    defaulted: applyDefaults(info, obj),
  }));
}

describe("precompiled schemas (dist/) and schemas compiled at run time (sources) agree", () => {
  let precompiled: SchemaSource;
  before(async function () {
    this.timeout(60_000);
    precompiled = await precompiledSchemaSource();
  });
  afterEach(() => useSchemaSource());

  /** Runs f under the run-time source, then under the precompiled one. */
  async function both<T>(f: () => T | Promise<T>): Promise<[T, T]> {
    useSchemaSource();
    expect(schemaSourceName()).to.equal("runtime");
    const runtime = await f();
    useSchemaSource(precompiled);
    expect(schemaSourceName()).to.equal("precompiled");
    return [runtime, await f()];
  }

  it("reads the same CRDs", async () => {
    const [runtime, pre] = await both(() => loadCrds());
    expect(pre).to.deep.equal(runtime);
  });

  it("gives the same problems (or objects) for every file of the manifest corpus", async () => {
    expect(FILES.length).to.be.at.least(30);
    const [runtime, pre] = await both(() => Promise.all(FILES.map(outcome)));
    FILES.forEach((file, i) => expect(pre[i], path.relative(ROOT, file)).to.deep.equal(runtime[i]));
    expect(runtime.filter((r) => "problems" in (r as object)).length).to.equal(FILES.length - 1);
  });

  for (const info of KINDS) {
    it(`gives the same causes, unknown fields, pruned and defaulted copies for every field of ${info.kind} set to every type`, async () => {
      const objects = variants(info);
      const [runtime, pre] = await both(() => resultsFor(info, objects));
      objects.forEach((obj, i) => expect(pre[i], JSON.stringify(obj).slice(0, 300)).to.deep.equal(runtime[i]));
      // The corpus is not trivially valid: most variants are refused, with several kinds of reason.
      const causes = runtime.flatMap((r) => r.validate as { reason: string }[]);
      expect(runtime.filter((r) => (r.validate as unknown[]).length > 0).length).to.be.greaterThan(objects.length / 2);
      expect(new Set(causes.map((c) => c.reason)).size).to.be.at.least(info.kind === "Project" ? 4 : 5);
    });
  }
});

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { API_VERSION, KINDS } from "../../src/core/kinds.js";
import {
  applyDefaults,
  crdFor,
  formatFieldPath,
  loadCrds,
  openApiSchema,
  parseFieldPath,
  pruneUnknownFields,
  schemaSourceName,
  unknownFields,
  useSchemaSource,
  validateObject,
  type OpenApiSchema,
} from "../../src/schema/crds.js";
import { precompiledSchemaSource } from "../helpers/precompiled.js";
import { loadManifests, ManifestError, MAX_DOCUMENT_BYTES, sortForApply, sortForDelete, type ManifestDoc } from "../../src/schema/manifests.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BAD = path.join(ROOT, "test", "fixtures", "bad");
const STACK = path.join(ROOT, "examples", "stack.yaml");

const PROJECT = `apiVersion: ${API_VERSION}\nkind: Project\nmetadata: {name: fixture}\nspec: {description: valid first document}\n`;

async function manifestError(inputs: string[], readStdin?: () => Promise<string>): Promise<ManifestError> {
  const err = await loadManifests(inputs, readStdin).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "loadManifests should have thrown").to.be.instanceOf(ManifestError);
  return err as ManifestError;
}

interface Expectation {
  line: number;
  field: string;
}

/** `# expect: <line>: <field>` headers; JSON cannot hold comments, so a .json fixture has a sidecar .expect file. */
function expectations(file: string): Expectation[] {
  const header = existsSync(`${file}.expect`) ? readFileSync(`${file}.expect`, "utf8") : readFileSync(file, "utf8");
  return [...header.matchAll(/^# expect: (\d+):[ \t]*(\S*)[ \t]*$/gm)].map((m) => ({ line: Number(m[1]), field: m[2] }));
}

function nameOf(doc: ManifestDoc): string {
  return (doc.object.metadata as { name: string }).name;
}

/**
 * The whole corpus runs twice: against the schemas compiled at run time (sources, tsx) and
 * against the ones the build precompiles for dist/ (test/unit/precompiled-schemas.test.ts also
 * compares the two cause for cause).
 */
for (const mode of ["runtime", "precompiled"] as const) {
  describe(mode === "runtime" ? "schemas compiled at run time (from sources)" : "schemas precompiled as the build does (dist/)", () => {
    before(async function () {
      this.timeout(60_000);
      if (mode === "precompiled") useSchemaSource(await precompiledSchemaSource());
      expect(schemaSourceName()).to.equal(mode);
    });
    after(() => useSchemaSource());

    corpus();
  });
}

function corpus(): void {
  describe("manifests", () => {
    describe("the bad corpus (test/fixtures/bad)", () => {
      const fixtures = readdirSync(BAD)
        .filter((f) => /\.(ya?ml|json)$/.test(f))
        .sort();

      it("has at least 30 fixtures, each starting with a valid Project and stating what it expects", () => {
        expect(fixtures.length).to.be.at.least(30);
        for (const name of fixtures) {
          const file = path.join(BAD, name);
          expect(expectations(file), name).to.not.be.empty;
          if (name.endsWith(".json")) continue;
          const firstDoc = readFileSync(file, "utf8").replace(/^#.*\n/gm, "").split(/^---$/m)[0];
          expect(firstDoc, name).to.equal(PROJECT);
        }
      });

      for (const name of fixtures) {
        it(name, async () => {
          const file = path.join(BAD, name);
          const expected = expectations(file);
          const err = await manifestError([file]);
          const lines = err.message.split("\n");
          for (const { line, field } of expected) {
            const prefix = `${file}:${line}: `;
            const hit = lines.find((l) => l.startsWith(prefix) && l.includes(field));
            expect(hit, `expected a line starting ${prefix} naming ${field || "no field"} in:\n${err.message}`).to.not.equal(undefined);
          }
          // Exactly the expected problems: the valid Project in front is never blamed.
          expect(err.problems, err.message).to.have.length(expected.length);
          for (const p of err.problems) expect(p.file).to.equal(file);
        });
      }

      it("refuses a document larger than 1 MiB, generated at test time", async () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "berth-manifest-"));
        try {
          const file = path.join(dir, "huge.yaml");
          const big = "x".repeat(MAX_DOCUMENT_BYTES + 10);
          const app = `apiVersion: ${API_VERSION}\nkind: Application\nmetadata:\n  name: huge\n  namespace: fixture\n  annotations: {blob: "${big}"}\nspec:\n  source: {image: busybox}\n`;
          writeFileSync(file, `${PROJECT}---\n${app}`);
          const err = await manifestError([file]);
          expect(err.problems).to.have.length(1);
          expect(err.message).to.match(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:6: document is too large`));
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });

      it("reports the problems of every file in one error, in input order", async () => {
        const a = path.join(BAD, "replicas-negative.yaml");
        const b = path.join(BAD, "engine-invalid.yaml");
        const err = await manifestError([b, a]);
        // Both fixtures start with the same Project, so the second one is also a duplicate.
        expect(err.message.split("\n")).to.deep.equal([
          `${b}:11: spec.engine: Unsupported value: "oracle": supported values: "postgresql", "mysql", "mongodb", "redis"`,
          `${a}:4: metadata.name: Duplicate value: Project "fixture" is already defined at ${b}:4`,
          `${a}:12: spec.replicas: Invalid value: -1: must be >= 0`,
        ]);
      });

      it("reports a file that does not exist", async () => {
        const err = await manifestError([path.join(BAD, "no-such-file.yaml")]);
        expect(err.message).to.include("no-such-file.yaml: no such file or directory");
      });

      it("finds the same object defined in two files", async () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "berth-manifest-"));
        try {
          writeFileSync(path.join(dir, "a.yaml"), PROJECT);
          writeFileSync(path.join(dir, "b.yaml"), `# again\n${PROJECT}`);
          const err = await manifestError([dir]);
          expect(err.message).to.equal(`${path.join(dir, "b.yaml")}:4: metadata.name: Duplicate value: Project "fixture" is already defined at ${path.join(dir, "a.yaml")}:3`);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    });

    describe("examples/stack.yaml", () => {
      it("loads as four valid documents with their lines", async () => {
        const docs = await loadManifests([STACK]);
        expect(docs.map((d) => d.kind.kind)).to.deep.equal(["Project", "Database", "Application", "Domain"]);
        expect(docs.map((d) => d.index)).to.deep.equal([0, 1, 2, 3]);
        expect(docs.map(nameOf)).to.deep.equal(["my-saas-app", "app-postgres", "api-service", "api"]);
        const text = readFileSync(STACK, "utf8").split("\n");
        for (const d of docs) expect(text[d.line - 1], d.kind.kind).to.equal(`apiVersion: ${API_VERSION}`);
        for (const d of docs) {
          expect(validateObject(d.kind, d.object)).to.deep.equal([]);
          expect(unknownFields(d.kind, d.object)).to.deep.equal([]);
        }
      });

      it("uses the test image and an internal TLS issuer", async () => {
        const docs = await loadManifests([STACK]);
        const app = docs.find((d) => d.kind.kind === "Application")!.object as { spec: Record<string, any> };
        expect(app.spec.source).to.deep.equal({ image: "berth-test/busybox:1" });
        expect(app.spec.command).to.deep.equal(["httpd", "-f", "-p", "8080", "-h", "/www"]);
        const domain = docs.find((d) => d.kind.kind === "Domain")!.object as { spec: Record<string, any> };
        expect(domain.spec.tls).to.deep.equal({ enabled: true, issuer: "internal" });
      });

      it("maps field paths back to lines", async () => {
        const docs = await loadManifests([STACK]);
        const text = readFileSync(STACK, "utf8").split("\n");
        const app = docs.find((d) => d.kind.kind === "Application")!;
        const lineWith = (s: string): number => text.findIndex((l) => l.includes(s)) + 1;
        expect(app.lineOf("spec.replicas")).to.equal(lineWith("replicas: 3"));
        expect(app.lineOf("spec.env.PORT")).to.equal(lineWith("env: {NODE_ENV"));
        expect(app.lineOf("spec.ports[0].containerPort")).to.equal(lineWith("ports: [{containerPort"));
        expect(app.lineOf("spec.healthcheck.http.path")).to.equal(lineWith("healthcheck:"));
        expect(app.lineOf("metadata.labels.tier")).to.equal(app.line + 2);
        // Absent fields fall back to the closest parent, then to the document.
        expect(app.lineOf("spec.resources.limits.nothing")).to.equal(lineWith("resources:"));
        expect(app.lineOf("spec.volumes[3].name")).to.equal(lineWith("kind: Application") + 2);
        expect(app.lineOf("nothing.at.all")).to.equal(app.line);
        expect(app.lineOf("")).to.equal(app.line);
      });
    });

    describe("inputs", () => {
      let dir: string;
      beforeEach(() => {
        dir = mkdtempSync(path.join(os.tmpdir(), "berth-manifest-"));
      });
      afterEach(() => rmSync(dir, { recursive: true, force: true }));

      const db = (name: string): string => `apiVersion: ${API_VERSION}\nkind: Database\nmetadata: {name: ${name}, namespace: fixture}\nspec: {engine: redis, version: "7"}\n`;

      it("reads directories recursively, in name order, only manifest extensions", async () => {
        mkdirSync(path.join(dir, "a"));
        writeFileSync(path.join(dir, "a", "x.yml"), db("one"));
        writeFileSync(path.join(dir, "b.yaml"), `${db("two")}---\n${db("three")}`);
        writeFileSync(
          path.join(dir, "c.json"),
          JSON.stringify({ apiVersion: API_VERSION, kind: "Database", metadata: { name: "four", namespace: "fixture" }, spec: { engine: "redis", version: "7" } }, null, 2),
        );
        writeFileSync(path.join(dir, "notes.txt"), "not: a manifest\n");
        writeFileSync(path.join(dir, "0-project.yaml"), PROJECT);
        const docs = await loadManifests([dir]);
        expect(docs.map(nameOf)).to.deep.equal(["fixture", "one", "two", "three", "four"]);
        expect(docs.map((d) => path.relative(dir, d.file))).to.deep.equal(["0-project.yaml", path.join("a", "x.yml"), "b.yaml", "b.yaml", "c.json"]);
        expect(docs[3].line).to.equal(6);
        expect(docs[4].lineOf("spec.engine")).to.equal(9);
      });

      it("reads - from stdin", async () => {
        const docs = await loadManifests(["-"], async () => readFileSync(STACK, "utf8"));
        expect(docs).to.have.length(4);
        expect(docs.every((d) => d.file === "<stdin>")).to.equal(true);
        const err = await manifestError(["-"], async () => `${PROJECT}---\n${db("Bad")}`);
        expect(err.message).to.equal(`<stdin>:8: metadata.name: Invalid value: "Bad": must consist of lower case letters, digits and '-', and start and end with a letter or digit (regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$)`);
      });

      it("skips empty documents and comment-only documents", async () => {
        writeFileSync(path.join(dir, "m.yaml"), `---\n# nothing here\n---\n${PROJECT}---\n---\n${db("x")}---\n`);
        const docs = await loadManifests([path.join(dir, "m.yaml")]);
        expect(docs.map(nameOf)).to.deep.equal(["fixture", "x"]);
        // The leading `---` opens document 0 (the comment); the trailing one opens document 4.
        expect(docs.map((d) => d.index)).to.deep.equal([1, 3]);
      });

      it("accepts a kind: List, as get -o yaml prints it", async () => {
        const list = { apiVersion: "v1", kind: "List", items: [{ apiVersion: API_VERSION, kind: "Project", metadata: { name: "p", uid: "1", resourceVersion: "7" }, status: { phase: "Active" } }] };
        writeFileSync(path.join(dir, "list.json"), JSON.stringify(list, null, 2));
        const [doc] = await loadManifests([path.join(dir, "list.json")]);
        expect(nameOf(doc)).to.equal("p");
        expect(doc.line).to.equal(5);
      });

      it("accepts YAML merge keys, as kubectl does", async () => {
        const text = `${PROJECT}---\napiVersion: ${API_VERSION}\nkind: Application\nmetadata: {name: web, namespace: fixture}\nspec:\n  source: {image: busybox}\n  env:\n    <<: &common {LOG_LEVEL: info}\n    PORT: "80"\n`;
        const docs = await loadManifests(["-"], async () => text);
        expect((docs[1].object.spec as { env: unknown }).env).to.deep.equal({ LOG_LEVEL: "info", PORT: "80" });
      });
    });

    describe("ordering", () => {
      it("sorts Project → Database → Application → Domain, stably, and reverses for delete", async () => {
        const docs = await loadManifests([STACK]);
        const [project, database, application, domain] = docs;
        const shuffled = [domain, application, database, project];
        expect(sortForApply(shuffled).map((d) => d.kind.kind)).to.deep.equal(["Project", "Database", "Application", "Domain"]);
        expect(sortForDelete(shuffled).map((d) => d.kind.kind)).to.deep.equal(["Domain", "Application", "Database", "Project"]);
        const second = { ...database, object: { ...database.object, metadata: { name: "second", namespace: "my-saas-app" } } };
        expect(sortForApply([application, second, database]).map(nameOf)).to.deep.equal(["second", "app-postgres", "api-service"]);
        expect(shuffled.map((d) => d.kind.kind)).to.deep.equal(["Domain", "Application", "Database", "Project"]);
      });
    });
  });

  describe("schemas", () => {
    const app = (spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): Record<string, unknown> => ({
      apiVersion: API_VERSION,
      kind: "Application",
      metadata: { name: "web", namespace: "p", ...metadata },
      spec: { source: { image: "busybox" }, ...spec },
    });

    it("reports causes with Kubernetes field paths and reasons", () => {
      const causes = validateObject("Application", app({ replicas: -1, env: { lower_case: "x" }, ports: [{ containerPort: 8080 }, { containerPort: "80" }], restartPolicy: "sometimes" }));
      expect(causes).to.deep.include({ field: "spec.replicas", reason: "FieldValueInvalid", message: "Invalid value: -1: must be >= 0" });
      expect(causes).to.deep.include({ field: "spec.env.lower_case", reason: "FieldValueInvalid", message: 'Invalid value: "lower_case": must match ^[A-Z_][A-Z0-9_]*$' });
      expect(causes).to.deep.include({ field: "spec.ports[1].containerPort", reason: "FieldValueTypeInvalid", message: "must be of type integer, got string" });
      expect(causes.find((c) => c.field === "spec.restartPolicy")?.reason).to.equal("FieldValueNotSupported");
    });

    it("reports one cause per field, the type first", () => {
      const causes = validateObject("Application", app({ source: "busybox" }));
      expect(causes).to.deep.equal([{ field: "spec.source", reason: "FieldValueTypeInvalid", message: "must be of type object, got string" }]);
    });

    it("reports required, too long, duplicate and forbidden values", () => {
      const causes = validateObject("Application", {
        apiVersion: API_VERSION,
        kind: "Application",
        metadata: { name: "a".repeat(64) },
        spec: { replicas: 2, ports: [{ containerPort: 80, publish: { hostPort: 8080 } }, { containerPort: 80, protocol: "tcp" }] },
      });
      const reasons = Object.fromEntries(causes.map((c) => [c.field, c.reason]));
      expect(reasons).to.deep.equal({
        "metadata.name": "FieldValueTooLong",
        "spec.source": "FieldValueRequired",
        "spec.ports[1]": "FieldValueDuplicate",
        "spec.ports[0].publish.hostPort": "FieldValueForbidden",
      });
    });

    it("says exactly one source must be set", () => {
      const [none] = validateObject("Application", app({ source: {} }));
      expect(none).to.deep.equal({ field: "spec.source", reason: "FieldValueRequired", message: "Required value: set exactly one of image, imagePolicy, git, compose" });
      const [both] = validateObject("Application", app({ source: { image: "x", compose: { content: "services: {}" } } }));
      expect(both.message).to.equal("Forbidden: set exactly one of image, imagePolicy, git, compose (got image and compose)");
    });

    it("validates metadata: name, namespace, label keys and values; null counts as absent", () => {
      expect(validateObject("Project", { apiVersion: API_VERSION, kind: "Project" })).to.deep.equal([{ field: "metadata.name", reason: "FieldValueRequired", message: "Required value" }]);
      const causes = validateObject("Application", app({ replicas: null }, { labels: { "app.kubernetes.io/name": "web", "bad key": "x", tier: 3 } }));
      expect(causes.map((c) => c.field)).to.deep.equal(["metadata.labels[bad key]", "metadata.labels.tier"]);
    });

    it("validates finalizers: domain-qualified names, at most 64", () => {
      const fields = (finalizers: unknown): string[] => validateObject("Application", app({}, { finalizers } as never)).map((c) => c.field);
      expect(fields(["berth.dev/runtime", "example.com/hold"])).to.deep.equal([]);
      expect(fields([{ a: 1 }, 1, "", "../../x", "a b", "no-domain"])).to.deep.equal(["metadata.finalizers[0]", "metadata.finalizers[1]", "metadata.finalizers[2]", "metadata.finalizers[3]", "metadata.finalizers[4]", "metadata.finalizers[5]"]);
      expect(fields(Array.from({ length: 65 }, (_, i) => `example.com/f${i}`))).to.deep.equal(["metadata.finalizers"]);
    });

    it("finds and prunes unknown fields, ignoring status and server-set metadata", () => {
      const obj: Record<string, unknown> = {
        ...app({ replicaz: 3, source: { image: "x", imagee: "y" }, ports: [{ containerPort: 80, hostPort: 80 }], env: { ANY_NAME: "ok" } }, { uid: "u", resourceVersion: "1", generation: 2, finalizers: ["x"], colour: "red" }),
        status: { anything: { goes: true } },
        extra: 1,
      };
      expect(unknownFields("Application", obj)).to.have.members(["extra", "metadata.colour", "spec.replicaz", "spec.source.imagee", "spec.ports[0].hostPort"]);
      const pruned = pruneUnknownFields("Application", obj);
      expect(unknownFields("Application", pruned)).to.deep.equal([]);
      expect(pruned.status).to.deep.equal(obj.status);
      expect(pruned.metadata).to.include({ uid: "u", generation: 2 });
      expect((pruned.spec as { ports: unknown }).ports).to.deep.equal([{ containerPort: 80 }]);
      expect(obj.extra, "the input is not modified").to.equal(1);
    });

    it("fills defaults into a copy", () => {
      const input = app({ source: { git: { repository: "https://x/y.git" } }, ports: [{ containerPort: 80, publish: {} }], strategy: {} });
      const out = applyDefaults("Application", input) as { spec: Record<string, any> };
      expect(out.spec.replicas).to.equal(1);
      expect(out.spec.deletionPolicy).to.equal("Retain");
      expect(out.spec.source.git).to.deep.equal({ repository: "https://x/y.git", dockerfile: "Dockerfile", context: "." });
      expect(out.spec.ports).to.deep.equal([{ containerPort: 80, protocol: "tcp", publish: { hostIP: "127.0.0.1" } }]);
      expect(out.spec.strategy).to.deep.equal({ type: "RollingUpdate" });
      expect(out.spec.healthcheck, "no defaults for absent parents").to.equal(undefined);
      expect((input.spec as Record<string, unknown>).replicas, "the input is not modified").to.equal(undefined);
      const db = applyDefaults("Database", { spec: { engine: "redis", version: "7" } }) as { spec: Record<string, unknown> };
      expect(db.spec.deletionPolicy).to.equal("Retain");
      const dom = applyDefaults("Domain", { spec: { host: "a.b", target: { application: "a", port: 1 }, tls: {} } }) as { spec: Record<string, unknown> };
      expect(dom.spec).to.deep.include({ path: "/", tls: { enabled: true, issuer: "acme" } });
    });

    it("round-trips field paths", () => {
      for (const f of ["spec.replicas", "spec.ports[0].containerPort", "spec.env.lower_case", "metadata.labels[app.kubernetes.io/name]", "apiVersion"]) {
        expect(formatFieldPath(parseFieldPath(f))).to.equal(f);
      }
      expect(parseFieldPath("spec.ports[2].publish")).to.deep.equal(["spec", "ports", 2, "publish"]);
    });
  });

  describe("CRDs (crds/*.yaml)", () => {
    /** Every schema node, with its path, skipping oneOf/anyOf branches (they only restate required fields or formats). */
    function* nodes(schema: OpenApiSchema, at: string): Generator<[string, OpenApiSchema]> {
      yield [at, schema];
      for (const [k, v] of Object.entries(schema.properties ?? {})) yield* nodes(v, `${at}.${k}`);
      if (schema.items) yield* nodes(schema.items, `${at}[]`);
      if (typeof schema.additionalProperties === "object") yield* nodes(schema.additionalProperties, `${at}{}`);
    }

    it("are one per kind, with the names, scope and subresources kubectl expects", () => {
      expect(loadCrds()).to.have.length(KINDS.length);
      expect(KINDS.map((k) => k.kind)).to.include("Sync");
      for (const k of KINDS) {
        const crd = crdFor(k.kind);
        expect(crd.apiVersion).to.equal("apiextensions.k8s.io/v1");
        expect(crd.metadata.name).to.equal(`${k.plural}.berth.dev`);
        expect(crd.spec.group).to.equal("berth.dev");
        expect(crd.spec.scope).to.equal(k.namespaced ? "Namespaced" : "Cluster");
        expect(crd.spec.names).to.deep.equal({ plural: k.plural, singular: k.singular, kind: k.kind, listKind: k.listKind, shortNames: k.shortNames, categories: k.namespaced ? ["all", "berth"] : ["berth"] });
        const [version] = crd.spec.versions;
        expect(version).to.include({ name: "v1alpha1", served: true, storage: true });
        const scale = { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".status.selector" };
        expect(version.subresources).to.deep.equal(k.kind === "Application" ? { status: {}, scale } : { status: {} });
        expect(version.additionalPrinterColumns?.length).to.be.greaterThan(1);
      }
    });

    it("are structural: typed, described, and free of keywords Kubernetes rejects", () => {
      for (const k of KINDS) {
        const root = openApiSchema(k.kind);
        for (const [at, node] of nodes(root.properties!.spec, "spec")) {
          expect(node.type, `${k.kind} ${at} type`).to.be.a("string");
          expect(node.description ?? (at.endsWith("[]") || at.endsWith("{}") ? "item" : undefined), `${k.kind} ${at} description`).to.be.a("string");
          for (const bad of ["propertyNames", "patternProperties", "$ref", "definitions", "dependencies", "x-kubernetes-preserve-unknown-fields"]) {
            expect(node, `${k.kind} ${at}`).to.not.have.property(bad);
          }
          expect(node.uniqueItems, `${k.kind} ${at} uniqueItems`).to.not.equal(true);
          if (node.properties) expect(node.additionalProperties, `${k.kind} ${at}: properties and additionalProperties are exclusive`).to.equal(undefined);
          for (const branch of [...(node.oneOf ?? []), ...(node.anyOf ?? [])]) {
            for (const key of ["type", "description", "default", "additionalProperties", "nullable"]) expect(branch, `${k.kind} ${at} branch`).to.not.have.property(key);
          }
          if (node.default !== undefined) expect(validateDefault(node), `${k.kind} ${at} default`).to.equal(true);
        }
        expect(root.properties!.status["x-kubernetes-preserve-unknown-fields"]).to.equal(true);
      }
    });

    // Keys of JSONSchemaProps and friends in apiextensions.k8s.io/v1; anything else is an
    // "unknown field" error under kubectl's default strict field validation.
    const SCHEMA_KEYS = new Set([
      "id", "$schema", "$ref", "description", "type", "format", "title", "default", "maximum", "exclusiveMaximum", "minimum",
      "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "multipleOf", "enum",
      "maxProperties", "minProperties", "required", "items", "allOf", "oneOf", "anyOf", "not", "properties", "additionalProperties",
      "patternProperties", "dependencies", "additionalItems", "definitions", "externalDocs", "example", "nullable",
      "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string",
      "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-map-type", "x-kubernetes-validations",
    ]);
    const RULE_KEYS = new Set(["rule", "message", "messageExpression", "reason", "fieldPath", "optionalOldSelf"]);
    const COLUMN_KEYS = new Set(["name", "type", "format", "description", "priority", "jsonPath"]);

    function* everyNode(schema: OpenApiSchema): Generator<OpenApiSchema> {
      yield schema;
      for (const v of Object.values(schema.properties ?? {})) yield* everyNode(v);
      for (const v of [...(schema.oneOf ?? []), ...(schema.anyOf ?? [])]) yield* everyNode(v);
      if (schema.items) yield* everyNode(schema.items);
      if (typeof schema.additionalProperties === "object") yield* everyNode(schema.additionalProperties);
    }

    it("use only fields the CustomResourceDefinition API knows", () => {
      for (const k of KINDS) {
        for (const node of everyNode(openApiSchema(k.kind))) {
          for (const key of Object.keys(node)) expect(SCHEMA_KEYS.has(key), `${k.kind}: schema keyword ${key}`).to.equal(true);
          for (const rule of node["x-kubernetes-validations"] ?? []) {
            for (const key of Object.keys(rule)) expect(RULE_KEYS.has(key), `${k.kind}: rule field ${key}`).to.equal(true);
          }
        }
        for (const column of crdFor(k.kind).spec.versions[0].additionalPrinterColumns ?? []) {
          for (const key of Object.keys(column)) expect(COLUMN_KEYS.has(key), `${k.kind}: printer column field ${key}`).to.equal(true);
          expect(["integer", "number", "string", "boolean", "date"]).to.include(column.type);
        }
      }
    });

    function validateDefault(node: OpenApiSchema): boolean {
      if (node.enum) return node.enum.includes(node.default);
      return node.type === "integer" ? Number.isInteger(node.default) : typeof node.default === node.type;
    }
  });
}

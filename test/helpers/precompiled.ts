import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { KINDS } from "../../src/core/kinds.js";
import { precompileSchemas } from "../../src/schema/precompile.js";
import type { SchemaSource } from "../../src/schema/schema-source.js";

let loaded: Promise<SchemaSource> | undefined;

/**
 * The precompiled schema source exactly as scripts/build.mjs generates it (crds.json and the ajv
 * standalone module), written to a temp directory and imported, so tests need no build. Its
 * imports of ajv's helpers are file URLs into node_modules (the build's are bare, for esbuild).
 */
export function precompiledSchemaSource(): Promise<SchemaSource> {
  loaded ??= (async () => {
    const resolve = createRequire(import.meta.url).resolve;
    const { crdsJson, moduleCode } = precompileSchemas((s) => pathToFileURL(resolve(s)).href);
    const dir = mkdtempSync(path.join(os.tmpdir(), "berth-precompiled-"));
    try {
      writeFileSync(path.join(dir, "crds.json"), crdsJson);
      writeFileSync(path.join(dir, "crd-validators.mjs"), moduleCode);
      const { schemaSource } = (await import(pathToFileURL(path.join(dir, "crd-validators.mjs")).href)) as { schemaSource: SchemaSource };
      // crds.json is read once, on first use: read it before the directory goes.
      schemaSource.readCrd(KINDS[0]);
      return schemaSource;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return loaded;
}

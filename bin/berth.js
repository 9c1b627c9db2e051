#!/usr/bin/env node
// Runs the bundled dist/ (scripts/build.mjs, run by `npm ci` through `prepare`) when it is
// newer than every source file it was built from; otherwise the TypeScript sources through
// tsx, so an edited checkout never runs stale output and one without a build still works.
import { readFileSync, statSync } from "node:fs";

const stamp = new URL("../dist/.build-stamp", import.meta.url);

/** True when dist/ exists and no source it was built from changed since. */
function compiledIsFresh() {
  if (process.env.BERTH_FROM_SOURCE === "1") return false;
  try {
    const builtAt = statSync(stamp).mtimeMs;
    const { sources } = JSON.parse(readFileSync(stamp, "utf8"));
    return sources.every((f) => statSync(new URL(`../${f}`, import.meta.url), { throwIfNoEntry: false })?.mtimeMs <= builtAt);
  } catch {
    return false;
  }
}

const compiled = compiledIsFresh();
if (process.env.BERTH_DEBUG_ENTRY === "1") process.stderr.write(`berth: running ${compiled ? "dist/" : "src/ through tsx"}\n`);
if (compiled) {
  await import("../dist/berth.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/main.ts");
}

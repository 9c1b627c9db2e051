import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { releaseNock, useNock } from "../helpers/nock.js";

const TEST_DIR = path.resolve(import.meta.dirname, "..");

/** Mocha imports every integration suite into one process; a static nock import there patches node:http for all of them. */
describe("nock stays scoped to the suites that use it", () => {
  it("no integration suite or helper imports nock statically", () => {
    const offenders: string[] = [];
    for (const dir of [TEST_DIR, path.join(TEST_DIR, "helpers")]) {
      for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
        if (dir.endsWith("helpers") && f === "nock.ts") continue;
        const text = readFileSync(path.join(dir, f), "utf8");
        if (/^\s*import\s+[^;]*from\s+["']nock["']/m.test(text)) offenders.push(path.relative(TEST_DIR, path.join(dir, f)));
      }
    }
    expect(offenders, "use useNock()/releaseNock() from test/helpers/nock.ts instead").to.deep.equal([]);
  });

  it("releaseNock leaves node:http unpatched", async () => {
    const nock = await useNock();
    expect(nock.isActive()).to.equal(true);
    releaseNock(nock);
    try {
      expect(nock.isActive()).to.equal(false);
    } finally {
      // Unit suites (one process, no Docker) import nock statically and expect it active.
      nock.activate();
    }
  });
});

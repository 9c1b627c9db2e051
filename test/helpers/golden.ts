import { expect } from "chai";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * `actual` must equal the golden file. A missing golden file fails, always: it is never created
 * by a test. UPDATE_GOLDEN=1 rewrites an existing one on purpose (review the diff); a new golden
 * file is added by hand, so nothing passes for want of an expectation.
 */
export function expectGolden(file: string, actual: string): void {
  const name = path.relative(process.cwd(), file);
  expect(existsSync(file), `${name} is missing: create it by hand (an empty file), then run UPDATE_GOLDEN=1 and review it`).to.equal(true);
  if (process.env.UPDATE_GOLDEN) writeFileSync(file, actual);
  expect(actual).to.equal(readFileSync(file, "utf8"));
}

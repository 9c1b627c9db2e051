/**
 * A suite whose prerequisite is missing: skipped with the message on a user's machine, a hard
 * failure under CI (CI=true), where .ci/run installs everything and a gap means broken setup.
 * The one place a suite may skip, so no suite skips silently or under CI.
 */
export function missingPrerequisite(ctx: Mocha.Context, message: string): never {
  if (process.env.CI === "true") throw new Error(`CI=true but ${message}`);
  console.warn(`    (skipping: ${message})`);
  ctx.skip();
}

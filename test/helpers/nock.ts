/**
 * nock patches node:http for the whole process the moment it is imported, and its interceptor
 * breaks the Docker engine's hijacked exec streams (`write EPIPE` on the socket's first write).
 * Mocha imports every spec file before running any, so a static `import nock` in one suite broke
 * backup/restore in another. Suites therefore load nock here, only while they run, and give it
 * back in `after` — test/unit/nock-scope.test.ts keeps static imports out of the integration suites.
 */
import type nockType from "nock";

export type Nock = typeof nockType;

export async function useNock(): Promise<Nock> {
  const nock = (await import("nock")).default;
  if (!nock.isActive()) nock.activate();
  return nock;
}

export function releaseNock(nock: Nock | undefined): void {
  if (!nock) return;
  nock.cleanAll();
  nock.restore();
}

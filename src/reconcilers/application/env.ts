import type { ApplicationSpec } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import { applicationEnv, ENGINE_INFO } from "../../runtime/database-engines.js";
import { databaseContainerName } from "../../runtime/database-spec.js";
import type { CredentialStore } from "../../store/credentials.js";
import { fail } from "../shared/failures.js";

/** `envFrom: [{databaseRef: NAME}]` of an Application spec, as dependencies to wait for. */
export function envFromDependencies(spec: Record<string, unknown> | undefined): { kind: string; name: string }[] {
  const list = ((spec as ApplicationSpec | undefined)?.envFrom ?? []) as { databaseRef?: string }[];
  return list.filter((e) => typeof e?.databaseRef === "string").map((e) => ({ kind: "Database", name: e.databaseRef! }));
}

/** Every object an Application waits for: spec.dependsOn and the Databases of envFrom. */
export function dependenciesOf(app: ResourceObject): { kind: string; name: string }[] {
  return [...(((app.spec ?? {}) as ApplicationSpec).dependsOn ?? []), ...envFromDependencies(app.spec)];
}

/**
 * The environment `envFrom` injects into an Application's containers: DATABASE_URL (host = the
 * database container's name on the project network) and the engine's usual variables. Later
 * entries win over earlier ones; the Application's own env and secretEnv win over all of them.
 */
export async function databaseEnvFrom(credentials: CredentialStore, app: ResourceObject): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const project = app.metadata.namespace!;
  for (const dep of envFromDependencies(app.spec)) {
    const creds = await credentials.loadByName(project, dep.name);
    if (!creds) fail("DependencyNotReady", `envFrom: Database/${dep.name} has no credentials yet`, { retryAfterMs: 5000 });
    Object.assign(out, applicationEnv(creds, databaseContainerName(project, dep.name), ENGINE_INFO[creds.engine].port));
  }
  return out;
}

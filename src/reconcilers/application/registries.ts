import type { ResourceObject } from "../../core/types.js";
import type { Login } from "../../runtime/registry-auth.js";
import type { ResourceStore } from "../../store/resources.js";
import { SecretValueError, unsealRegistries, type SecretBox } from "../../store/secrets.js";
import { fail } from "../shared/failures.js";

/**
 * The registry logins an Application's pulls may use: its Project's spec.registries (ADR 0022),
 * read fresh on every reconcile that pulls. A stored password this installation cannot open
 * stops the rollout (SecretUnreadable) instead of pulling without it.
 */
export async function projectLogins(store: ResourceStore, box: SecretBox, app: ResourceObject): Promise<Login[]> {
  const project = await store.getStored("Project", undefined, app.metadata.namespace!);
  try {
    return unsealRegistries(box, project);
  } catch (e) {
    if (e instanceof SecretValueError) fail("SecretUnreadable", `Project ${app.metadata.namespace}: ${e.message}`, { terminal: true });
    throw e;
  }
}

/** Reasons a Project change (a new or fixed login) can clear: those Applications are reconciled at once. */
export const PULL_REASONS = ["RegistryAuthFailed", "ImagePullFailed", "ImageNotFound", "SecretUnreadable"];

import semver from "semver";
import type { ImagePolicySpec } from "../core/specs.js";
import { RuntimeError } from "./driver.js";
import type { RegistryAuth } from "./registry-auth.js";
import type { RegistryApi } from "./registry-client.js";


/** What a policy chose: the tag, the digest it points at, and the pinned reference the replicas run. */
export interface ResolvedImage {
  repository: string;
  tag: string;
  digest: string;
  /** `repository@digest`: a moved tag never changes what a replica runs without a rollout. */
  ref: string;
}

/** The highest tag that is a semantic version inside `range` (a leading `v` allowed); undefined when none is. */
export function newestTag(tags: readonly string[], range: string): string | undefined {
  const versions = tags.filter((t) => semver.valid(t) !== null);
  return semver.maxSatisfying(versions, range) ?? undefined;
}

/** Asks the registry what the policy points at now. */
export async function resolveImagePolicy(client: RegistryApi, spec: ImagePolicySpec, auth: RegistryAuth | undefined): Promise<ResolvedImage> {
  const tag = spec.policy.semver ? await newestMatching(client, spec, spec.policy.semver.range, auth) : (spec.policy.digest?.tag ?? "latest");
  const digest = await client.digest(spec.repository, tag, auth);
  return { repository: spec.repository, tag, digest, ref: `${spec.repository}@${digest}` };
}

async function newestMatching(client: RegistryApi, spec: ImagePolicySpec, range: string, auth: RegistryAuth | undefined): Promise<string> {
  const tags = await client.tags(spec.repository, auth);
  const tag = newestTag(tags, range);
  if (!tag) throw new RuntimeError("ImageNotFound", `no tag of ${spec.repository} is a version in range "${range}" (${tags.length} tag(s): ${tags.slice(0, 10).join(", ")}${tags.length > 10 ? ", …" : ""})`);
  return tag;
}

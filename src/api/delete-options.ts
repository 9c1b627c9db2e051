import { ApiError, badRequest } from "../core/errors.js";
import { GROUP } from "../core/kinds.js";

/** The parts of a metav1.DeleteOptions body Berth reads. */
interface DeleteOptionsBody {
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: string[];
  propagationPolicy?: string;
  orphanDependents?: boolean;
}

export interface DeleteOptions {
  preconditions: { uid?: string; resourceVersion?: string };
  dryRun: boolean;
}

const POLICIES = ["Background", "Foreground", "Orphan"];

/**
 * Orphan would leave an object's containers running unmanaged. Docker labels are immutable, so
 * they cannot be released from their owner: the orphan sweep would remove them, and a new object
 * of the same name would collide with them. Refused rather than ignored (ADR 0011).
 */
function orphanRefused(plural: string, name: string | undefined, how: string): ApiError {
  return new ApiError(
    400,
    "BadRequest",
    `${how} is not supported: Berth removes an object's containers, volumes (per deletionPolicy) and routes when it is deleted and cannot leave them running unmanaged; use propagationPolicy Background or Foreground (kubectl delete --cascade=background, the default)`,
    { ...(name ? { name } : {}), group: GROUP, kind: plural, causes: [{ field: "propagationPolicy", message: `Unsupported value: "Orphan": supported values: "Background", "Foreground"`, reason: "FieldValueNotSupported" }] },
  );
}

/** Query parameters win over the body, as in the Kubernetes API server. */
function policyOf(body: DeleteOptionsBody, query: URLSearchParams): { policy: string | undefined; orphan: boolean } {
  const policy = query.get("propagationPolicy") ?? body.propagationPolicy ?? undefined;
  const orphanParam = query.get("orphanDependents");
  const orphan = orphanParam !== null ? orphanParam === "true" : body.orphanDependents === true;
  return { policy, orphan };
}

/**
 * DeleteOptions from the body and the query: dryRun and preconditions are honoured; the
 * propagation policy must be Background or Foreground (both remove what the object owns).
 */
export function deleteOptions(body: DeleteOptionsBody, query: URLSearchParams, target: { plural: string; name?: string }, queryDryRun: boolean): DeleteOptions {
  const { policy, orphan } = policyOf(body, query);
  if (policy !== undefined && (typeof policy !== "string" || !POLICIES.includes(policy))) throw badRequest(`propagationPolicy: Unsupported value: "${policy}": supported values: "Background", "Foreground"`);
  if (policy === "Orphan") throw orphanRefused(target.plural, target.name, `propagationPolicy "Orphan" (kubectl delete --cascade=orphan)`);
  if (orphan) throw orphanRefused(target.plural, target.name, "orphanDependents=true");
  const dryRun = body.dryRun ?? [];
  if (!Array.isArray(dryRun)) throw badRequest("dryRun: must be a list of strings");
  if (dryRun.some((x) => x !== "All")) throw badRequest(`Invalid dryRun value: ${dryRun.join(",")}: only "All" is supported`);
  return { preconditions: body.preconditions ?? {}, dryRun: queryDryRun || dryRun.includes("All") };
}

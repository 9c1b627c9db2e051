import jsonpatch from "fast-json-patch";
import { ApiError, badRequest, conflict, invalid } from "../core/errors.js";
import type { ResourceObject } from "../core/types.js";
import { mergePatch } from "./merge-patch.js";
import { requireObject } from "./body-limits.js";

/**
 * The scale subresource of an Application as an `autoscaling/v1` Scale, so `kubectl scale` and
 * autoscalers (which read `status.selector` to find the replicas) work as on a Deployment.
 */
export function toScale(app: ResourceObject): Record<string, unknown> {
  const { name, namespace, uid, resourceVersion, creationTimestamp } = app.metadata;
  const spec = (app.spec ?? {}) as { replicas?: number };
  const status = (app.status ?? {}) as { replicas?: number; selector?: string };
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: spec.replicas ?? 1 },
    status: { replicas: status.replicas ?? 0, ...(status.selector ? { selector: status.selector } : {}) },
  };
}

/** The replicas a PUT or PATCH of the Scale asks for; a stale resourceVersion in it is a 409. */
export function scaledReplicas(app: ResourceObject, method: string, contentType: string | undefined, body: unknown): number {
  const scale = method === "PUT" ? requireObject<Record<string, any>>(body, "a Scale") : patchedScale(app, contentType, body);
  if (scale.kind !== undefined && scale.kind !== "Scale") throw badRequest(`the kind of the provided object (${String(scale.kind)}) does not match the request (Scale)`);
  const rv = scale.metadata?.resourceVersion;
  if (rv && rv !== app.metadata.resourceVersion) throw conflict("applications.berth.dev", app.metadata.name);
  const replicas = scale.spec?.replicas;
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw invalid("Scale", app.metadata.name, [{ field: "spec.replicas", message: `Invalid value: ${JSON.stringify(replicas ?? null)}: must be a whole number greater than or equal to 0`, reason: "FieldValueInvalid" }]);
  }
  return replicas as number;
}

function patchedScale(app: ResourceObject, contentType: string | undefined, body: unknown): Record<string, any> {
  const type = (contentType ?? "").split(";")[0].trim();
  const current = toScale(app);
  if (type === "application/merge-patch+json" || type === "application/strategic-merge-patch+json") return mergePatch(current, requireObject(body, "a merge patch")) as Record<string, any>;
  if (type === "application/json-patch+json" && Array.isArray(body)) {
    try {
      return jsonpatch.applyPatch(current, body as jsonpatch.Operation[], true, false).newDocument as Record<string, any>;
    } catch (e) {
      throw new ApiError(422, "Invalid", `the json patch could not be applied: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  throw new ApiError(415, "UnsupportedMediaType", "a Scale is patched with application/merge-patch+json, application/strategic-merge-patch+json or application/json-patch+json");
}

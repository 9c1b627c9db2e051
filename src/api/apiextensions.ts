import { createHash } from "node:crypto";
import { ApiError } from "../core/errors.js";
import { parseFieldSelector, parseLabelSelector } from "../core/selectors.js";
import { loadCrds, type CrdDocument } from "../schema/crds.js";
import type { Reply } from "./request.js";

/**
 * The four CRDs of crds/*.yaml, read-only under apiextensions.k8s.io/v1. kubectl's ApplySet
 * looks a custom-resource parent's type up there (by the applyset.kubernetes.io/is-parent-type
 * label, ADR 0011); the schemas are the files themselves, so nothing here can drift from them.
 */
export const APIEXTENSIONS = "apiextensions.k8s.io";
const GROUP_VERSION = `${APIEXTENSIONS}/v1`;
export const CRD_PATH = `/apis/${GROUP_VERSION}/customresourcedefinitions`;

/** Served from memory: it changes only with a new Berth, so one version and one creation time per process. */
const STARTED = new Date().toISOString().replace(/\.\d+Z$/, "Z");
const RESOURCE_VERSION = "1";

function served(crd: CrdDocument): Record<string, unknown> {
  const uid = createHash("sha256").update(crd.metadata.name).digest("hex");
  return {
    ...crd,
    metadata: {
      ...crd.metadata,
      uid: `${uid.slice(0, 8)}-${uid.slice(8, 12)}-${uid.slice(12, 16)}-${uid.slice(16, 20)}-${uid.slice(20, 32)}`,
      resourceVersion: RESOURCE_VERSION,
      generation: 1,
      creationTimestamp: STARTED,
      labels: crd.metadata.labels ?? {},
    },
    status: {
      acceptedNames: crd.spec.names,
      storedVersions: crd.spec.versions.filter((v) => v.storage).map((v) => v.name),
      conditions: [
        { type: "NamesAccepted", status: "True", reason: "NoConflicts", message: "no conflicts found", lastTransitionTime: STARTED },
        { type: "Established", status: "True", reason: "InitialNamesAccepted", message: "the initial names have been accepted", lastTransitionTime: STARTED },
      ],
    },
  };
}

/** GET of the list (label and metadata.name field selectors) or of one CRD; every write is 405. */
export function crdRequest(method: string, name: string | undefined, query: URLSearchParams): Reply {
  if (method !== "GET") throw new ApiError(405, "MethodNotAllowed", "Berth's CustomResourceDefinitions are read-only: they are the files in crds/ of the installed version");
  if (query.get("watch") === "true" || query.get("watch") === "1") throw new ApiError(405, "MethodNotAllowed", "watching CustomResourceDefinitions is not supported: they never change while Berth runs");
  const all = loadCrds().map(served);
  if (name !== undefined) {
    const one = all.find((c) => (c.metadata as { name: string }).name === name);
    if (!one) throw new ApiError(404, "NotFound", `customresourcedefinitions.${APIEXTENSIONS} "${name}" not found`, { name, group: APIEXTENSIONS, kind: "customresourcedefinitions" });
    return { status: 200, body: one };
  }
  const labels = parseLabelSelector(query.get("labelSelector") ?? undefined);
  const fields = parseFieldSelector(query.get("fieldSelector") ?? undefined);
  const items = all.filter((c) => {
    const meta = c.metadata as { name: string; labels: Record<string, string> };
    return (!labels || labels(meta.labels)) && (!fields.name || fields.name === meta.name);
  });
  return { status: 200, body: { kind: "CustomResourceDefinitionList", apiVersion: GROUP_VERSION, metadata: { resourceVersion: RESOURCE_VERSION }, items } };
}

export function apiextensionsGroup(): Record<string, unknown> {
  const v = { groupVersion: GROUP_VERSION, version: "v1" };
  return { kind: "APIGroup", apiVersion: "v1", name: APIEXTENSIONS, versions: [v], preferredVersion: v };
}

export function apiextensionsResourceList(): Record<string, unknown> {
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: GROUP_VERSION,
    resources: [{ name: "customresourcedefinitions", singularName: "customresourcedefinition", namespaced: false, kind: "CustomResourceDefinition", verbs: ["get", "list"], shortNames: ["crd", "crds"], categories: ["api-extensions"] }],
  };
}

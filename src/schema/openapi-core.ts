import { createHash } from "node:crypto";
import { OBJECT_META, objectMeta } from "./object-meta.js";

/**
 * The OpenAPI v3 document of the core group (`/openapi/v3/api/v1`) for what Berth serves there:
 * Namespace (a Project's view), Event and Service. Hand-written, as these are not Berth's kinds
 * and have no CRD; only the fields Berth fills, so `kubectl explain namespaces` tells the truth.
 */
export const CORE_GV_PATH = "api/v1";
const P = "io.k8s.api.core.v1.";

const ref = (name: string, description: string): Record<string, unknown> => ({ allOf: [{ $ref: `#/components/schemas/${name}` }], description });
const str = (description: string): Record<string, unknown> => ({ type: "string", description });
const typeMeta = {
  apiVersion: str("APIVersion defines the versioned schema of this representation of an object: v1."),
  kind: str("Kind is a string value representing the REST resource this object represents."),
};
const metadata = ref(OBJECT_META, "Standard object's metadata.");
const gvk = (kind: string): Record<string, unknown>[] => [{ group: "", version: "v1", kind }];

const schemas: Record<string, unknown> = {
  [OBJECT_META]: objectMeta,
  [`${P}Namespace`]: {
    description: "Namespace provides a scope for Names. In Berth every Namespace is a Project (berth.dev/v1alpha1), read-only here: manage Projects instead.",
    type: "object",
    properties: { ...typeMeta, metadata, spec: ref(`${P}NamespaceSpec`, "Spec defines the behavior of the Namespace."), status: ref(`${P}NamespaceStatus`, "Status describes the current status of a Namespace.") },
    "x-kubernetes-group-version-kind": gvk("Namespace"),
  },
  [`${P}NamespaceSpec`]: {
    description: "NamespaceSpec describes the attributes on a Namespace. Berth sets none.",
    type: "object",
    properties: { finalizers: { type: "array", items: { type: "string", default: "" }, description: "Finalizers is an opaque list of values that must be empty to permanently remove object from storage." } },
  },
  [`${P}NamespaceStatus`]: {
    description: "NamespaceStatus is information about the current status of a Namespace.",
    type: "object",
    properties: { phase: { ...str("Phase is the current lifecycle phase of the namespace: Active, or Terminating once its Project is deleted."), enum: ["Active", "Terminating"] } },
  },
  [`${P}NamespaceList`]: {
    description: "NamespaceList is a list of Namespaces.",
    type: "object",
    required: ["items"],
    properties: { ...typeMeta, items: { type: "array", items: ref(`${P}Namespace`, ""), description: "Items is the list of Namespace objects in the list." } },
    "x-kubernetes-group-version-kind": gvk("NamespaceList"),
  },
  [`${P}Event`]: {
    description: "Event is a report of an event somewhere in the cluster; Berth's controllers record them about its objects.",
    type: "object",
    required: ["metadata", "involvedObject"],
    properties: {
      ...typeMeta,
      metadata,
      involvedObject: ref(`${P}ObjectReference`, "The object that this event is about."),
      reason: str("This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
      message: str("A human-readable description of the status of this operation."),
      type: str("Type of this event (Normal, Warning)."),
      count: { type: "integer", format: "int32", description: "The number of times this event has occurred." },
      source: ref(`${P}EventSource`, "The component reporting this event."),
      firstTimestamp: { type: "string", format: "date-time", description: "The time at which the event was first recorded." },
      lastTimestamp: { type: "string", format: "date-time", description: "The time at which the most recent occurrence of this event was recorded." },
    },
    "x-kubernetes-group-version-kind": gvk("Event"),
  },
  [`${P}EventSource`]: { description: "EventSource contains information for an event.", type: "object", properties: { component: str("Component from which the event is generated.") } },
  [`${P}ObjectReference`]: {
    description: "ObjectReference contains enough information to let you inspect or modify the referred object.",
    type: "object",
    properties: { apiVersion: str("API version of the referent."), kind: str("Kind of the referent."), name: str("Name of the referent."), namespace: str("Namespace of the referent."), uid: str("UID of the referent.") },
  },
  [`${P}Service`]: {
    description: "Service is a named abstraction of software service. Berth serves none (the list is always empty); its Applications are reached through Domains.",
    type: "object",
    properties: { ...typeMeta, metadata, spec: { type: "object", description: "Spec defines the behavior of a service." }, status: { type: "object", description: "Most recently observed status of the service." } },
    "x-kubernetes-group-version-kind": gvk("Service"),
  },
};

/** GET of one and of the list: kubectl explain finds a resource's schema through these paths. */
function readPaths(base: string, kind: string): Record<string, unknown> {
  const gvkExt = { "x-kubernetes-group-version-kind": { group: "", version: "v1", kind } };
  const ok = (name: string): Record<string, unknown> => ({ "200": { description: "OK", content: { "application/json": { schema: { $ref: `#/components/schemas/${P}${name}` } } } } });
  return {
    [base]: { get: { ...gvkExt, operationId: `list${kind}`, "x-kubernetes-action": "list", responses: { "200": { description: "OK" } } } },
    [`${base}/{name}`]: { get: { ...gvkExt, operationId: `read${kind}`, "x-kubernetes-action": "get", responses: ok(kind) } },
  };
}

const paths = {
  ...readPaths("/api/v1/namespaces", "Namespace"),
  ...readPaths("/api/v1/namespaces/{namespace}/events", "Event"),
  ...readPaths("/api/v1/namespaces/{namespace}/services", "Service"),
};

const doc = { openapi: "3.0.0", info: { title: "Berth core", version: "v1" }, paths, components: { schemas } };

export function openApiCore(): Record<string, unknown> {
  return doc;
}

export function openApiCoreHash(): string {
  return createHash("sha256").update(JSON.stringify(doc)).digest("hex").slice(0, 32).toUpperCase();
}

/** ObjectMeta as the OpenAPI documents describe it (the fields Berth serves), shared by both. */
export const OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

export const objectMeta = {
  description: "Standard object's metadata.",
  type: "object",
  properties: {
    name: { type: "string", description: "Name of the object, a DNS-1123 label." },
    namespace: { type: "string", description: "The Project the object belongs to." },
    uid: { type: "string" },
    resourceVersion: { type: "string" },
    generation: { type: "integer", format: "int64" },
    creationTimestamp: { type: "string", format: "date-time" },
    deletionTimestamp: { type: "string", format: "date-time" },
    labels: { type: "object", additionalProperties: { type: "string" } },
    annotations: { type: "object", additionalProperties: { type: "string" } },
    finalizers: { type: "array", items: { type: "string" } },
    managedFields: { type: "array", items: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
  },
};

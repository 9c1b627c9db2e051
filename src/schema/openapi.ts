import { createHash } from "node:crypto";
import { GROUP, KINDS, VERSION, type KindInfo } from "../core/kinds.js";
import { openApiSchema } from "./crds.js";
import { CORE_GV_PATH, openApiCoreHash } from "./openapi-core.js";
import { OBJECT_META, objectMeta } from "./object-meta.js";

/**
 * OpenAPI v3 documents generated from crds/ (never a second copy of a schema). kubectl needs
 * them for server-side field validation (a `fieldValidation` parameter on PATCH) and `explain`.
 */
const GV_PATH = `apis/${GROUP}/${VERSION}`;

function schemaName(k: KindInfo): string {
  return `dev.berth.${VERSION}.${k.kind}`;
}

function gvk(k: KindInfo): Record<string, unknown>[] {
  return [{ group: GROUP, version: VERSION, kind: k.kind }];
}

function kindSchema(k: KindInfo): Record<string, unknown> {
  const s = structuredClone(openApiSchema(k.kind)) as { properties?: Record<string, unknown> };
  return {
    ...s,
    properties: { ...(s.properties ?? {}), metadata: { $ref: `#/components/schemas/${OBJECT_META}`, description: objectMeta.description } },
    "x-kubernetes-group-version-kind": gvk(k),
  };
}

const queryParam = (name: string, description: string): Record<string, unknown> => ({ name, in: "query", description, schema: { type: "string" }, uniqueItems: true });

function itemOperations(k: KindInfo): Record<string, unknown> {
  const ref = { $ref: `#/components/schemas/${schemaName(k)}` };
  const body = (types: string[]): Record<string, unknown> => ({ content: Object.fromEntries(types.map((t) => [t, { schema: ref }])), required: true });
  const ok = { "200": { description: "OK", content: { "application/json": { schema: ref } } } };
  const common = { "x-kubernetes-group-version-kind": { group: GROUP, version: VERSION, kind: k.kind } };
  const writeParams = [queryParam("dryRun", "When present, do not persist."), queryParam("fieldManager", "Name of the actor making the change."), queryParam("fieldValidation", "Ignore, Warn or Strict handling of unknown fields.")];
  return {
    get: { ...common, operationId: `read${k.kind}`, "x-kubernetes-action": "get", responses: ok },
    put: { ...common, operationId: `replace${k.kind}`, "x-kubernetes-action": "put", parameters: writeParams, requestBody: body(["application/json", "application/yaml"]), responses: ok },
    // No strategic-merge-patch here: listing it makes kubectl switch to it (KUBECTL.md).
    patch: { ...common, operationId: `patch${k.kind}`, "x-kubernetes-action": "patch", parameters: [...writeParams, queryParam("force", "Force apply ownership.")], requestBody: body(["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]), responses: ok },
    delete: { ...common, operationId: `delete${k.kind}`, "x-kubernetes-action": "delete", parameters: [queryParam("dryRun", "When present, do not persist.")], responses: ok },
  };
}

function collectionOperations(k: KindInfo): Record<string, unknown> {
  const ref = { $ref: `#/components/schemas/${schemaName(k)}` };
  const common = { "x-kubernetes-group-version-kind": { group: GROUP, version: VERSION, kind: k.kind } };
  return {
    get: { ...common, operationId: `list${k.kind}`, "x-kubernetes-action": "list", responses: { "200": { description: "OK" } } },
    post: {
      ...common,
      operationId: `create${k.kind}`,
      "x-kubernetes-action": "post",
      parameters: [queryParam("dryRun", ""), queryParam("fieldManager", ""), queryParam("fieldValidation", "")],
      requestBody: { content: { "application/json": { schema: ref }, "application/yaml": { schema: ref } }, required: true },
      responses: { "201": { description: "Created", content: { "application/json": { schema: ref } } } },
    },
  };
}

let cachedDoc: Record<string, unknown> | undefined;

export function openApiGroupVersion(): Record<string, unknown> {
  if (cachedDoc) return cachedDoc;
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = { [OBJECT_META]: objectMeta };
  for (const k of KINDS) {
    const base = k.namespaced ? `/apis/${GROUP}/${VERSION}/namespaces/{namespace}/${k.plural}` : `/apis/${GROUP}/${VERSION}/${k.plural}`;
    paths[base] = collectionOperations(k);
    paths[`${base}/{name}`] = itemOperations(k);
    paths[`${base}/{name}/status`] = itemOperations(k);
    schemas[schemaName(k)] = kindSchema(k);
  }
  cachedDoc = { openapi: "3.0.0", info: { title: "Berth", version: VERSION }, paths, components: { schemas } };
  return cachedDoc;
}

export function openApiIndex(): Record<string, unknown> {
  const hash = createHash("sha256").update(JSON.stringify(openApiGroupVersion())).digest("hex").slice(0, 32).toUpperCase();
  return {
    paths: {
      [GV_PATH]: { serverRelativeURL: `/openapi/v3/${GV_PATH}?hash=${hash}` },
      [CORE_GV_PATH]: { serverRelativeURL: `/openapi/v3/${CORE_GV_PATH}?hash=${openApiCoreHash()}` },
    },
  };
}

/**
 * POST /berth/v1/seal (`berth seal`): a plain secret value → the sealed string a read of that
 * object shows for that field, for secrets kept in git (the Sealed Secrets pattern). The value
 * is bound to kind, Project, object and field; it is stored nowhere, never logged, and the
 * answer carries only the sealed string. Behind the API's bearer token like every endpoint.
 */
import { badRequest } from "../core/errors.js";
import { findKind } from "../core/kinds.js";
import { isSecretPath, SECRET_FIELDS } from "../core/secret-fields.js";
import type { ResourceStore } from "../store/resources.js";
import { requireObject } from "./body-limits.js";
import type { Reply } from "./request.js";
import type { RequestContext } from "../core/types.js";

interface SealRequest {
  kind?: unknown;
  namespace?: unknown;
  name?: unknown;
  field?: unknown;
  value?: unknown;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

function secretFieldsOf(kind: string): string {
  return (SECRET_FIELDS[kind] ?? []).map((f) => `spec.${f.path.join(".")}${f.map ? ".<KEY>" : ""}${f.entry ? `.${f.entry}` : ""}`).join(", ") || "none";
}

function parse(body: Buffer | undefined): SealRequest {
  try {
    return requireObject<SealRequest>(JSON.parse(body?.toString("utf8") ?? ""));
  } catch {
    throw badRequest('body must be JSON: {"kind", "namespace", "name", "field", "value"}');
  }
}

/** The binding the sealed string gets, from the request, or a 400 naming the field that is wrong. */
function bindingOf(r: SealRequest): { kind: string; namespace: string | undefined; name: string; field: string } {
  const kind = str(r.kind) ? findKind(str(r.kind)!) : undefined;
  if (!kind) throw badRequest(`kind: unknown kind ${JSON.stringify(r.kind ?? "")}`);
  const [name, namespace, field] = [str(r.name), str(r.namespace), str(r.field)];
  if (!name) throw badRequest("name: required");
  if (kind.namespaced && !namespace) throw badRequest(`namespace: required for a ${kind.kind}`);
  if (!field || !isSecretPath(kind.kind, field.split("."))) throw badRequest(`field: ${JSON.stringify(field ?? "")} is not a secret field of ${kind.kind} (those are: ${secretFieldsOf(kind.kind)})`);
  return { kind: kind.kind, namespace: kind.namespaced ? namespace : undefined, name, field };
}

export function sealReply(store: ResourceStore, body: Buffer | undefined, ctx: RequestContext): Reply {
  const request = parse(body);
  const binding = bindingOf(request);
  // Sealing for an object is writing a secret into it: whoever may update it may seal for it.
  ctx.authorize?.({ verb: "update", resource: findKind(binding.kind)!.plural, namespace: binding.namespace ?? binding.name, name: binding.name });
  if (typeof request.value !== "string") throw badRequest("value: a string is required");
  return { status: 200, body: { kind: "SealedValue", apiVersion: "berth.dev/v1", field: binding.field, sealed: store.seal(binding, request.value) } };
}

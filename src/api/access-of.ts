/**
 * What each request does, for the one authorization decision (core/access.ts) every request
 * passes before its handler runs (issue 17, ADR 0015). A path this does not know is "unknown",
 * which only the admins may reach: a new endpoint is closed until it is classified here.
 */
import { findKind } from "../core/kinds.js";
import { GROUP, VERSION } from "../core/kinds.js";
import { VERBS, type Access, type Verb } from "../core/access.js";
import type { ResourceRequest } from "./request.js";

type ResourceTarget = Pick<ResourceRequest, "kind" | "namespace" | "name" | "subresource">;

/** `/apis/berth.dev/v1alpha1/[namespaces/NS/]PLURAL[/NAME[/status|/scale]]`, or undefined for anything else. */
export function parseResourcePath(p: string): ResourceTarget | undefined {
  const prefix = `/apis/${GROUP}/${VERSION}/`;
  if (!p.startsWith(prefix)) return undefined;
  const parts = p.slice(prefix.length).split("/").map(decodeURIComponent);
  const namespace = parts[0] === "namespaces" && parts.length >= 3 ? parts[1] : undefined;
  const [plural, name, sub, ...rest] = namespace !== undefined ? parts.slice(2) : parts;
  const kind = findKind(plural);
  if (!kind || kind.plural !== plural || rest.length || (sub && !subresourceOf(kind.kind, sub))) return undefined;
  return scopeFits({ kind, namespace, name, subresource: sub ? subresourceOf(kind.kind, sub) : undefined });
}

/** `status` on every kind, `scale` on Applications (its replicas). */
function subresourceOf(kind: string, sub: string): ResourceRequest["subresource"] {
  if (sub === "status") return "status";
  if (sub === "scale" && kind === "Application") return "scale";
  return undefined;
}

/** A namespace only for namespaced kinds, and a namespaced object only under its namespace. */
function scopeFits(t: ResourceTarget): ResourceTarget | undefined {
  if (t.namespace && !t.kind.namespaced) return undefined;
  if (t.kind.namespaced && t.name && !t.namespace) return undefined;
  return t;
}

function verbOf(method: string, named: boolean, query: URLSearchParams): Verb {
  const watch = query.get("watch");
  if (method === "GET") return named ? "get" : watch === "true" || watch === "1" ? "watch" : "list";
  if (method === "POST") return "create";
  if (method === "PUT") return "update";
  if (method === "PATCH") return "patch";
  if (method === "DELETE") return named ? "delete" : "deletecollection";
  return "get";
}

const BERTH_ROUTES: { pattern: RegExp; access: (method: string, m: string[], q: URLSearchParams) => Access }[] = [
  { pattern: /^\/berth\/v1\/namespaces\/([^/]+)\/applications\/([^/]+)\/(deployments|rollback|logs)$/, access: (method, [ns, name, what]) => ({ verb: method === "GET" ? "get" : "create", resource: what, namespace: ns, name }) },
  { pattern: /^\/berth\/v1\/namespaces\/([^/]+)\/applications\/([^/]+)\/jobruns(?:\/([^/]+))?$/, access: (method, [ns, name, run]) => ({ verb: method === "GET" ? (run ? "get" : "list") : "create", resource: "jobruns", namespace: ns, name }) },
  { pattern: /^\/berth\/v1\/namespaces\/([^/]+)\/applications\/([^/]+)\/(volumebackups|volumerestores)$/, access: (method, [ns, name, what]) => ({ verb: method === "GET" ? "list" : "create", resource: what, namespace: ns, name }) },
  { pattern: /^\/berth\/v1\/namespaces\/([^/]+)\/databases\/([^/]+)\/(credentials|backups|restores)$/, access: (method, [ns, name, what]) => ({ verb: method === "GET" ? (what === "credentials" ? "get" : "list") : "create", resource: what, namespace: ns, name }) },
  { pattern: /^\/berth\/v1\/syncs\/([^/]+)\/diff$/, access: (_m, [name]) => ({ verb: "get", resource: "syncs", subresource: "diff", name }) },
  // Decided per item inside the batch (the store asks the same decision for every write).
  { pattern: /^\/berth\/v1\/apply$/, access: () => ({ verb: "create", resource: "batch" }) },
  // Decided in the handler, which knows the object the value is sealed for.
  { pattern: /^\/berth\/v1\/seal$/, access: () => ({ verb: "create", resource: "seal" }) },
  { pattern: /^\/berth\/v1\/(users|teams|tokens)(?:\/([^/]+))?(?:\/(members)(?:\/([^/]+))?)?$/, access: (method, [what, name, members], q) => ({ verb: verbOf(method, !!name && !members, q), resource: members ? "teammembers" : what, name }) },
  // Admins only (core/access.ts ADMIN_ONLY): rotating the installation key (ADR 0016).
  { pattern: /^\/berth\/v1\/rotate-key$/, access: (method) => ({ verb: method === "GET" ? "get" : "create", resource: "keyrotations" }) },
  // Admins only: core/access.ts gives a non-admin no resource named "audit".
  { pattern: /^\/berth\/v1\/audit$/, access: (method, _m, q) => ({ verb: verbOf(method, false, q), resource: "audit" }) },
  { pattern: /^\/apis\/apiextensions\.k8s\.io\/v1\/customresourcedefinitions(?:\/([^/]+))?$/, access: (method) => (method === "GET" ? { verb: "get", resource: "discovery" } : { verb: "create", resource: "customresourcedefinitions" }) },
  { pattern: /^\/apis\/authentication\.k8s\.io\/v1\/selfsubjectreviews$/, access: () => ({ verb: "create", resource: "selfsubjectreviews" }) },
  { pattern: /^\/apis\/authorization\.k8s\.io\/v1\/selfsubjectaccessreviews$/, access: () => ({ verb: "create", resource: "selfsubjectaccessreviews" }) },
  { pattern: /^\/apis\/authorization\.k8s\.io\/v1\/selfsubjectrulesreviews$/, access: () => ({ verb: "create", resource: "selfsubjectrulesreviews" }) },
  { pattern: /^\/api\/v1\/namespaces(?:\/([^/]+))?$/, access: (method, [name], q) => ({ verb: verbOf(method, !!name, q), resource: "namespaces", ...(name ? { name, namespace: name } : {}) }) },
  { pattern: /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?(events|services)(?:\/([^/]+))?$/, access: (method, [ns, what, name], q) => ({ verb: verbOf(method, !!name, q), resource: what, namespace: ns, name }) },
];

/** Discovery and OpenAPI: what every authenticated client reads before anything else. */
function isDiscovery(path: string): boolean {
  return path === "/api" || path === "/api/v1" || path === "/apis" || path.startsWith("/openapi/") || path === `/apis/${GROUP}` || path === `/apis/${GROUP}/${VERSION}` || /^\/apis\/[^/]+(\/[^/]+)?$/.test(path);
}

/** The access a request asks for; "unknown" for a path no route classifies. */
export function accessOf(method: string, path: string, query: URLSearchParams): Access {
  const target = parseResourcePath(path);
  if (target) {
    const namespace = target.kind.namespaced ? target.namespace : target.name;
    return { verb: verbOf(method, !!target.name, query), resource: target.kind.plural, ...(target.subresource ? { subresource: target.subresource } : {}), ...(namespace ? { namespace } : {}), ...(target.name ? { name: target.name } : {}) };
  }
  for (const r of BERTH_ROUTES) {
    const m = r.pattern.exec(path);
    if (m) return r.access(method, m.slice(1).map((x) => (x === undefined ? (undefined as unknown as string) : decodeURIComponent(x))), query);
  }
  if (method === "GET" && isDiscovery(path)) return { verb: "get", resource: "discovery" };
  return { verb: verbOf(method, true, query), resource: "unknown" };
}

/** What `kubectl auth can-i` asks about: a SelfSubjectAccessReview's spec.resourceAttributes. */
export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export const REVIEW_GROUPS = { authorization: "authorization.k8s.io", authentication: "authentication.k8s.io" } as const;

/** Berth's own endpoints (under /berth/v1), named as can-i names them: `can-i get credentials.berth.dev -n P`. */
const BERTH_ENDPOINTS = new Set(["deployments", "logs", "rollback", "credentials", "backups", "restores", "volumebackups", "volumerestores", "users", "teams", "teammembers", "tokens"]);

type Attrs = ResourceAttributes & { name?: string; namespace?: string; subresource?: string };
type At = (resource: string, namespace: string | undefined, subresource?: string) => Access;

const UNKNOWN = "unknown";

/** Per API group: the Access of attributes in it (verb already one Berth has). */
const BY_GROUP = new Map<string, (r: Attrs, verb: Verb, at: At) => Access>(Object.entries({
  [GROUP]: (r, verb, at) => {
    const kind = findKind(r.resource);
    if (kind && kind.plural === r.resource) return r.subresource && !subresourceOf(kind.kind, r.subresource) ? { verb, resource: UNKNOWN } : at(kind.plural, kind.namespaced ? r.namespace : r.name, r.subresource);
    return BERTH_ENDPOINTS.has(r.resource) && !r.subresource ? at(r.resource, r.namespace) : { verb, resource: UNKNOWN };
  },
  "": (r, verb, at) => {
    if (r.subresource) return { verb, resource: UNKNOWN };
    if (r.resource === "namespaces") return at("namespaces", r.name);
    return r.resource === "events" || r.resource === "services" ? at(r.resource, r.namespace) : { verb, resource: UNKNOWN };
  },
  [REVIEW_GROUPS.authorization]: (r, verb) => review(r, verb, ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
  [REVIEW_GROUPS.authentication]: (r, verb) => review(r, verb, ["selfsubjectreviews"]),
  "apiextensions.k8s.io": (r, verb) => (r.resource !== "customresourcedefinitions" || r.subresource ? { verb, resource: UNKNOWN } : READ.has(verb) ? { verb: "get", resource: "discovery" } : { verb, resource: "customresourcedefinitions" }),
}));

/** The reviews are only ever created. */
function review(r: Attrs, verb: Verb, resources: string[]): Access {
  return verb === "create" && !r.subresource && resources.includes(r.resource) ? { verb, resource: r.resource } : { verb, resource: UNKNOWN };
}

/**
 * The Access a request with these attributes would be classified as by accessOf — the same
 * Project for the same resource (a Project's own Project is its name, whatever namespace kubectl
 * sends along) — or undefined for a verb Berth has no requests for. A group or resource Berth
 * does not serve is "unknown", as an unclassified path is.
 */
export function accessOfAttributes(attrs: ResourceAttributes): Access | undefined {
  const verb = attrs.verb as Verb;
  if (!VERBS.includes(verb)) return undefined;
  // A resource kubectl's discovery does not know (Berth's endpoints) comes as `tokens.berth.dev` in group "".
  const dot = attrs.group === "" ? attrs.resource.indexOf(".") : -1;
  const grouped = dot > 0 ? { ...attrs, resource: attrs.resource.slice(0, dot), group: attrs.resource.slice(dot + 1) } : attrs;
  const r: Attrs = { ...grouped, name: attrs.name || undefined, namespace: attrs.namespace || undefined, subresource: attrs.subresource || undefined };
  const at: At = (resource, namespace, subresource) => ({ verb, resource, ...(subresource ? { subresource } : {}), ...(namespace ? { namespace } : {}), ...(r.name ? { name: r.name } : {}) });
  return (BY_GROUP.get(r.group) ?? ((): Access => ({ verb, resource: UNKNOWN })))(r, verb, at);
}

const READ = new Set<Verb>(["get", "list", "watch"]);

/**
 * `kubectl auth whoami`, `kubectl auth can-i` and `kubectl auth can-i --list` (issue 17): the
 * SelfSubjectReview, SelfSubjectAccessReview and SelfSubjectRulesReview of authentication.k8s.io
 * and authorization.k8s.io. Every answer is the same decide() the choke point in server.ts runs,
 * on the caller's fresh Project scope, for the Access accessOf would classify the request as —
 * so "yes" means the request goes through and "no" means 403. kubectl posts these as protobuf
 * (./protobuf.ts); curl and client libraries as JSON. The answer is JSON, which kubectl accepts.
 */
import { ApiError, badRequest } from "../core/errors.js";
import { GROUP, KINDS } from "../core/kinds.js";
import { decide, VERBS, type Identity, type ProjectScope, type Verb } from "../core/access.js";
import { accessOf, accessOfAttributes, REVIEW_GROUPS, type ResourceAttributes } from "./access-of.js";
import { message, PROTOBUF, text, unwrap, type Fields } from "./protobuf.js";
import { requireObject } from "./body-limits.js";
import type { Reply } from "./request.js";

export type ReviewKind = "selfsubjectreviews" | "selfsubjectaccessreviews" | "selfsubjectrulesreviews";

export interface ReviewDeps {
  /** The caller's Project scope, read now (never a cached one: an answer must hold for the next request). */
  scope(userId: string): Promise<ProjectScope>;
  /** The caller's teams and its role in each. */
  memberships(userId: string): Promise<{ team: string; role: string }[]>;
}

/** Paths anyone may GET without a decision (probes, version, discovery, OpenAPI), as Kubernetes lists them. */
const OPEN_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/metrics", "/openapi", "/openapi/*", "/readyz", "/version"];

/** The groups of a user: its role, its teams, and every authenticated caller's. */
export function groupsOf(identity: Identity, memberships: { team: string }[]): string[] {
  return [`berth:role:${identity.role}`, ...memberships.map((m) => `berth:team:${m.team}`), "system:authenticated"];
}

interface Served {
  group: string;
  resource: string;
  namespaced: boolean;
  verbs: readonly Verb[];
}

const ITEM_VERBS: readonly Verb[] = ["get", "update", "patch", "delete"];

/** What Berth serves, with the verbs each answers: what `can-i --list` and `can-i VERB '*'` go through. */
const SERVED: readonly Served[] = [
  ...KINDS.flatMap((k): Served[] => [
    { group: GROUP, resource: k.plural, namespaced: k.namespaced, verbs: VERBS },
    { group: GROUP, resource: `${k.plural}/status`, namespaced: k.namespaced, verbs: ["get", "update", "patch"] },
    ...(k.kind === "Application" ? [{ group: GROUP, resource: `${k.plural}/scale`, namespaced: true, verbs: ["get", "update", "patch"] as Verb[] }] : []),
  ]),
  { group: GROUP, resource: "deployments", namespaced: true, verbs: ["get"] },
  { group: GROUP, resource: "logs", namespaced: true, verbs: ["get"] },
  { group: GROUP, resource: "rollback", namespaced: true, verbs: ["create"] },
  { group: GROUP, resource: "credentials", namespaced: true, verbs: ["get"] },
  { group: GROUP, resource: "backups", namespaced: true, verbs: ["list", "create"] },
  { group: GROUP, resource: "restores", namespaced: true, verbs: ["list", "create"] },
  { group: GROUP, resource: "volumebackups", namespaced: true, verbs: ["list", "create"] },
  { group: GROUP, resource: "volumerestores", namespaced: true, verbs: ["list", "create"] },
  { group: GROUP, resource: "users", namespaced: false, verbs: ["list", "create"] },
  { group: GROUP, resource: "teams", namespaced: false, verbs: ["list", "create"] },
  { group: GROUP, resource: "teammembers", namespaced: false, verbs: ["create", "delete"] },
  { group: GROUP, resource: "tokens", namespaced: false, verbs: ["list", "create", "delete"] },
  { group: "", resource: "namespaces", namespaced: false, verbs: ["get", "list", "watch"] },
  { group: "", resource: "events", namespaced: true, verbs: ["get", "list", "watch"] },
  { group: "", resource: "services", namespaced: true, verbs: ["get", "list"] },
  { group: REVIEW_GROUPS.authorization, resource: "selfsubjectaccessreviews", namespaced: false, verbs: ["create"] },
  { group: REVIEW_GROUPS.authorization, resource: "selfsubjectrulesreviews", namespaced: false, verbs: ["create"] },
  { group: REVIEW_GROUPS.authentication, resource: "selfsubjectreviews", namespaced: false, verbs: ["create"] },
  { group: "apiextensions.k8s.io", resource: "customresourcedefinitions", namespaced: false, verbs: ["get", "list"] },
];

/** Resources whose Project is their own name: their item verbs are decided for one name. */
const OWN_PROJECT = new Set(["projects", "namespaces", "projects/status"]);

function split(resource: string): { resource: string; subresource?: string } {
  const [r, sub] = resource.split("/");
  return sub ? { resource: r, subresource: sub } : { resource: r };
}

export interface Answer {
  allowed: boolean;
  reason: string;
}

function impersonation(identity: Identity, attrs: ResourceAttributes): Answer {
  const allowed = identity.role === "super_admin" && attrs.group === "" && ["users", "groups", "uids"].includes(attrs.resource);
  return { allowed, reason: allowed ? "super_admins may impersonate any user" : `user "${identity.user}" (${identity.role}) cannot impersonate: only super_admins may` };
}

interface Target {
  group: string;
  resource: string;
  subresource?: string;
  verbs: readonly string[];
}

/** What `*` expands to: every served resource (of the group, or of all with group `*`), every verb each answers. */
function targetsOf(attrs: ResourceAttributes): Target[] {
  if (attrs.resource !== "*" && attrs.group !== "*") {
    const key = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
    const verbs = attrs.verb === "*" ? (SERVED.find((s) => s.group === attrs.group && s.resource === key)?.verbs ?? VERBS) : [attrs.verb];
    return [{ group: attrs.group, resource: attrs.resource, subresource: attrs.subresource, verbs }];
  }
  const served = SERVED.filter((s) => (attrs.group === "*" || s.group === attrs.group) && (attrs.resource === "*" || s.resource === attrs.resource));
  return served.map((s) => ({ group: s.group, ...split(s.resource), verbs: attrs.verb === "*" ? s.verbs : [attrs.verb] }));
}

/** The answer for one set of attributes; `*` as verb or resource means every one Berth serves. */
export function review(identity: Identity, attrs: ResourceAttributes, scope: ProjectScope): Answer {
  if (attrs.verb === "impersonate") return impersonation(identity, attrs);
  const targets = targetsOf(attrs);
  if (!targets.length) return { allowed: false, reason: `Berth serves no resource "${attrs.resource}" in group "${attrs.group}"` };
  let filtered = false;
  for (const { verbs, ...t } of targets) {
    for (const verb of verbs) {
      const access = accessOfAttributes({ ...attrs, ...t, verb });
      if (!access) return { allowed: false, reason: `Berth has no requests with the verb "${verb}"` };
      const d = decide(identity, access, scope);
      if (!d.allowed) return { allowed: false, reason: d.reason! };
      if (d.filter) filtered = true;
    }
  }
  return { allowed: true, reason: filtered ? `allowed for the Projects user "${identity.user}" may see: others' objects are left out` : `allowed for user "${identity.user}" (${identity.role})` };
}

const PATH_METHODS = new Map(Object.entries({ get: "GET", head: "GET", post: "POST", create: "POST", put: "PUT", update: "PUT", patch: "PATCH", delete: "DELETE" }));

/** A non-resource URL (`kubectl auth can-i get /healthz`): open paths, else the request's own classification. */
export function reviewPath(identity: Identity, path: string, verb: string, scope: ProjectScope): Answer {
  const method = PATH_METHODS.get(verb);
  if (!method) return { allowed: false, reason: `Berth answers no "${verb}" on a path` };
  const open = OPEN_URLS.some((u) => (u.endsWith("*") ? path.startsWith(u.slice(0, -1)) : path === u));
  if (open && method === "GET") return { allowed: true, reason: "open to every authenticated caller" };
  const [p, q] = path.split("?");
  const d = decide(identity, accessOf(method, p.replace(/\/+$/, "") || "/", new URLSearchParams(q ?? "")), scope);
  return d.allowed ? { allowed: true, reason: `allowed for user "${identity.user}" (${identity.role})` } : { allowed: false, reason: d.reason! };
}

interface ResourceRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
}

/** What the caller may do in `namespace` (its Project), resource by resource: what the API would allow. */
export function rules(identity: Identity, namespace: string, scope: ProjectScope): ResourceRule[] {
  const out: ResourceRule[] = [];
  const add = (group: string, resource: string, verbs: Verb[], names?: string[]): void => {
    if (!verbs.length) return;
    const same = out.find((r) => r.apiGroups[0] === group && r.verbs.join() === verbs.join() && (r.resourceNames ?? []).join() === (names ?? []).join());
    if (same) same.resources.push(resource);
    else out.push({ verbs, apiGroups: [group], resources: [resource], ...(names ? { resourceNames: names } : {}) });
  };
  const allows = (s: Served, verb: Verb, name?: string): boolean => review(identity, { verb, group: s.group, ...split(s.resource), namespace, ...(name ? { name } : {}) }, scope).allowed;
  for (const s of SERVED) {
    if (OWN_PROJECT.has(s.resource)) {
      // A Project's item verbs name it; its collection verbs name none.
      add(s.group, s.resource, s.verbs.filter((v) => !ITEM_VERBS.includes(v) && allows(s, v)));
      if (namespace) add(s.group, s.resource, s.verbs.filter((v) => ITEM_VERBS.includes(v) && allows(s, v, namespace)), [namespace]);
    } else add(s.group, s.resource, s.verbs.filter((v) => allows(s, v)));
  }
  if (identity.role === "super_admin") out.push({ verbs: ["impersonate"], apiGroups: [""], resources: ["users", "groups", "uids"] });
  return out;
}

/** The review's body as JSON, whether it came as JSON or as kubectl's protobuf. */
function bodyOf(kind: ReviewKind, raw: Buffer, contentType: string | undefined): Record<string, unknown> {
  if ((contentType ?? "").startsWith(PROTOBUF)) return { spec: protobufSpec(kind, unwrap(raw).object) };
  try {
    return requireObject<Record<string, unknown>>(JSON.parse(raw.toString("utf8") || "{}"));
  } catch {
    throw badRequest("body must be a JSON object");
  }
}

/** spec (field 2) of the three reviews, as their JSON names it. */
function protobufSpec(kind: ReviewKind, object: Fields): Record<string, unknown> {
  const spec = message(object, 2);
  if (kind === "selfsubjectrulesreviews") return { namespace: text(spec, 1) };
  if (kind === "selfsubjectreviews") return {};
  const ra = spec && message(spec, 1);
  const nra = spec && message(spec, 2);
  if (ra) return { resourceAttributes: { namespace: text(ra, 1), verb: text(ra, 2), group: text(ra, 3), version: text(ra, 4), resource: text(ra, 5), subresource: text(ra, 6), name: text(ra, 7) } };
  if (nra) return { nonResourceAttributes: { path: text(nra, 1), verb: text(nra, 2) } };
  return {};
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");

const obj = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** spec.resourceAttributes, else spec.nonResourceAttributes, of a SelfSubjectAccessReview; 422 without either. */
function accessAnswer(identity: Identity, spec: Record<string, unknown>, scope: ProjectScope): Answer {
  const ra = obj(spec.resourceAttributes);
  if (ra) return review(identity, { verb: str(ra.verb), group: str(ra.group), resource: str(ra.resource), subresource: str(ra.subresource), namespace: str(ra.namespace), name: str(ra.name) }, scope);
  const nra = obj(spec.nonResourceAttributes);
  if (nra) return reviewPath(identity, str(nra.path), str(nra.verb), scope);
  throw new ApiError(422, "Invalid", "spec.resourceAttributes or spec.nonResourceAttributes is required", { causes: [{ field: "spec.resourceAttributes", message: "Required value", reason: "FieldValueRequired" }] });
}

export interface ReviewCall {
  kind: ReviewKind;
  method: string;
  identity: Identity;
  body: () => Promise<Buffer>;
  contentType: string | undefined;
}

const NO_SCOPE: ProjectScope = { read: new Set(), write: new Set(), owned: new Set() };

export class AuthReviews {
  constructor(private readonly deps: ReviewDeps) {}

  async handle(c: ReviewCall): Promise<Reply> {
    if (c.method !== "POST") throw new ApiError(405, "MethodNotAllowed", `POST a ${KIND[c.kind]}`);
    const spec = obj(bodyOf(c.kind, await c.body(), c.contentType).spec) ?? {};
    const head = { kind: KIND[c.kind], apiVersion: `${c.kind === "selfsubjectreviews" ? REVIEW_GROUPS.authentication : REVIEW_GROUPS.authorization}/v1`, metadata: { creationTimestamp: null } };
    const id = c.identity;
    if (c.kind === "selfsubjectreviews") return { status: 201, body: { ...head, status: { userInfo: await this.userInfo(id) } } };
    const scope = id.userId ? await this.deps.scope(id.userId) : NO_SCOPE;
    if (c.kind === "selfsubjectrulesreviews") {
      const namespace = str(spec.namespace);
      return { status: 201, body: { ...head, spec: { namespace }, status: { resourceRules: rules(id, namespace, scope), nonResourceRules: [{ verbs: ["get"], nonResourceURLs: OPEN_URLS }], incomplete: false } } };
    }
    const answer = accessAnswer(id, spec, scope);
    return { status: 201, body: { ...head, spec, status: { allowed: answer.allowed, ...(answer.allowed ? {} : { denied: true }), reason: answer.reason } } };
  }

  private async userInfo(id: Identity): Promise<Record<string, unknown>> {
    const memberships = id.userId ? await this.deps.memberships(id.userId) : [];
    const extra = memberships.length ? { extra: { "berth.dev/team-roles": memberships.map((m) => `${m.team}=${m.role}`) } } : {};
    return { username: id.user, ...(id.userId ? { uid: id.userId } : {}), groups: groupsOf(id, memberships), ...extra };
  }
}

const KIND: Record<ReviewKind, string> = { selfsubjectreviews: "SelfSubjectReview", selfsubjectaccessreviews: "SelfSubjectAccessReview", selfsubjectrulesreviews: "SelfSubjectRulesReview" };

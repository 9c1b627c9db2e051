/**
 * Authorization (issue 17, ADR 0015): who may do what, as one pure decision. Every request the
 * API serves is classified into an Access (verb, resource, Project) and decided here before any
 * handler runs; a request the classifier does not know is denied to everyone but the admins.
 */
export type Role = "super_admin" | "admin" | "developer" | "viewer";
export const ROLES: readonly Role[] = ["super_admin", "admin", "developer", "viewer"];

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection";
export const READ_VERBS: readonly Verb[] = ["get", "list", "watch"];
export const VERBS: readonly Verb[] = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];

/** Who sent a request. `system` is the control loop, never an API caller. */
export interface Identity {
  user: string;
  userId?: string;
  role: Role;
  /** A super_admin acting as this user (`kubectl --as`): the request is this user's, the audit names both. */
  impersonator?: string;
}

/** What a request does: a Kubernetes-style verb on a resource, in a Project or across Projects. */
export interface Access {
  verb: Verb;
  /** Plural resource name, e.g. applications, projects, events; or a Berth endpoint group (users, tokens, credentials …). */
  resource: string;
  subresource?: string;
  /** The Project (namespace) of a namespaced resource; for resource "projects" the Project itself (its name). */
  namespace?: string;
  name?: string;
}

/** The Projects a user may see, write, and owns (only an owner deletes a Project). */
export interface ProjectScope {
  read: ReadonlySet<string>;
  write: ReadonlySet<string>;
  owned: ReadonlySet<string>;
}

export interface Decision {
  allowed: boolean;
  /** Why not, for the 403: names user, verb, resource and Project. */
  reason?: string;
  /** A list or watch across Projects: only these Projects' objects may be returned. */
  filter?: ReadonlySet<string>;
}

/** Resources in a Project that developers write and viewers read (by Project scope). */
const PROJECT_CONTENT = new Set(["applications", "databases", "domains", "notifications", "backupdestinations", "events", "deployments", "logs", "backups", "restores", "rollback", "jobruns", "volumebackups", "volumerestores"]);
/** Reading these reveals secrets: only who may write the Project may read them. */
const SECRET_READS = new Set(["credentials"]);
/**
 * Every authenticated caller: discovery, its own identity and access reviews, its own tokens; a
 * batch apply and a seal, which are decided again for every object they name.
 */
const ANYONE = new Set(["discovery", "selfsubjectreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews", "tokens", "batch", "seal"]);
/** Admins only: cluster-wide configuration, people, and the installation key (`berth rotate-key`). */
const ADMIN_ONLY = new Set(["syncs", "users", "teams", "teammembers", "customresourcedefinitions", "keyrotations"]);

export const isAdmin = (id: Identity): boolean => id.role === "super_admin" || id.role === "admin";
const isRead = (verb: Verb): boolean => READ_VERBS.includes(verb);

function where(a: Access): string {
  return a.namespace ? ` in Project "${a.namespace}"` : "";
}

function deny(id: Identity, a: Access, why: string): Decision {
  const what = `${a.resource}${a.subresource ? `/${a.subresource}` : ""}${a.name ? ` "${a.name}"` : ""}`;
  return { allowed: false, reason: `user "${id.user}" (${id.role}) cannot ${a.verb} ${what}${where(a)}: ${why}` };
}

function readProjects(id: Identity, a: Access, scope: ProjectScope): Decision {
  if (!a.name) return { allowed: true, filter: scope.read };
  return scope.read.has(a.name) ? { allowed: true } : deny(id, a, "not its owner nor a member of its team");
}

function projects(id: Identity, a: Access, scope: ProjectScope): Decision {
  if (isRead(a.verb)) return readProjects(id, a, scope);
  if (a.verb === "create") return id.role === "developer" ? { allowed: true } : deny(id, a, "viewers create nothing");
  if (a.verb === "delete") return a.name && scope.owned.has(a.name) ? { allowed: true } : deny(id, a, "only the Project's owner deletes it");
  if (a.verb === "deletecollection") return deny(id, a, "only admins delete Projects in bulk");
  return a.name && scope.write.has(a.name) && id.role === "developer" ? { allowed: true } : deny(id, a, "needs the owner or a team role of member or above");
}

function content(id: Identity, a: Access, scope: ProjectScope): Decision {
  const ns = a.namespace;
  if (!ns) return isRead(a.verb) ? { allowed: true, filter: scope.read } : deny(id, a, "writes name their Project");
  const needsWrite = !isRead(a.verb) || SECRET_READS.has(a.subresource ?? a.resource);
  if (!needsWrite) return scope.read.has(ns) ? { allowed: true } : deny(id, a, "not its owner nor a member of its team");
  if (id.role !== "developer") return deny(id, a, "viewers only read");
  return scope.write.has(ns) ? { allowed: true } : deny(id, a, scope.read.has(ns) ? "its team role is viewer" : "not its owner nor a member of its team");
}

/** The decision for one access. Admins may do everything (user administration has its own rules). */
export function decide(id: Identity, a: Access, scope: ProjectScope): Decision {
  if (isAdmin(id)) return { allowed: true };
  if (ANYONE.has(a.resource)) return { allowed: true };
  if (ADMIN_ONLY.has(a.resource)) return deny(id, a, "only admins");
  if (a.resource === "projects" || a.resource === "namespaces") return projects(id, a, scope);
  if (PROJECT_CONTENT.has(a.resource) || SECRET_READS.has(a.resource)) return content(id, a, scope);
  return deny(id, a, "not a resource its role reaches");
}

/** An API token as the API lists it (never the token itself, only its prefix). */
export interface TokenInfo {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

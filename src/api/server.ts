import { createHash, timingSafeEqual } from "node:crypto";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Logger } from "winston";
import type { ChangeFeed } from "../store/change-feed.js";
import type { Stores } from "../store/index.js";
import { apiGroup, apiGroupList, apiResourceList, coreResourceList, coreVersions, versionInfo } from "./discovery.js";
import { ApiError, badRequest, storeUnavailable, forbidden } from "../core/errors.js";
import { isStoreUnavailable } from "../store/errors.js";
import { StoreOutageLog } from "./store-outage.js";
import { ResourceHandlers, type Reply, type ResourceRequest } from "./handlers.js";
import { GROUP, VERSION } from "../core/kinds.js";
import type { RequestContext } from "../core/types.js";
import { openApiIndex, openApiGroupVersion } from "../schema/openapi.js";
import { openApiCore } from "../schema/openapi-core.js";
import { RolloutEndpoints } from "./rollouts.js";
import { DatabaseEndpoints } from "./databases.js";
import { VolumeBackupEndpoints } from "./volume-backups.js";
import { JobEndpoints } from "./jobs.js";
import type { RuntimeDriver } from "../runtime/driver.js";
import { CoreApi, isWatch } from "./core-api.js";
import { checkRequestUrl } from "./body-limits.js";
import { AuthFailureLimit } from "./auth-limit.js";
import { WatchLimit } from "./watch-limit.js";
import { drained, yieldToOthers } from "./backpressure.js";
import { APIEXTENSIONS, apiextensionsGroup, apiextensionsResourceList, CRD_PATH, crdRequest } from "./apiextensions.js";
import { SYNC_HOOK_PATH, SyncWebhooks, WEBHOOK_MAX_BODY } from "./sync-webhook.js";
import { GIT_HOOK_PATH, GitWebhooks } from "./git-webhook.js";
import { sealReply } from "./seal.js";
import { accessOf, parseResourcePath } from "./access-of.js";
import { decide, isAdmin, type Access, type Identity } from "../core/access.js";
import { ScopeCache } from "./scope-cache.js";
import { PeopleEndpoints } from "./people.js";
import { SYNC_DIFF_PATH, SyncDiffs } from "./sync-diff.js";
import { AuthReviews, groupsOf, type ReviewKind } from "./auth-review.js";
import type { SecretBox } from "../store/secrets.js";
import { AuditEndpoint } from "./audit.js";
import { ROTATE_KEY_PATH, RotateKeyEndpoint } from "./rotate-key.js";
import type { KeyRotator } from "../store/key-rotation.js";
import { UI_PREFIX, UiEndpoints } from "./ui.js";

const MAX_BODY = 3 * 1024 * 1024;

export interface ApiServerOptions {
  host: string;
  port: number;
  tls: { certPem: string; keyPem: string };
  token: string;
  stores: Pick<Stores, "resources" | "events" | "revisions" | "credentials" | "backups" | "jobRuns" | "volumeBackups" | "audit" | "people" | "adminUserId">;
  feed: ChangeFeed;
  logger: Logger;
  metrics?: () => Promise<{ contentType: string; body: string }>;
  ready?: () => boolean;
  /** For container logs; without it the logs endpoint answers 503. */
  driver?: RuntimeDriver;
  /** How long a connection may stay open before its first request (default 10 s). */
  firstRequestTimeoutMs?: number;
  /** Open watches one client address may hold (default 256). */
  maxWatchesPerAddress?: number;
  /** TLS connections at once (default 1024); past it 429 with Retry-After. */
  maxConnections?: number;
  /** The data directory (a Sync diff's git cache lives under it) and the secret box (its token). */
  dataDir: string;
  box: SecretBox;
  /** `berth rotate-key` (ADR 0016); without it the endpoint answers 503. */
  keyRotation?: KeyRotator;
}

/** A TLS handshake that has not finished by then is dropped (Node's default is 120 s). */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Connections at once by default; past it a connection is answered 429 (see refuseOverLimit). */
const MAX_CONNECTIONS = 1024;

/**
 * TCP connections at once, handshakes included, as a multiple of the limit: beyond it Node
 * closes the socket at accept, since nothing can be answered before a handshake.
 */
const TCP_HEADROOM = 2;

/** Username and password for a token: no bearer token yet, so exempt; limited per user and address. */
const LOGIN_PATH = "/berth/v1/login";

/** Paths anyone may read: health probes and the version the kubectl dispatcher asks for. */
const PUBLIC = new Set(["/healthz", "/readyz", "/livez", "/version", "/metrics"]);

/**
 * Paths exempt from the bearer token because their callers cannot send one: git providers'
 * webhooks, POST /hooks/sync/NAME. The endpoint authenticates each delivery itself, by the
 * provider's signature with the Sync's spec.webhook.secret (./sync-webhook.ts), answers every
 * failure with the same 401 (429 past the same per-address limit as bad tokens), reads at most
 * WEBHOOK_MAX_BODY bytes, and can do nothing but request a reconcile of that one Sync.
 */
function signedByCaller(path: string): boolean {
  return SYNC_HOOK_PATH.test(path) || GIT_HOOK_PATH.test(path);
}

/** Paths answered from memory (probes, discovery, OpenAPI): their success says nothing about the store. */
const STORELESS = new Set([...PUBLIC, "/apis", `/apis/${GROUP}`, `/apis/${GROUP}/${VERSION}`, `/apis/${APIEXTENSIONS}`, `/apis/${APIEXTENSIONS}/v1`, "/api", "/api/v1", "/openapi/v3"]);

function usesStore(path: string): boolean {
  const p = path.replace(/\/+$/, "") || "/";
  return !STORELESS.has(p) && !p.startsWith("/openapi/") && !p.startsWith(CRD_PATH);
}

/**
 * The Kubernetes-shaped HTTPS API. Routing is a handful of regular expressions over the
 * Kubernetes URL layout; each resource request becomes a ResourceRequest for the handlers.
 */
export class ApiServer {
  private server: https.Server | undefined;
  private readonly handlers: ResourceHandlers;
  private readonly rollouts: RolloutEndpoints;
  private readonly databases: DatabaseEndpoints;
  private readonly volumeBackups: VolumeBackupEndpoints;
  private readonly jobs: JobEndpoints;
  private readonly unfollow: (() => void)[];
  private readonly coreApi: CoreApi;
  private readonly tokenDigest: Buffer;
  private readonly sockets = new Set<Socket>();
  private readonly outage: StoreOutageLog;
  private readonly authFailures: AuthFailureLimit;
  private readonly watches: WatchLimit;
  private readonly hooks: SyncWebhooks;
  private readonly gitHooks: GitWebhooks;
  private readonly scopes: ScopeCache;
  private readonly people: PeopleEndpoints;
  private readonly syncDiffs: SyncDiffs;
  private readonly auditList: AuditEndpoint;
  private readonly rotateKey: RotateKeyEndpoint;
  private readonly reviews: AuthReviews;
  private readonly ui: UiEndpoints;

  constructor(private readonly opts: ApiServerOptions) {
    this.outage = new StoreOutageLog(opts.logger);
    this.authFailures = new AuthFailureLimit(opts.logger);
    this.watches = new WatchLimit(opts.maxWatchesPerAddress);
    const st = opts.stores;
    this.handlers = new ResourceHandlers(st.resources, opts.feed);
    this.coreApi = new CoreApi(st, opts.feed);
    this.rollouts = new RolloutEndpoints(st.resources, st.revisions, opts.driver);
    this.databases = new DatabaseEndpoints({ store: st.resources, credentials: st.credentials, backups: st.backups, audit: st.audit });
    this.jobs = new JobEndpoints({ store: st.resources, runs: st.jobRuns, audit: st.audit });
    this.volumeBackups = new VolumeBackupEndpoints({ store: st.resources, volumeBackups: st.volumeBackups, audit: st.audit });
    this.hooks = new SyncWebhooks({ store: st.resources, unauthorized: (address) => this.authFailures.failed(address) });
    this.gitHooks = new GitWebhooks({ store: st.resources, unauthorized: (address) => this.authFailures.failed(address) });
    this.syncDiffs = new SyncDiffs({ store: st.resources, dataDir: opts.dataDir, box: opts.box });
    this.tokenDigest = createHash("sha256").update(opts.token).digest();
    this.scopes = new ScopeCache((userId) => st.people.scope(userId));
    // Token lookups and scopes are dropped on every access change the store announces (ADR 0015).
    this.unfollow = [this.scopes.followAccessChanges(opts.feed), st.people.followAccessChanges(opts.feed)];
    // Passwords are guessable where tokens are not: 5 failures per user per minute, 20 per address per 10 s.
    this.reviews = new AuthReviews({ scope: (userId) => this.scopes.fresh(userId), memberships: (userId) => st.people.memberships(userId) });
    this.people = new PeopleEndpoints(st.people, { perAddress: this.authFailures, perUser: new AuthFailureLimit(opts.logger, Date.now, { burst: 5, windowMs: 60_000 }) }, st.audit, (userId) => this.scopes.forget(userId));
    this.auditList = new AuditEndpoint(st.audit);
    this.rotateKey = new RotateKeyEndpoint(opts.keyRotation);
    // The dashboard (./ui.ts): its session is a user's token in a cookie, checked as a bearer token is.
    this.ui = new UiEndpoints({ identify: (token) => this.identify(token), unauthorized: (address) => this.authFailures.failed(address), csrfKey: createHash("sha256").update(`berth-ui-csrf-key:${opts.token}`).digest() });
  }

  get address(): AddressInfo {
    return this.server!.address() as AddressInfo;
  }

  async start(signal?: AbortSignal): Promise<void> {
    const server = https.createServer({ cert: this.opts.tls.certPem, key: this.opts.tls.keyPem, handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, (req, res) => void this.handle(req, res));
    server.maxConnections = (this.opts.maxConnections ?? MAX_CONNECTIONS) * TCP_HEADROOM;
    this.refuseOverLimit(server);
    server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    this.closeSilentConnections(server);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    signal?.addEventListener("abort", () => void this.stop());
  }

  /**
   * Past maxConnections open TLS connections, a new one is answered `429 Too Many Requests`
   * with Retry-After (a metav1.Status, as for too many watches) and closed, so a client is told
   * why instead of seeing a reset. Written to the socket before any request: HTTP/1.1 clients
   * read it as the answer to the request they send.
   */
  private refuseOverLimit(server: https.Server): void {
    const max = this.opts.maxConnections ?? MAX_CONNECTIONS;
    let open = 0;
    server.on("secureConnection", (s: Socket) => {
      open++;
      s.once("close", () => open--);
      if (open <= max) return;
      const body = JSON.stringify(new ApiError(429, "TooManyRequests", `too many connections (${max}): retry later`, { retryAfterSeconds: 1 }).toStatus());
      s.end(`HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
  }

  /**
   * A connection that completes the handshake and never sends a request would otherwise stay
   * open for good (Node times out headers only once a request has begun): closed after
   * firstRequestTimeoutMs. Between requests, Node's keep-alive timeout (5 s) applies.
   */
  private closeSilentConnections(server: https.Server): void {
    const ms = this.opts.firstRequestTimeoutMs ?? 10_000;
    const waiting = new WeakMap<Socket, NodeJS.Timeout>();
    server.on("secureConnection", (s: Socket) => {
      const timer = setTimeout(() => s.destroy(), ms);
      waiting.set(s, timer);
      s.once("close", () => clearTimeout(timer));
    });
    server.on("request", (req: IncomingMessage) => {
      clearTimeout(waiting.get(req.socket));
      waiting.delete(req.socket);
    });
  }

  async stop(): Promise<void> {
    for (const off of this.unfollow.splice(0)) off();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Watches never end by themselves; close their sockets so shutdown does not hang.
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** Authenticated (401 otherwise), a URL in bounds, authorized: the request's context. */
  private async admit(req: IncomingMessage, url: URL, path: string): Promise<{ ctx: RequestContext; identity?: Identity }> {
    const open = PUBLIC.has(url.pathname) || signedByCaller(path) || path === LOGIN_PATH;
    const identity = open ? undefined : await this.authenticate(req);
    if (!open && !identity) throw this.authFailures.failed(req.socket.remoteAddress ?? "unknown");
    checkRequestUrl(url);
    return identity ? { ctx: await this.authorize(req, url, path, identity), identity } : { ctx: requestContext(req, undefined) };
  }

  /**
   * The caller of a bearer token — or, with no Authorization header, of the dashboard's session
   * cookie, which for anything but GET and HEAD also needs its CSRF header (./ui.ts) — then, if
   * the request impersonates (`kubectl --as`), the user it names.
   */
  private async authenticate(req: IncomingMessage): Promise<Identity | undefined> {
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
    const token = m ? m[1].trim() : req.headers.authorization ? undefined : this.ui.sessionToken(req);
    if (!token) return undefined;
    const caller = await this.identify(token);
    return caller && this.impersonated(req, caller);
  }

  /** The installation's token (its super_admin) or a user's API token. */
  private async identify(token: string): Promise<Identity | undefined> {
    const digest = createHash("sha256").update(token).digest();
    if (timingSafeEqual(digest, this.tokenDigest)) return { user: "admin", userId: this.opts.stores.adminUserId(), role: "super_admin" };
    const p = await this.opts.stores.people.authenticate(token);
    return p ? { user: p.username, userId: p.id, role: p.role } : undefined;
  }

  /**
   * `Impersonate-User` (with optional `Impersonate-Group` and `Impersonate-Uid`): only a
   * super_admin may, and its request is then decided, scoped and audited as that user's own
   * (the audit row also names the impersonator). Berth decides by a user's role and teams, not
   * by groups a request claims: every impersonated group must be one the user has.
   */
  private async impersonated(req: IncomingMessage, caller: Identity): Promise<Identity> {
    const headers = Object.keys(req.headers).filter((h) => h.startsWith("impersonate-"));
    if (!headers.length) return caller;
    if (caller.role !== "super_admin") throw forbidden(`user "${caller.user}" (${caller.role}) cannot impersonate: only super_admins may`);
    const one = (h: string): string[] => {
      const v = req.headers[h];
      return (Array.isArray(v) ? v : v === undefined ? [] : [v]).flatMap((x) => x.split(",")).map((x) => x.trim()).filter(Boolean);
    };
    const username = one("impersonate-user");
    if (username.length !== 1) throw forbidden(username.length ? "impersonate exactly one user" : "impersonating groups or a uid needs Impersonate-User too");
    if (headers.some((h) => h.startsWith("impersonate-extra-"))) throw forbidden("Berth does not impersonate extra user attributes (Impersonate-Extra-*)");
    const person = await this.opts.stores.people.user(username[0]);
    if (!person) throw forbidden(`cannot impersonate user "${username[0]}": no such user`);
    const target: Identity = { user: person.username, userId: person.id, role: person.role, impersonator: caller.user };
    const uid = one("impersonate-uid");
    if (uid.length && (uid.length > 1 || uid[0] !== person.id)) throw forbidden(`cannot impersonate uid "${uid.join(",")}": user "${person.username}" has uid ${person.id}`);
    const groups = one("impersonate-group");
    if (groups.length) {
      const has = new Set(groupsOf(target, await this.opts.stores.people.memberships(person.id)));
      const foreign = groups.filter((g) => !has.has(g));
      if (foreign.length) throw forbidden(`cannot impersonate group(s) ${foreign.join(", ")} for user "${person.username}": Berth decides by the user's own role and teams (its groups: ${[...has].join(", ")})`);
    }
    return target;
  }

  /**
   * The one authorization choke point (ADR 0015): every authenticated request is classified
   * (accessOf) and decided (core/access.ts) before routing; the context it returns carries the
   * same decision for the store to ask per object, and the visible Projects for lists and watches.
   */
  private async authorize(req: IncomingMessage, url: URL, path: string, identity: Identity): Promise<RequestContext> {
    const ctx = requestContext(req, identity);
    if (isAdmin(identity)) return ctx;
    const userId = identity.userId!;
    const access = accessOf(req.method ?? "GET", path, url.searchParams);
    let scope = await this.scopes.of(userId);
    // Denied on a cached scope: ask again on a fresh one (a Project just created or joined).
    if (!decide(identity, access, scope).allowed) scope = await this.scopes.fresh(userId);
    const decision = decide(identity, access, scope);
    if (!decision.allowed) throw forbidden(decision.reason!);
    if (access.verb === "watch") req.once("close", this.scopes.watching(userId));
    const authorize = (a: Access): void => {
      const d = decide(identity, a, scope);
      if (!d.allowed) throw forbidden(d.reason!);
    };
    return { ...ctx, authorize, visible: () => this.scopes.readable(userId) };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? "/", "https://berth.local");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    try {
      if (path === UI_PREFIX || path.startsWith(`${UI_PREFIX}/`)) return await this.ui.handle(req, res, url.pathname, () => readBody(req, 64 * 1024));
      const { ctx, identity } = await this.admit(req, url, path);
      const result = await this.route({ req, res, url, path, method: req.method ?? "GET", ctx, identity });
      if (result) await sendReply(res, result);
      if (usesStore(url.pathname)) this.outage.succeeded();
    } catch (e) {
      this.fail(res, this.toApiError(e, req.method, url.pathname));
    } finally {
      // Watches are long-lived; their end says nothing about latency.
      if (!url.searchParams.has("watch")) this.opts.logger.debug("request", { method: req.method, path: url.pathname, status: res.statusCode, ms: Date.now() - started });
    }
  }

  private fail(res: ServerResponse, err: ApiError): void {
    if (res.headersSent) return void res.end();
    const retry = err.details?.retryAfterSeconds;
    send(res, { status: err.code, body: err.toStatus(), headers: retry ? { "Retry-After": String(retry) } : undefined });
  }

  /**
   * The one place an error becomes a reply. ApiErrors are the client's; an unreachable store is
   * a retryable 503 (logged once per outage, not per request); anything else is our bug: 500,
   * with the stack in the log only.
   */
  private toApiError(e: unknown, method: string | undefined, path: string): ApiError {
    if (e instanceof ApiError) return e;
    if (isStoreUnavailable(e)) {
      this.outage.failed(e, { method, path });
      return storeUnavailable();
    }
    this.opts.logger.error("request failed", { method, path, error: (e as Error).stack });
    return new ApiError(500, "InternalError", "Internal error occurred: " + (e as Error).message);
  }

  /** Answers that need nothing but the path: probes, version, discovery, OpenAPI. */
  private async staticRoute(p: string): Promise<Reply | undefined> {
    if (p === "/healthz" || p === "/livez") return { status: 200, body: "ok" };
    if (p === "/readyz") return this.opts.ready && !this.opts.ready() ? { status: 503, body: "not ready" } : { status: 200, body: "ok" };
    if (p === "/metrics" && this.opts.metrics) {
      const m = await this.opts.metrics();
      return { status: 200, body: m.body, headers: { "Content-Type": m.contentType } };
    }
    const body = STATIC_BODIES[p]?.();
    if (body !== undefined) return { status: 200, body };
    if (p.startsWith("/openapi/")) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    return undefined;
  }

  private async route(call: Call): Promise<Reply | undefined> {
    const fixed = await this.staticRoute(call.path);
    if (fixed) return fixed;
    for (const r of this.routes) {
      const m = r.pattern.exec(call.path);
      if (m) return r.handle(call, m.slice(1).map((x) => (x === undefined ? undefined : decodeURIComponent(x))));
    }
    const rr = this.resourceRequest(call);
    if (!rr) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    if (["POST", "PUT", "PATCH", "DELETE"].includes(call.method)) rr.body = await readBody(call.req);
    return this.dispatch(call.method, rr, call.res, call.req.socket.remoteAddress ?? "unknown");
  }

  /** Berth's own endpoints (under /berth/v1) and the parts of the core API kubectl asks for. */
  private readonly routes: { pattern: RegExp; handle: (call: Call, groups: (string | undefined)[]) => Promise<Reply | undefined> }[] = [
    { pattern: /^\/berth\/v1\/namespaces\/([^/]+)\/applications\/([^/]+)\/(deployments|rollback|logs)$/, handle: (c, [ns, name, what]) => this.rollout(c, ns!, name!, what!) },
    {
      pattern: /^\/berth\/v1\/namespaces\/([^/]+)\/applications\/([^/]+)\/jobruns(?:\/([^/]+))?$/,
      handle: (c, [ns, name, run]) => this.jobs.handle({ method: c.method, namespace: ns!, name: name!, run, query: c.url.searchParams, ctx: c.ctx, body: () => readBody(c.req, 64 * 1024) }),
    },
    {
      pattern: /^\/berth\/v1\/namespaces\/([^/]+)\/applications\/([^/]+)\/(volumebackups|volumerestores)$/,
      handle: (c, [ns, name, what]) => this.volumeBackups.handle({ method: c.method, namespace: ns!, name: name!, what: what as "volumebackups", query: c.url.searchParams, ctx: c.ctx, body: () => readBody(c.req, 64 * 1024) }),
    },
    {
      pattern: /^\/berth\/v1\/namespaces\/([^/]+)\/databases\/([^/]+)\/(credentials|backups|restores)$/,
      handle: (c, [ns, name, what]) => this.databases.handle({ method: c.method, namespace: ns!, name: name!, what: what!, query: c.url.searchParams, ctx: c.ctx, body: () => readBody(c.req) }),
    },
    { pattern: SYNC_HOOK_PATH, handle: async (c, [name]) => (c.method === "POST" ? this.hooks.handle(c.req, name!, await readBody(c.req, WEBHOOK_MAX_BODY)) : methodNotAllowed()) },
    { pattern: GIT_HOOK_PATH, handle: async (c, [ns, name]) => (c.method === "POST" ? this.gitHooks.handle(c.req, ns!, name!, await readBody(c.req, WEBHOOK_MAX_BODY)) : methodNotAllowed()) },
    { pattern: /^\/berth\/v1\/seal$/, handle: async (c) => (c.method === "POST" ? sealReply(this.opts.stores.resources, await readBody(c.req), c.ctx) : methodNotAllowed()) },
    { pattern: /^\/berth\/v1\/(users|teams|tokens|login)(?:\/([^/]+))?(?:\/(members)(?:\/([^/]+))?)?$/, handle: (c, [what, name, members, member]) => this.people.handle({ method: c.method, what: what as "users", name, members: !!members, member, body: () => readBody(c.req, 64 * 1024), query: c.url.searchParams, ctx: c.ctx, identity: c.identity, address: c.req.socket.remoteAddress ?? "unknown" }) },
    { pattern: ROTATE_KEY_PATH, handle: (c) => this.rotateKey.handle(c.method, () => readBody(c.req, 64 * 1024), c.ctx) },
    { pattern: /^\/berth\/v1\/audit$/, handle: async (c) => (c.method === "GET" ? this.auditList.list(c.url.searchParams) : methodNotAllowed()) },
    {
      pattern: /^\/apis\/(?:authentication\.k8s\.io\/v1\/(selfsubjectreviews)|authorization\.k8s\.io\/v1\/(selfsubjectaccessreviews|selfsubjectrulesreviews))$/,
      handle: (c, [authn, authz]) => this.reviews.handle({ kind: (authn ?? authz) as ReviewKind, method: c.method, identity: c.identity!, body: () => readBody(c.req, 64 * 1024), contentType: c.req.headers["content-type"] }),
    },
    { pattern: SYNC_DIFF_PATH, handle: async (c, [name]) => (c.method === "GET" ? this.syncDiffs.handle(name!, c.ctx) : methodNotAllowed()) },
    { pattern: /^\/berth\/v1\/apply$/, handle: async (c) => (c.method === "POST" ? this.handlers.batchApply(await readBody(c.req), c.url.searchParams, c.ctx, c.req.headers["content-type"]) : methodNotAllowed()) },
    { pattern: /^\/apis\/apiextensions\.k8s\.io\/v1\/customresourcedefinitions(?:\/([^/]+))?$/, handle: async (c, [name]) => crdRequest(c.method, name, c.url.searchParams) },
    { pattern: /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?(namespaces|events|services)(?:\/([^/]+))?$/, handle: (c, groups) => this.core(c, groups) },
  ];

  private resourceRequest(call: Call): ResourceRequest | undefined {
    const target = parseResourcePath(call.path);
    if (!target) return undefined;
    return { ...target, query: call.url.searchParams, accept: call.req.headers.accept, contentType: call.req.headers["content-type"], ctx: call.ctx };
  }

  private async dispatch(method: string, rr: ResourceRequest, res: ServerResponse, address: string): Promise<Reply | undefined> {
    if (rr.name) return this.dispatchItem(method, rr);
    const watch = rr.query.get("watch");
    if (method === "GET" && (watch === "true" || watch === "1")) {
      this.watches.admit(address, res);
      await this.handlers.watch(rr, res);
      return undefined;
    }
    if (method === "GET") return this.handlers.list(rr);
    if (method === "DELETE") return this.handlers.deleteCollection(rr);
    if (method !== "POST") return methodNotAllowed();
    if (rr.kind.namespaced && !rr.namespace) throw badRequest("the namespace of the object must be set in the URL");
    return this.handlers.create(rr);
  }

  private dispatchItem(method: string, rr: ResourceRequest): Promise<Reply> {
    if (rr.subresource === "scale") return ["GET", "PUT", "PATCH"].includes(method) ? this.handlers.scale(method, rr) : methodNotAllowed();
    if (method === "GET") return this.handlers.get(rr);
    if (method === "PUT") return this.handlers.replace(rr);
    if (method === "PATCH") return this.handlers.patch(rr);
    if (method === "DELETE" && !rr.subresource) return this.handlers.delete(rr);
    return methodNotAllowed();
  }

  private async rollout(call: Call, ns: string, name: string, what: string): Promise<Reply | undefined> {
    const q = call.url.searchParams;
    if (what === "deployments" && call.method === "GET") return this.rollouts.history(ns, name, q.get("logs") === "true");
    if (what === "rollback" && call.method === "POST") return this.rollouts.undo(ns, name, q.get("toRevision") ? Number(q.get("toRevision")) : undefined, call.ctx);
    if (what !== "logs" || call.method !== "GET") return methodNotAllowed();
    await this.rollouts.logs(ns, name, q, call.res);
    return undefined;
  }

  /** The core API (./core-api.ts); its watches count against the same per-address limit. */
  private async core(call: Call, [namespace, resource, name]: (string | undefined)[]): Promise<Reply | undefined> {
    const q = call.url.searchParams;
    if (call.method === "GET" && isWatch(q)) this.watches.admit(call.req.socket.remoteAddress ?? "unknown", call.res);
    return this.coreApi.handle({ method: call.method, resource: resource!, namespace, name, query: q, accept: call.req.headers.accept, ctx: call.ctx }, call.res);
  }
}

/** One HTTP request on its way through the router, with who sent it. */
interface Call {
  identity?: Identity;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  path: string;
  method: string;
  ctx: RequestContext;
}

const STATIC_BODIES: Record<string, () => unknown> = {
  "/version": versionInfo,
  "/apis": apiGroupList,
  [`/apis/${GROUP}`]: apiGroup,
  [`/apis/${GROUP}/${VERSION}`]: apiResourceList,
  [`/apis/${APIEXTENSIONS}`]: apiextensionsGroup,
  [`/apis/${APIEXTENSIONS}/v1`]: apiextensionsResourceList,
  "/api": coreVersions,
  "/api/v1": coreResourceList,
  "/openapi/v3": openApiIndex,
  [`/openapi/v3/apis/${GROUP}/${VERSION}`]: openApiGroupVersion,
  "/openapi/v3/api/v1": openApiCore,
};

function methodNotAllowed(): never {
  throw new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
}


/** Who sent a request, for every store write and audit row: the one place it is derived. */
function requestContext(req: IncomingMessage, identity: Identity | undefined): RequestContext {
  return { user: identity?.user ?? "anonymous", ...(identity?.userId ? { userId: identity.userId } : {}), ...(identity?.impersonator ? { impersonator: identity.impersonator } : {}), ip: req.socket.remoteAddress, userAgent: req.headers["user-agent"] };
}

async function readBody(req: IncomingMessage, max = MAX_BODY): Promise<Buffer> {
  const tooLarge = (): ApiError => new ApiError(413, "RequestEntityTooLarge", `the request body is larger than ${max} bytes`);
  if (Number(req.headers["content-length"] ?? 0) > max) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Lists (`items`) and Tables (`rows`) longer than this are written piece by piece. */
const STREAM_OVER = 100;

/** Items written between two yields to the event loop. */
const ITEMS_PER_WRITE = 50;

function longList(body: unknown): "items" | "rows" | undefined {
  if (!body || typeof body !== "object") return undefined;
  const b = body as Record<string, unknown>;
  if (Array.isArray(b.items) && b.items.length > STREAM_OVER) return "items";
  if (Array.isArray(b.rows) && b.rows.length > STREAM_OVER) return "rows";
  return undefined;
}

/**
 * A long list is written as it is serialized, a few items at a time, with the event loop free
 * in between and the client's socket buffer respected: no whole multi-megabyte string, and a
 * health probe is not kept waiting behind someone else's 10,000 objects.
 */
async function sendReply(res: ServerResponse, reply: Reply): Promise<void> {
  const key = longList(reply.body);
  if (!key) return send(res, reply);
  const { [key]: items, ...rest } = reply.body as Record<string, unknown[]>;
  res.writeHead(reply.status, { "Content-Type": "application/json", ...(reply.headers ?? {}) });
  const head = JSON.stringify(rest);
  res.write(`${head.slice(0, -1)}${head.length > 2 ? "," : ""}"${key}":[`);
  for (let i = 0; i < items.length; i += ITEMS_PER_WRITE) {
    if (res.destroyed) return;
    const chunk = items.slice(i, i + ITEMS_PER_WRITE).map((o) => JSON.stringify(o)).join(",");
    if (!res.write(i ? `,${chunk}` : chunk)) await drained(res);
    else await yieldToOthers();
  }
  res.end("]}");
}

function send(res: ServerResponse, reply: Reply): void {
  const isText = typeof reply.body === "string";
  const body = isText ? (reply.body as string) : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    "Content-Type": isText ? "text/plain; charset=utf-8" : "application/json",
    "Content-Length": Buffer.byteLength(body),
    ...(reply.headers ?? {}),
  });
  res.end(body);
}

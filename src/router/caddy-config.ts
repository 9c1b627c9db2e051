import { createHash } from "node:crypto";
import type { RouterSettings } from "./settings.js";

/**
 * Why a Domain's host answers the way it does:
 * - Routed: proxied to the target's ready replicas;
 * - TargetNotFound / TargetPortNotExposed / NoReadyReplicas: the host answers 503 from Caddy
 *   itself (and keeps its certificate), never a proxy to replicas that do not exist;
 * - Suspended: no route at all (spec.suspend).
 */
export type RouteState = "Routed" | "TargetNotFound" | "TargetPortNotExposed" | "NoReadyReplicas" | "Suspended";

/** One Domain as the route table sees it. */
export interface RouteEntry {
  /** namespace/name of the Domain. */
  key: string;
  uid: string;
  host: string;
  path: string;
  tls: { enabled: boolean; issuer: "acme" | "internal" };
  state: RouteState;
  message: string;
  /** 127.0.0.1:PORT of every ready replica's published target port, sorted. */
  upstreams: string[];
  /** The Application's HTTP healthcheck on the target port, for Caddy's active checks. */
  health?: { uri: string; interval: string; timeout: string };
}

export type CaddyConfig = Record<string, unknown>;

/**
 * The host of the drain route: it never gets real traffic. It lists the upstreams of containers
 * withdrawn from every route while requests to them may still be in flight, which keeps those
 * upstreams in Caddy's global upstream pool, where /reverse_proxy/upstreams counts their
 * in-flight requests — the old config's requests included — until they are done.
 */
export const DRAIN_HOST = "drain.berth.invalid";

/** Top-level keys Berth owns; everything else in Caddy's config (admin, logging, storage) is kept as Caddy has it. */
export const OWNED_KEYS = ["apps"] as const;

/** Path matchers for a prefix: "/api" matches /api and /api/…; "/" matches everything. */
export function pathMatchers(path: string): string[] | undefined {
  const p = path.replace(/\/+$/, "");
  if (!p) return undefined;
  return [p, `${p}/*`];
}

function match(e: RouteEntry): Record<string, unknown>[] {
  const paths = pathMatchers(e.path);
  return [{ host: [e.host], ...(paths ? { path: paths } : {}) }];
}

function text(status: number, body: string, extra: Record<string, string[]> = {}): Record<string, unknown> {
  return { handler: "static_response", status_code: status, headers: { "Content-Type": ["text/plain; charset=utf-8"], ...extra }, body };
}

function handler(e: RouteEntry): Record<string, unknown> {
  if (e.state !== "Routed") return text(503, `berth: ${e.message}\n`, { "Retry-After": ["5"] });
  return {
    handler: "reverse_proxy",
    upstreams: e.upstreams.map((dial) => ({ dial })),
    // A connection refused (a replica that died unasked) is retried on another upstream; so is a
    // safe request whose connection broke, which the upstream cannot have acted on.
    load_balancing: { selection_policy: { policy: "round_robin" }, try_duration: "3s", try_interval: "100ms", retry_match: [{ method: ["GET", "HEAD", "OPTIONS"] }] },
    health_checks: {
      // A replica that refuses a connection is skipped for 10 s (the next route update removes it for good).
      passive: { fail_duration: "10s", max_fails: 1 },
      ...(e.health ? { active: { uri: e.health.uri, interval: e.health.interval, timeout: e.health.timeout } } : {}),
    },
  };
}

/** Longest path first within a host, hosts in order: a stable order, so an unchanged table hashes the same. */
export function sortEntries(entries: RouteEntry[]): RouteEntry[] {
  return [...entries].sort((a, b) => a.host.localeCompare(b.host) || b.path.length - a.path.length || a.path.localeCompare(b.path) || a.key.localeCompare(b.key));
}

/**
 * The complete Caddy configuration for a route table: Berth's `apps` (http, tls, pki) over the
 * keys Berth does not own, taken from the live config (`base`). Pure, so the same table always
 * gives the same document, hash and load.
 */
export function buildCaddyConfig(entries: RouteEntry[], s: RouterSettings, base: CaddyConfig = {}, draining: readonly string[] = []): CaddyConfig {
  const live = sortEntries(entries.filter((e) => e.state !== "Suspended"));
  const plain = live.filter((e) => !e.tls.enabled);
  const secure = live.filter((e) => e.tls.enabled);
  const listen = (port: number): string[] => [`${s.bindHost}:${port}`];
  const notFound = { handle: [text(404, "berth: no Domain routes this host and path\n")], terminal: true };
  const httpsSuffix = s.httpsPort === 443 ? "" : `:${s.httpsPort}`;
  const redirectHosts = [...new Set(secure.map((e) => e.host))];
  const servers: Record<string, unknown> = {
    berth_http: {
      listen: listen(s.httpPort),
      routes: [
        ...plain.map((e) => ({ match: match(e), handle: [handler(e)], terminal: true })),
        // HTTPS hosts redirect; Caddy answers ACME HTTP-01 challenges on this port before any route.
        ...(redirectHosts.length
          ? [{ match: [{ host: redirectHosts }], handle: [text(308, "", { Location: [`https://{http.request.host}${httpsSuffix}{http.request.uri}`] })], terminal: true }]
          : []),
        ...(draining.length ? [drainRoute(draining)] : []),
        notFound,
      ],
    },
  };
  if (secure.length) {
    servers.berth_https = {
      listen: listen(s.httpsPort),
      routes: [...secure.map((e) => ({ match: match(e), handle: [handler(e)], terminal: true })), notFound],
      // Certificates are managed for every host in the routes; the redirects are ours (above).
      automatic_https: { disable_redirects: true },
    };
  }
  const apps: Record<string, unknown> = {
    http: { http_port: s.httpPort, https_port: s.httpsPort, servers },
    // The local CA of issuer "internal"; never written into this machine's trust store.
    pki: { certificate_authorities: { local: { install_trust: false } } },
  };
  const internal = [...new Set(secure.filter((e) => e.tls.issuer === "internal").map((e) => e.host))];
  const acme = [...new Set(secure.filter((e) => e.tls.issuer === "acme").map((e) => e.host))];
  const policies: Record<string, unknown>[] = [];
  if (internal.length) policies.push({ subjects: internal, issuers: [{ module: "internal" }] });
  if (acme.length) {
    const issuer: Record<string, unknown> = { module: "acme", ca: s.acme.directory };
    if (s.acme.email) issuer.email = s.acme.email;
    if (s.acme.trustedRootsPemFiles.length) issuer.trusted_roots_pem_files = s.acme.trustedRootsPemFiles;
    policies.push({ subjects: acme, issuers: [issuer] });
  }
  if (policies.length) apps.tls = { automation: { policies } };
  const kept = Object.fromEntries(Object.entries(base ?? {}).filter(([k]) => !(OWNED_KEYS as readonly string[]).includes(k)));
  return { ...kept, apps };
}

function drainRoute(upstreams: readonly string[]): Record<string, unknown> {
  return { match: [{ host: [DRAIN_HOST] }], handle: [{ handler: "reverse_proxy", upstreams: [...upstreams].sort().map((dial) => ({ dial })) }], terminal: true };
}

/** Every upstream a (live) config proxies to, in any of Berth's routes, the drain route included. */
export function routedUpstreams(config: CaddyConfig): Set<string> {
  const servers = ((config as any)?.apps?.http?.servers ?? {}) as Record<string, { routes?: { handle?: { upstreams?: { dial: string }[] }[] }[] }>;
  const out = new Set<string>();
  for (const server of Object.values(servers)) for (const r of server.routes ?? []) for (const h of r.handle ?? []) for (const u of h.upstreams ?? []) out.add(u.dial);
  return out;
}

/** The drain upstreams a (live) config lists. */
export function drainingOf(config: CaddyConfig): string[] {
  const routes = ((config as any)?.apps?.http?.servers?.berth_http?.routes ?? []) as { match?: { host?: string[] }[]; handle?: { upstreams?: { dial: string }[] }[] }[];
  const route = routes.find((r) => r.match?.[0]?.host?.[0] === DRAIN_HOST);
  return (route?.handle?.[0]?.upstreams ?? []).map((u) => u.dial);
}

/** JSON with object keys sorted at every level: Caddy returns its config that way (GET /config/). */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(",")}}`;
}

export function hashConfig(v: unknown): string {
  return createHash("sha256").update(canonicalJson(v)).digest("hex");
}

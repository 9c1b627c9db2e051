import type { ConditionInput } from "../../core/conditions.js";
import { getCondition } from "../../core/conditions.js";
import type { ResourceObject } from "../../core/types.js";
import type { RouteEntry } from "../../router/caddy-config.js";
import { certificateStatus, issuedByCaddyLocalCa, type ServedCertificate } from "../../router/certificates.js";
import { conditionsFor, failureSummary, transitionEvents, type EventSpec, type Outcome, type Summary, type Verdict } from "../shared/status.js";

/** What one Domain reconcile observed. */
export interface DomainObserved {
  routerConfigured: boolean;
  settings: { httpPort: number; httpsPort: number };
  /** This Domain's part of the route table the router loaded. */
  entry: RouteEntry;
  /** The certificate Caddy serves for the host (TLS only). */
  certificate: ServedCertificate | undefined;
  events: EventSpec[];
}

/** How soon a Domain waiting for its certificate looks again. */
const CERT_POLL_MS = 2000;

function certificateProblem(cert: ServedCertificate | undefined, issuer: "acme" | "internal", now: number): string | undefined {
  if (!cert) return "waiting for Caddy to obtain a certificate (Caddy's log shows the CA's answers)";
  if (!cert.matchesHost) return `the certificate served (${cert.subject}) does not name the host yet`;
  if (cert.notAfter.getTime() <= now) return `the certificate served expired at ${cert.notAfter.toISOString()}`;
  if (issuer === "internal" && !issuedByCaddyLocalCa(cert)) return `waiting for a certificate from Caddy's local CA (serving one from ${cert.issuer})`;
  if (issuer === "acme" && issuedByCaddyLocalCa(cert)) return "waiting for the ACME certificate (still serving one from Caddy's local CA)";
  return undefined;
}

function portSuffix(tls: boolean, s: DomainObserved["settings"]): string {
  if (tls) return s.httpsPort === 443 ? "" : `:${s.httpsPort}`;
  return s.httpPort === 80 ? "" : `:${s.httpPort}`;
}

interface RouteVerdict {
  summary: Summary;
  phase: string;
  fields: Record<string, unknown>;
  requeueAfter?: number;
}

function routeVerdict(dom: ResourceObject, obs: Partial<DomainObserved>, now: number): RouteVerdict {
  const e = obs.entry!;
  const url = `${e.tls.enabled ? "https" : "http"}://${e.host}${portSuffix(e.tls.enabled, obs.settings!)}${e.path}`;
  const fields: Record<string, unknown> = { url, upstreams: e.upstreams };
  if (e.state !== "Routed") {
    const suspended = e.state === "Suspended";
    return { summary: { ready: { status: suspended ? "Unknown" : "False", reason: e.state, message: e.message }, ...(suspended ? {} : { reconciling: { reason: e.state, message: e.message } }) }, phase: suspended ? "Suspended" : "Pending", fields };
  }
  if (!e.tls.enabled) return { summary: { ready: { status: "True", reason: "Routed", message: e.message } }, phase: "Active", fields };
  const problem = certificateProblem(obs.certificate, e.tls.issuer, now);
  if (problem) {
    const message = `${e.message}; ${problem}`;
    // Every 2 s at first (ACME usually takes seconds); a tenth of the time waited so far, up to 30 s, after.
    const since = getCondition(dom.status?.conditions as never, "Ready");
    const waited = since?.reason === "CertificatePending" ? now - Date.parse(since.lastTransitionTime) : 0;
    return { summary: { ready: { status: "False", reason: "CertificatePending", message }, reconciling: { reason: "CertificatePending", message } }, phase: "Pending", fields, requeueAfter: Math.min(30_000, Math.max(CERT_POLL_MS, Number.isFinite(waited) ? waited / 10 : 0)) };
  }
  const cert = obs.certificate!;
  return { summary: { ready: { status: "True", reason: "Routed", message: `${e.message}; HTTPS with a certificate from ${cert.issuer}` } }, phase: "Active", fields: { ...fields, certificate: certificateStatus(cert, e.tls.issuer) } };
}

const NOT_CONFIGURED: ConditionInput = { type: "Ready", status: "Unknown", reason: "RouterNotConfigured", message: "berth serve runs without a router: start it with --caddy-admin URL or --caddy-managed" };

/**
 * The Domain's status: its URL, the upstreams its route sends to (the target's serving
 * replicas), the certificate served with TLS, and Ready with why. Pure.
 */
export function domainStatusFor(dom: ResourceObject, obs: Partial<DomainObserved>, outcome: Outcome, at?: string): Verdict {
  const now = at ? Date.parse(at) : Date.now();
  const v = verdictOf(dom, obs, outcome, now);
  const expiring = expiringCondition(dom, v.phase === "Active" ? obs.certificate : undefined, now);
  const conditions = conditionsFor(dom, expiring ? { ...v.summary, extra: [...(v.summary.extra ?? []), expiring] } : v.summary, at);
  const status = { ...keptOnFailure(dom, outcome), ...v.fields, observedGeneration: dom.metadata.generation ?? 1, phase: v.phase, conditions };
  const routed = obs.entry && !outcome.failure ? { reason: "Routed", message: `${String(v.fields.url)} → ${obs.entry.message}` } : undefined;
  const events = [...(obs.events ?? []), ...transitionEvents(dom, conditions, outcome.failure, routed), ...targetEvents(dom, obs), ...expiringEvents(dom, expiring)];
  return { status, events, ...(v.requeueAfter ? { requeueAfter: v.requeueAfter } : {}) };
}

function verdictOf(dom: ResourceObject, obs: Partial<DomainObserved>, outcome: Outcome, now: number): RouteVerdict {
  if (outcome.failure) return { summary: failureSummary(outcome.failure), phase: "Failed", fields: {} };
  if (!obs.routerConfigured) return { summary: { ready: NOT_CONFIGURED }, phase: "Pending", fields: {} };
  return routeVerdict(dom, obs, now);
}

/** A failure keeps what was last known of the route; a new verdict replaces it. */
function keptOnFailure(dom: ResourceObject, outcome: Outcome): Record<string, unknown> {
  if (!outcome.failure) return {};
  const prev = (dom.status ?? {}) as Record<string, unknown>;
  return Object.fromEntries(["url", "upstreams", "certificate"].filter((k) => k in prev).map((k) => [k, prev[k]]));
}

/** A target that goes missing is worth a Warning once (it is not a failure of this reconcile). */
function targetEvents(dom: ResourceObject, obs: Partial<DomainObserved>): EventSpec[] {
  if (obs.entry?.state !== "TargetNotFound" || getCondition(dom.status?.conditions as never, "Ready")?.reason === "TargetNotFound") return [];
  return [{ type: "Warning", reason: "TargetNotFound", message: obs.entry.message }];
}

const DAY_MS = 86_400_000;

/**
 * Whether the served certificate is close to its end: Caddy renews with a third of the lifetime
 * left, so less than a tenth of it (and at most 7 days) left means renewal is failing.
 */
export function certificateExpiring(cert: Pick<ServedCertificate, "notBefore" | "notAfter">, now: number): boolean {
  const left = cert.notAfter.getTime() - now;
  return left > 0 && left < Math.min(7 * DAY_MS, (cert.notAfter.getTime() - cert.notBefore.getTime()) / 10);
}

/** CertificateExpiring: True while it is; False once it was and no longer is; absent otherwise (most Domains). */
function expiringCondition(dom: ResourceObject, cert: ServedCertificate | undefined, now: number): Omit<ConditionInput, "observedGeneration"> | undefined {
  const was = getCondition(dom.status?.conditions as never, "CertificateExpiring");
  if (cert && certificateExpiring(cert, now)) return { type: "CertificateExpiring", status: "True", reason: "RenewalOverdue", message: `the certificate served (from ${cert.issuer}) expires at ${cert.notAfter.toISOString()} and has not been renewed` };
  if (!was) return undefined;
  return { type: "CertificateExpiring", status: "False", reason: cert ? "Renewed" : "NoCertificate", message: cert ? `valid until ${cert.notAfter.toISOString()}` : "no certificate is served" };
}

/** A Warning when CertificateExpiring turns True (a Notification's CertificateExpiring, ADR 0021). */
function expiringEvents(dom: ResourceObject, c: ReturnType<typeof expiringCondition>): EventSpec[] {
  if (c?.status !== "True" || getCondition(dom.status?.conditions as never, "CertificateExpiring")?.status === "True") return [];
  return [{ type: "Warning", reason: "CertificateExpiring", message: c.message }];
}

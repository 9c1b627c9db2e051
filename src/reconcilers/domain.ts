import type { ObjectKey, ReconcileContext, ReconcileResult, Reconciler } from "../controller/controller.js";
import type { CaddyRouter } from "../router/caddy-router.js";
import { domainKey } from "../router/caddy-router.js";
import type { RouteEntry } from "../router/caddy-config.js";
import { certificateStatus, issuedByCaddyLocalCa, probeCertificate, recordCertificate, type ServedCertificate } from "../router/certificates.js";
import type { EventStore } from "../store/events.js";
import type { ResourceStore } from "../store/resources.js";
import type { RequestContext, ResourceObject } from "../store/types.js";
import { getCondition, setCondition, type Condition } from "./conditions.js";

export const ROUTE_FINALIZER = "berth.dev/route";
const CONTROLLER: RequestContext = { user: "system:berth-controller", userAgent: "berth-controller" };
/** How soon a Domain waiting for its certificate looks again. */
const CERT_POLL_MS = 2000;

/**
 * The Domain reconciler. Every pass asks the router for a sync — which rebuilds the whole route
 * table from all Domains and loads it atomically if it changed — then reports this Domain's part
 * of it: its target, its upstreams and, with TLS, the certificate Caddy actually serves.
 * Deleting a Domain (finalizer berth.dev/route) goes through one more sync without it, so the
 * object is gone only once its route is.
 */
export class DomainReconciler implements Reconciler {
  constructor(
    private readonly store: ResourceStore,
    private readonly router: CaddyRouter | undefined,
    private readonly events: EventStore,
  ) {}

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult> {
    let dom = await this.store.getStored("Domain", key.namespace, key.name);
    if (!this.router) return dom ? this.withoutRouter(dom) : {};
    if (!dom) {
      // Gone without our finalizer (e.g. created while no router was configured): drop its route.
      await this.router.sync();
      return {};
    }
    if (dom.metadata.deletionTimestamp) {
      if (!(dom.metadata.finalizers ?? []).includes(ROUTE_FINALIZER)) return {};
      const r = await this.router.sync();
      ctx.logger.info("route removed", { loaded: r.loaded });
      await this.removeFinalizer(dom);
      return {};
    }
    if (!(dom.metadata.finalizers ?? []).includes(ROUTE_FINALIZER)) {
      const r = await this.store.update("Domain", key.namespace, key.name, CONTROLLER, "add-finalizer", (cur) => ({
        ...cur!,
        metadata: { ...cur!.metadata, finalizers: [...(cur!.metadata.finalizers ?? []), ROUTE_FINALIZER] },
      }));
      dom = { ...dom, metadata: { ...dom.metadata, finalizers: r.object.metadata.finalizers, resourceVersion: r.object.metadata.resourceVersion } };
    }
    let entry: RouteEntry | undefined;
    try {
      entry = (await this.router.sync()).entries.get(domainKey(key.namespace, key.name));
    } catch (e) {
      const message = (e as Error).message;
      await this.writeStatus(dom, { phase: "Failed", conditions: setCondition(conds(dom), { type: "Ready", status: "False", reason: "RouterUnavailable", message }) }, ["certificate"]);
      throw e;
    }
    if (!entry) return { requeueAfter: 1000 }; // written after the sync read the store; the next one has it
    return this.report(dom, entry);
  }

  private async report(dom: ResourceObject, entry: RouteEntry): Promise<ReconcileResult> {
    const s = this.router!.settings;
    const url = `${entry.tls.enabled ? "https" : "http"}://${entry.host}${portSuffix(entry.tls.enabled, s.httpPort, s.httpsPort)}${entry.path}`;
    let c = conds(dom);
    const prevReady = getCondition(c, "Ready");
    const status: Record<string, unknown> = { url, upstreams: entry.upstreams };
    let requeueAfter: number | undefined;
    if (entry.state !== "Routed") {
      const reason = entry.state;
      c = setCondition(c, { type: "Ready", status: reason === "Suspended" ? "Unknown" : "False", reason, message: entry.message });
      if (reason === "TargetNotFound" && prevReady?.reason !== "TargetNotFound") await this.events.record(dom, "Warning", "TargetNotFound", entry.message);
      status.phase = reason === "Suspended" ? "Suspended" : "Pending";
    } else if (!entry.tls.enabled) {
      c = setCondition(c, { type: "Ready", status: "True", reason: "Routed", message: entry.message });
      status.phase = "Active";
    } else {
      const cert = await probeCertificate(s.probeHost, s.httpsPort, entry.host);
      const problem = certificateProblem(cert, entry.tls.issuer);
      if (problem) {
        c = setCondition(c, { type: "Ready", status: "False", reason: "CertificatePending", message: `${entry.message}; ${problem}` });
        status.phase = "Pending";
        // Every 2 s at first (ACME usually takes seconds); a tenth of the time waited so far, up to 30 s, after.
        const waited = Date.now() - Date.parse(getCondition(c, "Ready")?.lastTransitionTime ?? "");
        requeueAfter = Math.min(30_000, Math.max(CERT_POLL_MS, Number.isFinite(waited) ? waited / 10 : 0));
      } else {
        const served = cert!;
        status.certificate = certificateStatus(served, entry.tls.issuer);
        const isNew = await recordCertificate(this.store.dataSource, dom.metadata.uid!, served).catch(() => false);
        if (isNew) await this.events.record(dom, "Normal", "CertificateReady", `serving a certificate from ${served.issuer}, valid until ${served.notAfter.toISOString()}`);
        c = setCondition(c, { type: "Ready", status: "True", reason: "Routed", message: `${entry.message}; HTTPS with a certificate from ${served.issuer}` });
        status.phase = "Active";
      }
    }
    if (getCondition(c, "Ready")?.status === "True" && prevReady?.status !== "True") await this.events.record(dom, "Normal", "Routed", `${url} → ${entry.message}`);
    status.conditions = c;
    await this.writeStatus(dom, status, ["certificate"]);
    return requeueAfter ? { requeueAfter } : {};
  }

  /** No router configured: the Domain is stored and validated, but nothing serves it. */
  private async withoutRouter(dom: ResourceObject): Promise<ReconcileResult> {
    if (dom.metadata.deletionTimestamp) {
      if ((dom.metadata.finalizers ?? []).includes(ROUTE_FINALIZER)) await this.removeFinalizer(dom);
      return {};
    }
    const c = setCondition(conds(dom), { type: "Ready", status: "Unknown", reason: "RouterNotConfigured", message: "berth serve runs without a router: start it with --caddy-admin URL or --caddy-managed" });
    await this.writeStatus(dom, { phase: "Pending", conditions: c }, ["certificate", "upstreams", "url"]);
    return {};
  }

  private async removeFinalizer(dom: ResourceObject): Promise<void> {
    await this.store.update("Domain", dom.metadata.namespace, dom.metadata.name, CONTROLLER, "remove-finalizer", (cur) => ({
      ...cur!,
      metadata: { ...cur!.metadata, finalizers: (cur!.metadata.finalizers ?? []).filter((f) => f !== ROUTE_FINALIZER) },
    }));
  }

  /** One status write; unchanged status is a no-op in the store (no new resourceVersion, no event). */
  private async writeStatus(dom: ResourceObject, fields: Record<string, unknown>, drop: string[] = []): Promise<void> {
    await this.store.update("Domain", dom.metadata.namespace, dom.metadata.name, CONTROLLER, "update-status", (cur) => {
      const status: Record<string, unknown> = { ...(cur!.status ?? {}), ...fields, observedGeneration: cur!.metadata.generation };
      for (const k of drop) if (!(k in fields)) delete status[k];
      return { ...cur!, status };
    });
  }
}

function certificateProblem(cert: ServedCertificate | undefined, issuer: "acme" | "internal"): string | undefined {
  if (!cert) return "waiting for Caddy to obtain a certificate (Caddy's log shows the CA's answers)";
  if (!cert.matchesHost) return `the certificate served (${cert.subject}) does not name the host yet`;
  if (cert.notAfter.getTime() <= Date.now()) return `the certificate served expired at ${cert.notAfter.toISOString()}`;
  if (issuer === "internal" && !issuedByCaddyLocalCa(cert)) return `waiting for a certificate from Caddy's local CA (serving one from ${cert.issuer})`;
  if (issuer === "acme" && issuedByCaddyLocalCa(cert)) return "waiting for the ACME certificate (still serving one from Caddy's local CA)";
  return undefined;
}

function portSuffix(tls: boolean, httpPort: number, httpsPort: number): string {
  if (tls) return httpsPort === 443 ? "" : `:${httpsPort}`;
  return httpPort === 80 ? "" : `:${httpPort}`;
}

function conds(o: ResourceObject): Condition[] {
  return ((o.status?.conditions as Condition[] | undefined) ?? []).slice();
}

/**
 * Keys of the Domains to reconcile when something else changes: an Application (its replicas,
 * endpoints or existence) wakes the Domains that target it; the managed Caddy container (kind
 * Router, e.g. restarted by Docker) wakes every Domain so the route table is loaded again.
 */
export function domainWatchMapper(store: ResourceStore, enqueueDomain: (k: ObjectKey) => void): (key: ObjectKey) => void {
  return (key) => {
    if (key.kind === "Application" && key.namespace) {
      void store.dataSource
        .query(`SELECT d.name FROM domains d JOIN projects p ON p.id = d.project_id WHERE p.name = $1 AND d.target_name = $2`, [key.namespace, key.name])
        .then((rows: { name: string }[]) => rows.forEach((r) => enqueueDomain({ kind: "Domain", namespace: key.namespace, name: r.name })))
        .catch(() => undefined);
    } else if (key.kind === "Router") {
      void store
        .list("Domain")
        .then(({ items }) => items.forEach((d) => enqueueDomain({ kind: "Domain", namespace: d.metadata.namespace, name: d.metadata.name })))
        .catch(() => undefined);
    }
  };
}

import { FINALIZER } from "../../core/kinds.js";
import type { DomainSpec } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import type { ReconcileContext } from "../../controller/controller.js";
import type { RouteEntry } from "../../router/caddy-config.js";
import { domainKey, type CaddyRouter } from "../../router/caddy-router.js";
import { probeCertificate, type ServedCertificate } from "../../router/certificates.js";
import type { CertificateStore } from "../../store/certificates.js";
import { fail } from "../shared/failures.js";
import { ObjectReconciler, type ObjectReconcilerDeps } from "../shared/object-reconciler.js";
import type { EventSpec, Outcome, Verdict } from "../shared/status.js";
import { domainStatusFor, type DomainObserved } from "./status.js";

export interface DomainDeps extends ObjectReconcilerDeps {
  /** Undefined when `berth serve` runs without a router: Domains report RouterNotConfigured. */
  router: CaddyRouter | undefined;
  certificates: CertificateStore;
}

/**
 * The Domain reconciler. Every pass asks the router for a sync — which rebuilds the whole route
 * table from all Domains and loads it atomically if it changed — then reports this Domain's part
 * of it: its target, its upstreams and, with TLS, the certificate Caddy actually serves.
 * Deleting a Domain (finalizer berth.dev/route) goes through one more sync without it, so the
 * object is gone only once its route is.
 */
/** How long a Domain's sync waits for a rollout's withdraw to share its Caddy load (CaddyRouter.sync). */
const ROUTE_SETTLE_MS = 50;

export class DomainReconciler extends ObjectReconciler<DomainObserved> {
  readonly kind = "Domain" as const;
  readonly finalizer = FINALIZER.route;

  constructor(private readonly d: DomainDeps) {
    super(d);
  }

  override async reconcile(key: Parameters<ObjectReconciler<DomainObserved>["reconcile"]>[0], ctx: ReconcileContext): ReturnType<ObjectReconciler<DomainObserved>["reconcile"]> {
    // Gone without our finalizer (e.g. created while no router was configured): drop its route.
    if (this.d.router && !(await this.d.store.getStored("Domain", key.namespace, key.name))) {
      await this.d.router.sync();
      return {};
    }
    return super.reconcile(key, ctx);
  }

  protected suspended(): boolean {
    // A suspended Domain is reconciled: its route is removed (the router leaves it out).
    return false;
  }

  statusFor(dom: ResourceObject, obs: Partial<DomainObserved>, outcome: Outcome): Verdict {
    return domainStatusFor(dom, obs, outcome);
  }

  protected async converge(dom: ResourceObject, obs: Partial<DomainObserved>): Promise<void> {
    const router = this.d.router;
    obs.routerConfigured = !!router;
    if (!router) return;
    obs.settings = { httpPort: router.settings.httpPort, httpsPort: router.settings.httpsPort };
    const key = domainKey(dom.metadata.namespace, dom.metadata.name);
    let entry: RouteEntry | undefined;
    try {
      // Written after a running sync read the store: the next sync (which starts after it) has it.
      entry = (await router.sync({ settleMs: ROUTE_SETTLE_MS })).entries.get(key) ?? (await router.sync()).entries.get(key);
    } catch (e) {
      fail("RouterUnavailable", (e as Error).message);
    }
    if (!entry) fail("RoutePending", "the route table does not have this Domain yet", { retryAfterMs: 1000 });
    obs.entry = entry;
    if (entry.state === "Routed" && entry.tls.enabled) await this.observeCertificate(dom, entry, obs);
  }

  private async observeCertificate(dom: ResourceObject, entry: RouteEntry, obs: Partial<DomainObserved>): Promise<void> {
    const s = this.d.router!.settings;
    const cert: ServedCertificate | undefined = await probeCertificate(s.probeHost, s.httpsPort, entry.host);
    obs.certificate = cert;
    obs.events = [];
    if (!cert) return;
    const isNew = await this.d.certificates.record(dom.metadata.uid!, cert).catch(() => false);
    if (isNew) obs.events.push(certificateEvent(cert));
  }

  protected async finalize(_dom: ResourceObject, ctx: ReconcileContext): Promise<boolean> {
    if (!this.d.router) return true;
    const r = await this.d.router.sync();
    ctx.logger.info("route removed", { loaded: r.loaded });
    return true;
  }
}

function certificateEvent(c: ServedCertificate): EventSpec {
  return { type: "Normal", reason: "CertificateReady", message: `serving a certificate from ${c.issuer}, valid until ${c.notAfter.toISOString()}` };
}

export type { DomainSpec };

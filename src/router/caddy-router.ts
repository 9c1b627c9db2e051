import type { Logger } from "winston";
import { parseDurationMs } from "../core/duration.js";
import type { ApplicationSpec, DomainSpec } from "../core/specs.js";
import type { ResourceObject } from "../core/types.js";
import type { ObservedContainer, RuntimeDriver } from "../runtime/driver.js";
import { LABEL } from "../runtime/labels.js";
import { publishedEndpoints, servingEndpoints } from "../runtime/serving.js";
import type { TrafficSwitch } from "../runtime/traffic.js";
import type { ResourceStore } from "../store/resources.js";
import { CaddyAdmin } from "./caddy-admin.js";
import { buildCaddyConfig, drainingOf, hashConfig, routedUpstreams, type CaddyConfig, type RouteEntry } from "./caddy-config.js";
import type { RouterSettings } from "./settings.js";

export type { DomainSpec };

/** What one sync did: the table it built (by Domain namespace/name) and whether it loaded it. */
export interface SyncResult {
  entries: Map<string, RouteEntry>;
  hash: string;
  loaded: boolean;
  /** Why it loaded: "changed", "caddy-diverged" (e.g. restarted empty) or "" when it did not. */
  reason: string;
}

function atLeast(duration: string | undefined, minMs: number, dflt: string): string {
  const ms = parseDurationMs(duration, parseDurationMs(dflt, minMs));
  return `${Math.max(ms, minMs) / 1000}s`;
}

export function domainKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

/**
 * The Domain's route from the store's Domains and Applications and the containers running now.
 * Its upstreams are the target's serving replicas on the target port: the same set the
 * Application reports in status.endpoints (servingEndpoints), withdrawn ones left out.
 */
export function routeEntry(domain: ResourceObject, app: ResourceObject | undefined, containers: ObservedContainer[], withdrawn: (id: string) => boolean = () => false): RouteEntry {
  const spec = domain.spec as unknown as DomainSpec;
  const base = routeBase(domain, spec);
  const target = `Application ${domain.metadata.namespace}/${spec.target.application}`;
  if (spec.suspend) return { ...base, state: "Suspended", message: "spec.suspend is true; the route is removed" };
  if (!app || app.metadata.deletionTimestamp) return { ...base, state: "TargetNotFound", message: `${target} ${app ? "is being deleted" : "does not exist"}` };
  const appSpec = (app.spec ?? {}) as ApplicationSpec;
  if (!(appSpec.ports ?? []).some((p) => p.containerPort === spec.target.port)) {
    return { ...base, state: "TargetPortNotExposed", message: `${target} has no port ${spec.target.port} in spec.ports` };
  }
  const upstreams = servingEndpoints(containers.filter((c) => c.labels[LABEL.ownerUid] === app.metadata.uid), withdrawn, spec.target.port);
  if (!upstreams.length) return { ...base, state: "NoReadyReplicas", message: `${target} has no ready replica serving port ${spec.target.port}` };
  const health = activeHealth(appSpec, spec.target.port);
  return { ...base, state: "Routed", message: `${upstreams.length} ready replica(s) of ${target}`, upstreams, ...(health ? { health } : {}) };
}

function routeBase(domain: ResourceObject, spec: DomainSpec): Omit<RouteEntry, "state" | "message"> {
  return {
    key: domainKey(domain.metadata.namespace, domain.metadata.name),
    uid: domain.metadata.uid!,
    host: spec.host,
    path: spec.path ?? "/",
    tls: { enabled: !!spec.tls && spec.tls.enabled !== false, issuer: spec.tls?.issuer ?? "acme" },
    upstreams: [],
  };
}

/**
 * Caddy's active check of the target port, from the Application's HTTP healthcheck on it. Every
 * route has its own checker in Caddy, so many Domains on one Application multiply the probes:
 * never more often than every 5 s (Docker's healthcheck already gates readiness).
 */
function activeHealth(appSpec: ApplicationSpec, port: number): RouteEntry["health"] {
  const hc = appSpec.healthcheck;
  if (!hc?.http || hc.http.port !== port) return undefined;
  return { uri: hc.http.path ?? "/", interval: atLeast(hc.interval, 5000, "10s"), timeout: atLeast(hc.timeout, 2000, "5s") };
}

/**
 * The router driver: the one writer of Caddy's configuration. Every sync rebuilds the complete
 * route table from all Domains in the store and loads it in one POST /load, or not at all when
 * Caddy already runs exactly that config (compared by hash with what GET /config/ reports, so a
 * Caddy restarted empty is reloaded on the next resync). Syncs are serialized in this process and
 * coalesced: a caller that arrives while one runs waits for the next, which starts after it and
 * so sees its change. Only the leader runs controllers, so there is one writer in the cluster.
 */
export class CaddyRouter implements TrafficSwitch {
  readonly admin: CaddyAdmin;
  /** Containers on their way out (container id → upstream addresses they had): never routed again. */
  private readonly withdrawn = new Map<string, string[]>();
  private running: Promise<SyncResult> | undefined;
  private pending: Promise<SyncResult> | undefined;
  private settling: { now: () => void; result: Promise<SyncResult> } | undefined;
  private lastLoadedHash: string | undefined;
  /** Loads done by this process (tests and metrics read it). */
  loads = 0;
  /** Caddy's config differed from what this process last loaded (e.g. Caddy restarted). */
  restores = 0;

  constructor(
    readonly settings: RouterSettings,
    private readonly store: ResourceStore,
    private readonly driver: RuntimeDriver,
    private readonly logger: Logger,
  ) {
    this.admin = new CaddyAdmin(settings.adminUrl);
  }

  isWithdrawn(containerId: string): boolean {
    return this.withdrawn.has(containerId);
  }

  /**
   * Takes containers out of every route before Berth stops them: marks them withdrawn, loads a
   * table without them (confirmed by Caddy's answer to POST /load; a sync already running when
   * they were marked may be the one that loads it), then waits until Caddy has no request in
   * flight to their addresses (at most `drainMs`), so a stop cuts off nobody.
   */
  async withdraw(containerIds: string[], drainMs = 5000): Promise<void> {
    const containers = await this.driver.listContainers({ [LABEL.kind]: "Application" });
    for (const id of containerIds) {
      const c = containers.find((x) => x.id === id);
      // Every address it publishes, ready or not: one that turned healthy a moment ago may have
      // been routed by a sync that read the table before this mark.
      this.withdrawn.set(id, c ? publishedEndpoints(c) : []);
    }
    await this.sync();
    const addresses = containerIds.flatMap((id) => this.withdrawn.get(id) ?? []);
    if (addresses.length) await this.drained(addresses, drainMs);
  }

  /**
   * Withdrawn containers that are gone: the drain route keeps nothing for them. A sync does the
   * rest (a load only when that is no bother to anyone, see onlyDrainShrinks); a Caddy that
   * cannot be reached now is brought up to date by the next sync, so it is no failure here.
   */
  async removed(containerIds: string[]): Promise<void> {
    for (const id of containerIds) this.withdrawn.delete(id);
    await this.sync().catch((e: Error) => this.logger.debug("sync after a withdrawn container was removed failed; the next one catches up", { error: e.message }));
  }

  /**
   * Until Caddy reports no request in flight to any of `addresses`, or the time is up. A count
   * Caddy could not give is no answer: the stop waits for a real 0, never for an error.
   */
  private async drained(addresses: string[], drainMs: number): Promise<void> {
    const deadline = Date.now() + drainMs;
    let last: string;
    for (;;) {
      const busy = await this.admin.upstreamRequests(addresses).catch((e: Error) => e);
      if (busy === 0) return;
      last = typeof busy === "number" ? `${busy} request(s) still in flight` : busy.message;
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    this.logger.warn("drain did not finish before the stop; the stop goes ahead", { addresses, drainMs, last });
  }

  /**
   * `settleMs`: a sync that may wait that long for company. Every load restarts Caddy's servers,
   * which closes idle client connections and can drop one arriving at that instant; when a
   * new replica turns healthy, the Domain's sync (it joins) and the rollout's withdraw of the
   * old one (it leaves) come a few milliseconds apart, and waiting lets them share one load.
   * A sync without it (a withdraw) starts a waiting one at once.
   */
  sync(opts: { settleMs?: number } = {}): Promise<SyncResult> {
    if (this.settling) {
      if (!opts.settleMs) this.settling.now();
      return this.settling.result;
    }
    if (this.pending) return this.pending;
    if (!this.running && opts.settleMs) return this.settle(opts.settleMs);
    if (!this.running) return this.startRun();
    const after = this.running.catch(() => undefined);
    this.pending = after.then(() => {
      this.pending = undefined;
      return this.running ?? this.startRun();
    });
    return this.pending;
  }

  private settle(ms: number): Promise<SyncResult> {
    let now!: () => void;
    const waited = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      now = (): void => (clearTimeout(timer), resolve());
    });
    const result = waited.then(() => {
      this.settling = undefined;
      return this.sync();
    });
    this.settling = { now, result };
    return result;
  }

  private startRun(): Promise<SyncResult> {
    const run = this.run().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }

  /** The route table now: Domains (not being deleted) with their targets' ready replicas. */
  async table(): Promise<RouteEntry[]> {
    const [{ items: domains }, { items: apps }] = await Promise.all([this.store.list("Domain", {}, true), this.store.list("Application", {}, true)]);
    const live = domains.filter((d) => !d.metadata.deletionTimestamp);
    const containers = live.length || this.withdrawn.size ? await this.driver.listContainers({ [LABEL.kind]: "Application" }) : [];
    // A withdrawn container that is gone has nothing left to leave.
    for (const id of this.withdrawn.keys()) if (!containers.some((c) => c.id === id)) this.withdrawn.delete(id);
    const byName = new Map(apps.map((a) => [domainKey(a.metadata.namespace, a.metadata.name), a]));
    const withdrawn = (id: string): boolean => this.withdrawn.has(id);
    return live.map((d) => routeEntry(d, byName.get(domainKey(d.metadata.namespace, (d.spec as unknown as DomainSpec).target.application)), containers, withdrawn));
  }

  private async run(): Promise<SyncResult> {
    const entries = await this.table();
    const current = await this.admin.getConfig();
    // A withdrawn address that the live config routes (or drains) must stay in the drain route
    // while its requests finish; one that was never routed needs nothing.
    const routed = routedUpstreams(current);
    const draining = [...new Set([...this.withdrawn.values()].flat())].filter((a) => routed.has(a)).sort();
    const desired: CaddyConfig = buildCaddyConfig(entries, this.settings, current, draining);
    const hash = hashConfig(desired);
    const liveHash = hashConfig(current);
    const result = { entries: new Map(entries.map((e) => [e.key, e])), hash };
    if (liveHash === hash || this.onlyDrainShrinks(entries, current, draining, liveHash)) {
      this.lastLoadedHash = liveHash;
      return { ...result, loaded: false, reason: "" };
    }
    const reason = hash === this.lastLoadedHash ? "caddy-diverged" : "changed";
    if (reason === "caddy-diverged") {
      this.restores++;
      this.logger.warn("Caddy's config is not the one Berth loaded (restarted or edited by hand); loading the route table again", { routes: entries.length });
    }
    await this.admin.load(desired);
    this.lastLoadedHash = hash;
    this.loads++;
    this.logger.info("route table loaded into Caddy", { routes: entries.length, hash: hash.slice(0, 12), reason });
    return { ...result, loaded: true, reason };
  }

  /**
   * The live config differs only by drain upstreams of containers that are gone: no traffic
   * can use them, so that alone is no reason for a reload (each reload closes idle client
   * connections); the next real change drops them. With no Domain left there is no client to
   * disturb, so the leftovers go at once and a deleted Project leaves nothing behind.
   */
  private onlyDrainShrinks(entries: RouteEntry[], current: CaddyConfig, draining: string[], liveHash: string): boolean {
    if (entries.length === 0) return false;
    const live = drainingOf(current);
    if (!draining.every((d) => live.includes(d))) return false;
    return hashConfig(buildCaddyConfig(entries, this.settings, current, live)) === liveHash;
  }

}

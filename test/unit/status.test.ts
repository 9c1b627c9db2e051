import { expect } from "chai";
import type { Condition } from "../../src/core/conditions.js";
import type { ResourceObject } from "../../src/core/types.js";
import { applicationStatusFor, type AppObserved } from "../../src/reconcilers/application/status.js";
import { databaseStatusFor, type DatabaseObserved } from "../../src/reconcilers/database/status.js";
import { domainStatusFor, type DomainObserved } from "../../src/reconcilers/domain/status.js";
import { projectStatusFor } from "../../src/reconcilers/project/reconciler.js";
import type { Failure } from "../../src/reconcilers/shared/failures.js";
import type { Outcome } from "../../src/reconcilers/shared/status.js";
import type { ObservedContainer } from "../../src/runtime/driver.js";

const AT = "2026-12-01T00:00:00Z";
const H = "aaaa000011112222";
const OLD = "bbbb000011112222";

function c(replica: number, hash: string, opts: Partial<ObservedContainer> = {}): ObservedContainer {
  return { id: `id-${replica}-${hash.slice(0, 4)}-${opts.name ?? ""}`, name: opts.name ?? `shop-web-${replica}`, labels: { "berth.dev/replica": String(replica), "berth.dev/config-hash": hash }, state: "running", health: "healthy", ports: [{ containerPort: 8080, hostIp: "127.0.0.1", hostPort: 40000 + replica + (hash === OLD ? 100 : 0) }], created: 1, ...opts };
}

function obj(kind: string, spec: Record<string, unknown>, status: Record<string, unknown> = {}, generation = 2): ResourceObject {
  return { apiVersion: "berth.dev/v1alpha1", kind, metadata: { name: kind === "Database" ? "pg" : "web", namespace: "shop", uid: "u1", generation }, spec, status };
}

const cond = (conds: unknown, type: string): Condition | undefined => (conds as Condition[]).find((x) => x.type === type);
const types = (conds: unknown): string[] => (conds as Condition[]).map((x) => `${x.type}=${x.status}/${x.reason}`);
const appSpec = { source: { image: "x" }, replicas: 3 };
const fail = (reason: string, terminal = false): Failure => ({ reason, message: `${reason} happened`, terminal, retryAfterMs: terminal ? undefined : 1000 });

interface AppCase {
  title: string;
  observed: Partial<AppObserved>;
  outcome?: Outcome;
  spec?: Record<string, unknown>;
  prev?: Record<string, unknown>;
  expect: { conditions: string[]; fields?: Record<string, unknown>; events?: string[]; requeue?: number | undefined };
}

const base = (containers: ObservedContainer[], more: Partial<AppObserved> = {}): Partial<AppObserved> => ({ hash: H, desired: 3, containers, withdrawn: [], plan: { steps: [], waiting: [] }, rollout: { state: "in-time" }, events: [], ...more });

const APP_CASES: AppCase[] = [
  {
    title: "all replicas current and ready",
    observed: base([c(0, H), c(1, H), c(2, H)]),
    expect: {
      conditions: ["Ready=True/ReplicasReady", "Progressing=False/RolloutComplete", "Degraded=False/AsExpected"],
      fields: { phase: "running", replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 0, readySummary: "3/3", endpoints: ["127.0.0.1:40000", "127.0.0.1:40001", "127.0.0.1:40002"] },
      events: ["Normal Ready"],
      requeue: undefined,
    },
  },
  {
    title: "mid rolling update: three old serving, one new starting — counts as a Deployment's, endpoints are the serving ones",
    observed: base([c(0, OLD, { name: "shop-web-0-old-bbbb0000" }), c(0, H, { health: "starting" }), c(1, OLD), c(2, OLD)], { plan: { steps: [], waiting: ["replica 0: new container shop-web-0 is not ready yet"] } }),
    expect: {
      conditions: ["Ready=False/RollingUpdate", "Reconciling=True/RollingUpdate", "Progressing=True/RollingUpdate", "Degraded=False/AsExpected"],
      fields: { phase: "deploying", replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 0, readySummary: "3/3", endpoints: ["127.0.0.1:40100", "127.0.0.1:40101", "127.0.0.1:40102"] },
      events: [],
      requeue: 1000,
    },
  },
  {
    title: "a withdrawn container still runs but no longer serves",
    observed: base([c(0, H), c(1, H), c(2, H), c(3, H)], { desired: 3, withdrawn: ["id-3-aaaa-"] }),
    expect: { conditions: ["Ready=False/Scaling", "Reconciling=True/Scaling", "Progressing=True/Scaling", "Degraded=False/AsExpected"], fields: { readyReplicas: 4, availableReplicas: 3, endpoints: ["127.0.0.1:40000", "127.0.0.1:40001", "127.0.0.1:40002"] } },
  },
  {
    title: "a replica crashed: Degraded, not Ready",
    observed: base([c(0, H), c(1, H, { state: "exited", health: "none" }), c(2, H)]),
    expect: { conditions: ["Ready=False/ReplicasNotReady", "Reconciling=True/ReplicasNotReady", "Progressing=True/ReplicasNotReady", "Degraded=True/ReplicaUnhealthy"], fields: { readyReplicas: 2, availableReplicas: 2, unavailableReplicas: 1, readySummary: "2/3" } },
  },
  {
    title: "a failure that waits on something outside (NameConflict): Reconciling, a Warning, counts still true",
    observed: base([c(1, H), c(2, H)]),
    outcome: { failure: fail("NameConflict") },
    expect: { conditions: ["Ready=False/NameConflict", "Reconciling=True/RetryingAfterFailure", "Degraded=False/AsExpected"], fields: { phase: "failed", replicas: 2, readyReplicas: 2 }, events: ["Warning NameConflict"] },
  },
  {
    title: "a terminal failure (InvalidSpec): Stalled",
    observed: base([]),
    outcome: { failure: fail("InvalidSpec", true) },
    expect: { conditions: ["Ready=False/InvalidSpec", "Stalled=True/InvalidSpec", "Degraded=False/AsExpected"], events: ["Warning InvalidSpec"] },
  },
  {
    title: "the same failure as last time: no new event",
    observed: base([]),
    outcome: { failure: fail("PortConflict") },
    prev: { conditions: [{ type: "Ready", status: "False", reason: "PortConflict", message: "PortConflict happened", lastTransitionTime: AT }] },
    expect: { conditions: ["Ready=False/PortConflict", "Reconciling=True/RetryingAfterFailure", "Degraded=False/AsExpected"], events: [] },
  },
  {
    title: "a failure before anything was observed keeps the last known counts",
    observed: {},
    outcome: { failure: fail("DockerUnavailable") },
    prev: { replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, endpoints: ["127.0.0.1:1"], configHash: H },
    expect: { conditions: ["Ready=False/DockerUnavailable", "Reconciling=True/RetryingAfterFailure"], fields: { readyReplicas: 3, endpoints: ["127.0.0.1:1"], configHash: H } },
  },
  {
    title: "progress deadline exceeded, nothing to roll back to: Stalled",
    observed: base([c(0, OLD), c(0, H, { name: "n", health: "unhealthy" }), c(1, OLD), c(2, OLD)], { rollout: { state: "failed", message: "revision 2 did not become ready within 10s" } }),
    expect: { conditions: ["Ready=False/RolloutFailed", "Stalled=True/ProgressDeadlineExceeded", "Progressing=False/ProgressDeadlineExceeded", "Degraded=True/ReplicaUnhealthy"], fields: { phase: "failed" }, requeue: undefined },
  },
  {
    title: "scaled to zero",
    spec: { source: { image: "x" }, replicas: 0 },
    observed: base([], { desired: 0 }),
    expect: { conditions: ["Ready=True/ScaledToZero", "Progressing=False/RolloutComplete", "Degraded=False/AsExpected"], fields: { phase: "stopped", readySummary: "0/0" } },
  },
  {
    title: "suspended",
    observed: {},
    outcome: { suspended: true },
    // Nothing to wait for: it is woken by the next spec change (issue 14: 500 suspended
    // Applications requeued every second kept the server busy).
    expect: { conditions: ["Ready=Unknown/Suspended"], fields: { phase: "stopped" }, requeue: undefined },
  },
];

describe("statusFor (pure, table-tested)", () => {
  describe("Application", () => {
    for (const k of APP_CASES) {
      it(k.title, () => {
        const app = obj("Application", k.spec ?? appSpec, k.prev ?? {});
        const v = applicationStatusFor(app, k.observed, k.outcome ?? {}, AT);
        expect(types(v.status.conditions)).to.deep.equal(k.expect.conditions);
        for (const x of v.status.conditions as Condition[]) expect(x.observedGeneration, x.type).to.equal(2);
        expect(v.status.observedGeneration).to.equal(2);
        if (k.expect.fields) expect(v.status).to.deep.include(k.expect.fields);
        if (k.expect.events) expect(v.events.map((e) => `${e.type} ${e.reason}`)).to.deep.equal(k.expect.events);
        if ("requeue" in k.expect) expect(v.requeueAfter).to.equal(k.expect.requeue);
        // Pure: the same inputs give the same verdict.
        expect(applicationStatusFor(app, k.observed, k.outcome ?? {}, AT)).to.deep.equal(v);
      });
    }

    it("keeps lastTransitionTime when a condition's status did not change", () => {
      const prev = { conditions: [{ type: "Ready", status: "True", reason: "ReplicasReady", message: "3/3 replicas ready", lastTransitionTime: "2020-01-01T00:00:00Z", observedGeneration: 1 }] };
      const v = applicationStatusFor(obj("Application", appSpec, prev), base([c(0, H), c(1, H), c(2, H)]), {}, AT);
      expect(cond(v.status.conditions, "Ready")!.lastTransitionTime).to.equal("2020-01-01T00:00:00Z");
      expect(v.events).to.deep.equal([]);
    });
  });

  describe("Database", () => {
    const dbSpec = { engine: "postgresql", version: "16" };
    const creds = { engine: "postgresql" as const, username: "u", password: "S3cret-password", database: "d" };
    const dbc = (state = "running"): ObservedContainer => ({ ...c(0, H, { name: "shop-pg-0", state }), ports: [{ containerPort: 5432, hostIp: "127.0.0.1", hostPort: 45432 }] });
    const o = (containers: ObservedContainer[], probe?: string): Partial<DatabaseObserved> => ({ image: "postgres:16", hash: H, credentials: creds, containers, probe, lastBackup: undefined, events: [] });
    const cases: [string, Partial<DatabaseObserved>, Outcome, Record<string, unknown>, string[]][] = [
      ["answers its readiness query", o([dbc()]), {}, { dbSpec }, ["Ready=True/EngineReady", "Progressing=False/Ready", "Degraded=False/AsExpected"]],
      ["running but not answering yet", o([dbc()], "connection refused"), {}, { dbSpec }, ["Ready=False/Initializing", "Reconciling=True/Initializing", "Progressing=True/Initializing", "Degraded=False/AsExpected"]],
      ["suspended", o([dbc("exited")]), {}, { dbSpec: { ...dbSpec, suspend: true } }, ["Ready=False/Suspended", "Progressing=False/Suspended", "Degraded=False/AsExpected"]],
      ["the engine changed (terminal)", {}, { failure: fail("EngineChangeNotSupported", true) }, { dbSpec }, ["Ready=False/EngineChangeNotSupported", "Stalled=True/EngineChangeNotSupported"]],
    ];
    for (const [title, observed, outcome, { dbSpec: spec }, expected] of cases) {
      it(title, () => {
        const v = databaseStatusFor(obj("Database", spec as Record<string, unknown>), observed, outcome, AT);
        expect(types(v.status.conditions)).to.deep.equal(expected);
        expect(JSON.stringify(v.status)).to.not.contain(creds.password);
      });
    }

    it("publishes where it answers, with the password redacted from the connection string", () => {
      const v = databaseStatusFor(obj("Database", dbSpec), o([dbc()]), {}, AT);
      expect(v.status).to.deep.include({ phase: "running", host: "shop-pg-0", endpoint: "shop-pg-0:5432", publishedEndpoint: "127.0.0.1:45432", connectionString: "postgresql://u:<redacted>@shop-pg-0:5432/d" });
    });
  });

  describe("Domain and Project", () => {
    const entry = (state: string, more: Record<string, unknown> = {}): DomainObserved["entry"] => ({ key: "shop/web", uid: "u1", host: "web.test", path: "/", tls: { enabled: false, issuer: "acme" }, state: state as never, message: "3 ready replica(s) of Application shop/web", upstreams: ["127.0.0.1:1"], ...more });
    const settings = { httpPort: 8080, httpsPort: 8443 };
    it("routed over HTTP: Ready, with its URL and upstreams", () => {
      const v = domainStatusFor(obj("Domain", {}), { routerConfigured: true, settings, entry: entry("Routed"), events: [] }, {}, AT);
      expect(types(v.status.conditions)).to.deep.equal(["Ready=True/Routed"]);
      expect(v.status).to.deep.include({ phase: "Active", url: "http://web.test:8080/", upstreams: ["127.0.0.1:1"] });
      expect(v.events.map((e) => e.reason)).to.deep.equal(["Routed"]);
    });
    it("target missing: Ready=False, Reconciling, a Warning", () => {
      const v = domainStatusFor(obj("Domain", {}), { routerConfigured: true, settings, entry: entry("TargetNotFound", { upstreams: [], message: "Application shop/web does not exist" }), events: [] }, {}, AT);
      expect(types(v.status.conditions)).to.deep.equal(["Ready=False/TargetNotFound", "Reconciling=True/TargetNotFound"]);
      expect(v.events.map((e) => `${e.type} ${e.reason}`)).to.deep.equal(["Warning TargetNotFound"]);
    });
    it("TLS without a certificate yet: CertificatePending, polled", () => {
      const v = domainStatusFor(obj("Domain", {}), { routerConfigured: true, settings, entry: entry("Routed", { tls: { enabled: true, issuer: "internal" } }), certificate: undefined, events: [] }, {}, AT);
      expect(types(v.status.conditions)).to.deep.equal(["Ready=False/CertificatePending", "Reconciling=True/CertificatePending"]);
      expect(v.requeueAfter).to.equal(2000);
    });
    it("no router configured", () => {
      const v = domainStatusFor(obj("Domain", {}), { routerConfigured: false }, {}, AT);
      expect(types(v.status.conditions)).to.deep.equal(["Ready=Unknown/RouterNotConfigured"]);
    });
    it("Project: its network, or why not", () => {
      expect(types(projectStatusFor(obj("Project", {}), { network: "berth-shop" }, {}, AT).status.conditions)).to.deep.equal(["Ready=True/NetworkReady"]);
      expect(types(projectStatusFor(obj("Project", {}), {}, { failure: fail("DockerUnavailable") }, AT).status.conditions)).to.deep.equal(["Ready=False/DockerUnavailable", "Reconciling=True/RetryingAfterFailure"]);
    });
  });
});

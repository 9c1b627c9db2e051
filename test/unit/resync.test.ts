import { expect } from "chai";
import type { ObjectKey } from "../../src/controller/controller.js";
import { ResyncSource } from "../../src/controller/sources.js";
import { applicationSettled } from "../../src/reconcilers/application/settled.js";
import type { ObservedContainer } from "../../src/runtime/driver.js";
import { LABEL } from "../../src/runtime/labels.js";
import type { ResourceStore } from "../../src/store/resources.js";
import type { ResourceObject } from "../../src/core/types.js";

function app(name: string, over: { replicas?: number; generation?: number; observed?: number; ready?: "True" | "False"; readyReplicas?: number; hash?: string; suspend?: boolean; deleting?: boolean; reason?: string } = {}): ResourceObject {
  const replicas = over.replicas ?? 2;
  return {
    apiVersion: "berth.dev/v1alpha1",
    kind: "Application",
    metadata: { name, namespace: "shop", uid: `uid-${name}`, generation: over.generation ?? 3, finalizers: ["berth.dev/runtime"], ...(over.deleting ? { deletionTimestamp: "2026-11-26T00:00:00Z" } : {}) },
    spec: { replicas, suspend: over.suspend },
    status: {
      observedGeneration: over.observed ?? 3,
      configHash: over.hash ?? "h1",
      readyReplicas: over.readyReplicas ?? replicas,
      conditions: [{ type: "Ready", status: over.ready ?? "True", reason: over.reason ?? "Available", message: "", lastTransitionTime: "2026-11-26T00:00:00Z" }],
    },
  };
}

function container(owner: string, replica: number, over: Partial<ObservedContainer> & { hash?: string } = {}): ObservedContainer {
  return {
    id: `${owner}-${replica}`,
    name: `shop-${owner}-${replica}`,
    labels: { [LABEL.ownerUid]: `uid-${owner}`, [LABEL.replica]: String(replica), [LABEL.configHash]: over.hash ?? "h1" },
    state: over.state ?? "running",
    health: over.health ?? "healthy",
    ports: [],
    created: 0,
  };
}

describe("resync", () => {
  describe("an Application is settled (a light pass may skip it)", () => {
    const cases: [string, ResourceObject, ObservedContainer[], boolean][] = [
      ["Ready, current hash, every replica running and healthy", app("web"), [container("web", 0), container("web", 1)], true],
      ["no healthcheck (health none) counts as running", app("web"), [container("web", 0, { health: "none" }), container("web", 1, { health: "none" })], true],
      ["a replica is missing (removed without an event reaching us)", app("web"), [container("web", 0)], false],
      ["an extra replica runs", app("web"), [container("web", 0), container("web", 1), container("web", 2)], false],
      ["two containers claim one replica", app("web"), [container("web", 0), container("web", 0)], false],
      ["a replica is stopped", app("web"), [container("web", 0), container("web", 1, { state: "exited" })], false],
      ["a replica is unhealthy", app("web"), [container("web", 0), container("web", 1, { health: "unhealthy" })], false],
      ["a replica is still starting", app("web"), [container("web", 0), container("web", 1, { health: "starting" })], false],
      ["a replica runs another config hash", app("web"), [container("web", 0), container("web", 1, { hash: "h0" })], false],
      ["the spec changed since the last reconcile", app("web", { generation: 4 }), [container("web", 0), container("web", 1)], false],
      ["the status is not Ready", app("web", { ready: "False" }), [container("web", 0), container("web", 1)], false],
      ["status counts fewer ready replicas", app("web", { readyReplicas: 1 }), [container("web", 0), container("web", 1)], false],
      ["being deleted", app("web", { deleting: true }), [container("web", 0), container("web", 1)], false],
      ["scaled to zero and nothing runs", app("web", { replicas: 0 }), [], true],
      ["suspended and the status says so", app("web", { suspend: true, reason: "Suspended", ready: "False" }), [], true],
      ["suspended but the status does not say so yet", app("web", { suspend: true }), [container("web", 0), container("web", 1)], false],
    ];
    for (const [title, object, containers, expected] of cases) {
      it(`${expected ? "skips" : "reconciles"}: ${title}`, () => {
        expect(applicationSettled(object, containers)).to.equal(expected);
      });
    }
  });

  describe("passes", () => {
    function source(objects: ResourceObject[], containers: ObservedContainer[] | Error, fullPeriodMs: number): { source: ResyncSource; queued: ObjectKey[]; swept: number[] } {
      const queued: ObjectKey[] = [];
      const swept: number[] = [];
      const store = { list: async (kind: string) => ({ items: objects.filter((o) => o.kind === kind) }) } as unknown as ResourceStore;
      const observe = async (): Promise<ObservedContainer[]> => {
        if (containers instanceof Error) throw containers;
        return containers;
      };
      const s = new ResyncSource(store, (e) => queued.push(e.key), { kinds: ["Project", "Database", "Application", "Domain"], periodMs: 1000, fullPeriodMs, observe, settled: { Application: applicationSettled }, onPass: async (c) => void swept.push(c.length) });
      return { source: s, queued, swept };
    }
    const project: ResourceObject = { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "shop", uid: "uid-shop" } };

    it("the first pass is full; later light passes queue only what the list contradicts", async () => {
      const objects = [project, app("a"), app("b"), app("c")];
      const running = [container("a", 0), container("a", 1), container("b", 0), container("b", 1), container("c", 0)];
      const { source: s, queued, swept } = source(objects, running, 60_000);
      expect(await s.pass()).to.deep.equal({ queued: 4, full: true });
      queued.length = 0;
      expect(await s.pass()).to.deep.equal({ queued: 2, full: false });
      expect(queued.map((k) => `${k.kind}/${k.name}`)).to.deep.equal(["Project/shop", "Application/c"]);
      expect(swept).to.deep.equal([5, 5]);
    });

    it("a pass after the full period queues everything again", async () => {
      const { source: s } = source([project, app("a")], [container("a", 0), container("a", 1)], 0);
      expect(await s.pass()).to.deep.equal({ queued: 2, full: true });
      expect(await s.pass()).to.deep.equal({ queued: 2, full: true });
    });

    it("when Docker cannot be listed, every object is queued and nothing is swept", async () => {
      const { source: s, swept } = source([project, app("a")], new Error("connect ENOENT /var/run/docker.sock"), 60_000);
      await s.pass();
      expect(await s.pass()).to.deep.equal({ queued: 2, full: true });
      expect(swept).to.deep.equal([]);
    });
  });
});

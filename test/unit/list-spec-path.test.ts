import { expect } from "chai";
import { unitStore, type UnitStore } from "../helpers/unit-store.js";

const P = "specpath";
const ADMIN = { user: "admin" };

function app(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace: P }, spec: { source: { image: "berth-test/busybox:1" }, replicas: 1, ...spec } };
}

describe("narrow lists for pollers: ListOptions.specPath filters in SQL (store/list-pages.ts)", function () {
  this.timeout(20_000);
  let u: UnitStore;

  before(async () => {
    u = await unitStore();
    await u.reset();
    await u.stores.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} }, ADMIN);
    const job = { name: "tick", schedule: "*/5 * * * *", command: ["true"] };
    await u.stores.resources.create(app("plain", {}) as never, ADMIN);
    await u.stores.resources.create(app("no-jobs", { jobs: [] }) as never, ADMIN);
    await u.stores.resources.create(app("with-job", { jobs: [job] }) as never, ADMIN);
    await u.stores.resources.create(app("vol-backup", { volumes: [{ name: "data", mountPath: "/d", backup: { schedule: "0 3 * * *" } }] }) as never, ADMIN);
    await u.stores.resources.create(app("vol-plain", { volumes: [{ name: "data", mountPath: "/d" }] }) as never, ADMIN);
  });

  const names = async (specPath: string, limit?: number): Promise<string[]> =>
    (await u.stores.resources.list("Application", { specPath, ...(limit ? { limit } : {}) }, true)).items.map((o) => o.metadata.name);

  it("the job scheduler's path reads only Applications with at least one job", async () => {
    expect(await names("$.jobs[*]")).to.deep.equal(["with-job"]);
  });

  it("the volume backup worker's path reads only Applications with a scheduled volume backup", async () => {
    expect(await names("$.volumes[*].backup.schedule")).to.deep.equal(["vol-backup"]);
  });

  it("the backup worker's path reads only Databases with a backup schedule", async () => {
    const db = (name: string, spec: Record<string, unknown>): never => ({ apiVersion: "berth.dev/v1alpha1", kind: "Database", metadata: { name, namespace: P }, spec: { engine: "postgresql", version: "15", ...spec } }) as never;
    await u.stores.resources.create(db("nightly", { backup: { schedule: "0 3 * * *", retention: 7 } }), ADMIN);
    await u.stores.resources.create(db("manual", { backup: { retention: 3 } }), ADMIN);
    await u.stores.resources.create(db("none", {}), ADMIN);
    const found = (await u.stores.resources.list("Database", { specPath: "$.backup.schedule" }, true)).items.map((o) => o.metadata.name);
    expect(found).to.deep.equal(["nightly"]);
  });

  it("a paged list honours it too; without it everything is listed", async () => {
    expect(await names("$.volumes[*]", 1)).to.deep.equal(["vol-backup"]);
    expect((await u.stores.resources.list("Application", {}, true)).items).to.have.length(5);
  });
});

/**
 * More Projects than the engine's default address pools hold (31 bridge networks): once the
 * engine refuses, Berth gives a Project's network a /24 of its own pool (src/runtime/subnets.ts).
 * The test fills the engine's pools with networks of its own, then creates Projects.
 */
import { expect } from "chai";
import { call, startTestBerth } from "./helpers/berth.js";
import { cleanupProject, docker, requireDocker, waitFor } from "./helpers/docker.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const FILLER = `pool-filler-${process.pid}`;
const PROJECTS = ["pool-a", "pool-b", "pool-c"].map((p) => `${p}-${process.pid}`);

async function fillEnginePools(): Promise<number> {
  for (let i = 0; i < 64; i++) {
    try {
      await docker.createNetwork({ Name: `${FILLER}-${i}`, Driver: "bridge", Labels: { "test.berth.dev/filler": FILLER } });
    } catch (e) {
      if (/non-overlapping IPv4 address pool/.test((e as Error).message)) return i;
      throw e;
    }
  }
  throw new Error("the engine never ran out of address pools in 64 networks");
}

async function removeFillers(): Promise<void> {
  const nets = await docker.listNetworks({ filters: { label: [`test.berth.dev/filler=${FILLER}`] } });
  await Promise.all(nets.map((n) => docker.getNetwork(n.Id).remove().catch(() => undefined)));
}

describe("Project networks beyond the engine's default address pools", function () {
  this.timeout(180_000);
  let berth: TestBerth;

  before(async function () {
    await requireDocker(this);
    berth = await startTestBerth({ controllers: true, resyncMs: 3000 });
  });

  after(async () => {
    await berth?.cleanup();
    for (const p of PROJECTS) await cleanupProject(p).catch(() => undefined);
    await removeFillers();
  });

  it("with the engine's pools used up, three new Projects become Ready on distinct /24s of Berth's pool", async () => {
    const filled = await fillEnginePools();
    try {
      expect(filled, "networks the engine made before refusing").to.be.greaterThan(0);
      for (const name of PROJECTS) expect((await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name }, spec: {} })).status).to.equal(201);
      for (const name of PROJECTS) {
        await waitFor(`${name} Ready`, async () => (await call(berth, "GET", `${G}/projects/${name}`)).body.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"), 60_000, 250);
      }
      const subnets = await Promise.all(PROJECTS.map(async (p) => (await docker.getNetwork(`berth-${p}`).inspect()).IPAM?.Config?.[0]?.Subnet as string));
      for (const s of subnets) expect(s).to.match(/^172\.16\.\d+\.0\/24$/);
      expect(new Set(subnets).size, "distinct subnets").to.equal(PROJECTS.length);
    } finally {
      await removeFillers();
    }
  });
});

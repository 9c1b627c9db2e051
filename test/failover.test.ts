import { expect } from "chai";
import { randomBytes } from "node:crypto";
import type { ContainerInfo } from "dockerode";
import { SessionLock } from "../src/store/session-lock.js";
import { call, killServes, removeDir, spawnServe, type ServeProcess } from "./helpers/berth.js";
import { BUSYBOX_IMAGE, cleanupProject, docker, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";
import { startSystemPostgres, type TestPostgres } from "./helpers/postgres.js";

/**
 * Issue 18's failover: three `berth serve` processes on the machine's Postgres 15. The leader is
 * killed with SIGKILL in the middle of a rolling update, then the next one is frozen with SIGSTOP
 * (a hung process keeps its TCP session, so only the lease frees the lock). Takeover times are
 * printed; docs/benchmarks.md §13 records them.
 */
const G = "/apis/berth.dev/v1alpha1";
const LEASE_SECONDS = 10;
const TAKEOVER_TARGET_MS = 15_000;

function webApp(project: string, version: string, replicas = 3): Record<string, unknown> {
  return {
    apiVersion: "berth.dev/v1alpha1",
    kind: "Application",
    metadata: { name: "web", namespace: project },
    spec: {
      source: { image: BUSYBOX_IMAGE },
      replicas,
      command: ["httpd", "-f", "-p", "8080", "-h", "/www"],
      env: { VERSION: version },
      ports: [{ containerPort: 8080 }],
      healthcheck: { http: { path: "/health", port: 8080 }, interval: "1s", timeout: "3s", retries: 3 },
      strategy: { type: "RollingUpdate", maxSurge: 1, maxUnavailable: 0 },
    },
  };
}

/** 1 or 0 from `leader_election_master_status{name="berth"}`; undefined when the server does not answer. */
async function leaderGauge(server: ServeProcess): Promise<number | undefined> {
  const m = await Promise.race([call(server, "GET", "/metrics"), new Promise<undefined>((r) => setTimeout(r, 2000))]).catch(() => undefined);
  const found = m?.text.match(/^leader_election_master_status\{name="berth"\} (\d+)/m);
  return found ? Number(found[1]) : undefined;
}

async function containersOf(project: string): Promise<ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`berth.dev/project=${project}`] } });
}

async function appOf(server: ServeProcess, project: string): Promise<any> {
  return (await call(server, "GET", `${G}/namespaces/${project}/applications/web`)).body;
}

/** Ready on the latest generation with every replica up. */
async function converged(server: ServeProcess, project: string, replicas: number): Promise<boolean> {
  const o = await appOf(server, project);
  const ready = o.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");
  return ready && o.status?.observedGeneration === o.metadata.generation && o.status?.readyReplicas === replicas;
}

/** Polls the candidates until one reports itself leader; the time from `since` to then. */
async function takeover(candidates: ServeProcess[], since: number): Promise<{ leader: ServeProcess; ms: number }> {
  for (;;) {
    for (const s of candidates) if ((await leaderGauge(s)) === 1) return { leader: s, ms: performance.now() - since };
    if (performance.now() - since > 60_000) throw new Error("no candidate took over within 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("controller failover: the leader killed mid-rollout, the next one frozen", function () {
  this.timeout(300_000);
  let pg: TestPostgres;
  const project = `failover-${process.pid}`;
  const servers: ServeProcess[] = [];
  const env = { BERTH_SECRET_KEY: randomBytes(32).toString("hex"), BERTH_RESYNC_SECONDS: "5", BERTH_LEADER_LEASE_SECONDS: String(LEASE_SECONDS), BERTH_LEADER_POLL_MS: "1000" };

  before(async function () {
    await requireDocker(this);
    await ensureBusyboxImage();
    pg = await startSystemPostgres();
  });

  after(async () => {
    await killServes(servers);
    await cleanupProject(project).catch(() => undefined);
    await pg?.stop();
  });

  it("the lock's session carries the lease: a silent holder loses it after the lease, a renewing one keeps it", async () => {
    const key = String(Date.now());
    const lease = { leaseMs: 1500, roundTripMs: 500 };
    const silent = new SessionLock(pg.url, key, () => undefined, lease);
    const renewing = new SessionLock(pg.url, `${key}1`, () => undefined, lease);
    const other = new SessionLock(pg.url, key, () => undefined, lease);
    const rival = new SessionLock(pg.url, `${key}1`, () => undefined, lease);
    try {
      expect(await silent.tryAcquire()).to.equal(true);
      expect(await silent.holds()).to.equal(true);
      expect(await other.tryAcquire()).to.equal(false);
      expect(await other.holds(), "holds() tells a live session without the lock").to.equal(false);
      expect(await renewing.tryAcquire()).to.equal(true);
      const start = performance.now();
      let freedAfter = 0;
      while (performance.now() - start < 4000) {
        expect(await renewing.holds(), "a renewing holder keeps the lock").to.equal(true);
        expect(await rival.tryAcquire(), "nobody takes a renewed lock").to.equal(false);
        if (!freedAfter && (await other.tryAcquire())) freedAfter = performance.now() - start;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(silent.leaseEnforced).to.equal(true);
      expect(freedAfter, "the silent holder's lock freed after the lease").to.be.within(1000, 3000);
      const err = await silent.holds().then(() => undefined, (e: Error) => e);
      expect(err, "the silent holder's session was ended by the server").to.be.instanceOf(Error);
    } finally {
      for (const l of [silent, renewing, other, rival]) await l.close();
    }
  });

  it("SIGKILL of the leader in the middle of a rolling update: another process takes over and finishes it, no duplicates, no orphans", async () => {
    for (let i = 0; i < 3; i++) servers.push(await spawnServe({ databaseUrl: pg.url, env }));
    const items = [{ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: project }, spec: {} }, webApp(project, "1")];
    expect((await call(servers[1], "POST", "/berth/v1/apply", { items })).status).to.equal(200);
    await waitFor("3 replicas Ready", async () => converged(servers[1], project, 3), 120_000, 250);
    const gauges = await Promise.all(servers.map(leaderGauge));
    expect(gauges.filter((g) => g === 1), `exactly one leader among ${JSON.stringify(gauges)}`).to.have.length(1);
    const leader = servers[gauges.indexOf(1)];
    const survivors = servers.filter((s) => s !== leader);
    const before = await containersOf(project);
    const oldHashes = new Set(before.map((c) => c.Labels["berth.dev/config-hash"]));
    expect(before).to.have.length(3);

    const r = await call(survivors[0], "PATCH", `${G}/namespaces/${project}/applications/web`, { spec: { env: { VERSION: "2" } } }, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
    const midway = await waitFor("a new-revision container while old ones still run", async () => {
      const now = await containersOf(project);
      const fresh = now.filter((c) => !oldHashes.has(c.Labels["berth.dev/config-hash"]));
      return fresh.length >= 1 && now.length - fresh.length >= 2 ? { fresh: fresh.length, old: now.length - fresh.length } : undefined;
    }, 60_000, 20);
    await leader.stop("SIGKILL");
    const killedAt = performance.now();

    const next = await takeover(survivors, killedAt);
    await waitFor("the rollout finished by the new leader", async () => converged(next.leader, project, 3), 120_000, 100);
    const finishedMs = performance.now() - killedAt;
    console.log(`      killed with ${midway.fresh} new and ${midway.old} old containers; takeover ${(next.ms / 1000).toFixed(2)} s, rollout finished ${(finishedMs / 1000).toFixed(2)} s after the kill (lease ${LEASE_SECONDS} s, poll 1 s)`);

    const final = await containersOf(project);
    const uid = (await appOf(next.leader, project)).metadata.uid;
    expect(final, "no duplicates and no orphans: exactly the 3 declared replicas").to.have.length(3);
    expect(new Set(final.map((c) => c.Names[0])).size).to.equal(3);
    expect(final.every((c) => c.State === "running" && c.Labels["berth.dev/owner-uid"] === uid)).to.equal(true);
    const hashes = new Set(final.map((c) => c.Labels["berth.dev/config-hash"]));
    expect(hashes.size, "one revision").to.equal(1);
    expect(oldHashes.has([...hashes][0]), "the new revision").to.equal(false);
    const stillOne = await Promise.all(survivors.map(leaderGauge));
    expect(stillOne.filter((g) => g === 1), "still exactly one leader").to.have.length(1);
    expect(next.ms, `takeover ${next.ms.toFixed(0)} ms`).to.be.lessThan(TAKEOVER_TARGET_MS);
    servers.splice(servers.indexOf(leader), 1);
    removeDir(leader.dataDir);
  });

  it("a frozen leader (SIGSTOP) loses the lock after the lease; on waking it steps down instead of acting", async () => {
    const gauges = await Promise.all(servers.map(leaderGauge));
    const leader = servers[gauges.indexOf(1)];
    const follower = servers.find((s) => s !== leader)!;
    expect(leader, `a leader among ${JSON.stringify(gauges)}`).to.not.equal(undefined);
    leader.child.kill("SIGSTOP");
    const frozenAt = performance.now();
    const next = await takeover([follower], frozenAt);
    console.log(`      frozen leader: takeover ${(next.ms / 1000).toFixed(2)} s (lease ${LEASE_SECONDS} s)`);
    // The session last spoke up to one poll before the freeze, so the lease can run out a poll early.
    expect(next.ms, "not before the lease ran out").to.be.at.least(LEASE_SECONDS * 1000 - 2 * 1000);
    expect(next.ms, `takeover ${next.ms.toFixed(0)} ms`).to.be.lessThan(TAKEOVER_TARGET_MS);

    const r = await call(follower, "PATCH", `${G}/namespaces/${project}/applications/web`, { spec: { replicas: 2 } }, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
    await waitFor("the new leader scales to 2", async () => (await converged(follower, project, 2)) && (await containersOf(project)).length === 2, 60_000, 200);

    leader.child.kill("SIGCONT");
    await waitFor("the woken process reports itself a follower", async () => (await leaderGauge(leader)) === 0, 30_000, 200);
    expect(leader.logs()).to.match(/lost leadership/);
    expect(await leaderGauge(follower)).to.equal(1);
    await new Promise((r) => setTimeout(r, 3000));
    const final = await containersOf(project);
    expect(final, "the woken process did not act on its stale view").to.have.length(2);
    expect(final.every((c) => c.State === "running")).to.equal(true);
  });
});

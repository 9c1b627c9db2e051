import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { BERTH_BIN, call, removeDir, runBerth, startTestBerth, tempDir } from "./helpers/berth.js";
import { appContainers, BUSYBOX_IMAGE, cleanupProject, docker, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";
import { RetentionJob } from "../src/controller/retention.js";
import { ok, startKubectl, type KubectlRun } from "./helpers/kubectl.js";
import winston from "winston";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const P = `roll-${process.pid}`;

function webApp(name: string, spec: Record<string, unknown> = {}): Record<string, any> {
  return {
    apiVersion: "berth.dev/v1alpha1",
    kind: "Application",
    metadata: { name, namespace: P },
    spec: {
      source: { image: BUSYBOX_IMAGE },
      replicas: 3,
      command: ["httpd", "-f", "-p", "8080", "-h", "/www"],
      env: { VERSION: "1" },
      ports: [{ containerPort: 8080 }],
      healthcheck: { http: { path: "/health", port: 8080 }, interval: "1s", timeout: "3s", retries: 3 },
      strategy: { type: "RollingUpdate", maxSurge: 1, maxUnavailable: 0 },
      ...spec,
    },
  };
}

function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/health", timeout: 800 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
  });
}

/**
 * Probes every published endpoint of the Application over HTTP, continuously, and keeps the
 * smallest number of endpoints that answered in one round.
 */
function startProber(name: string): { stop: () => Promise<{ minServing: number; rounds: number }> } {
  let running = true;
  let minServing = Infinity;
  let rounds = 0;
  const loop = (async () => {
    while (running) {
      const list = await appContainers(P, name);
      const ports = list.flatMap((c) => c.Ports.filter((p) => p.PublicPort).map((p) => p.PublicPort));
      // A probe that times out on a loaded machine is tried once more before it counts as down.
      const answers = await Promise.all(ports.map(async (p) => (await probe(p)) || (await probe(p))));
      minServing = Math.min(minServing, answers.filter(Boolean).length);
      rounds++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { minServing, rounds };
    },
  };
}

describe("rollouts: health-gated updates, rollback, history, progress and logs", function () {
  this.timeout(300_000);
  let berth: TestBerth;
  let work: string;
  const cli = (args: string[]) => runBerth(args, { kubeconfig: berth.kubeconfigPath });
  const get = async (name: string) => (await call(berth, "GET", `${G}/namespaces/${P}/applications/${name}`)).body;
  const patch = async (name: string, body: unknown) => {
    const r = await call(berth, "PATCH", `${G}/namespaces/${P}/applications/${name}`, body, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
    return r.body;
  };
  const readyAt = (name: string, gen?: number) =>
    waitFor(`${name} ready`, async () => {
      const a = await get(name);
      const ok = a.status?.observedGeneration === a.metadata.generation && (!gen || a.metadata.generation >= gen) && a.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");
      return ok ? a : undefined;
    }, 120_000);

  before(async function () {
    await requireDocker(this);
    await ensureBusyboxImage();
    work = tempDir("berth-rollout-");
    berth = await startTestBerth({ controllers: true, resyncMs: 3000 });
    await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} });
  });

  after(async () => {
    await berth?.cleanup();
    await cleanupProject(P).catch(() => undefined);
    removeDir(work ?? "");
  });

  it("apply --wait without a TTY prints plain progress lines and a summary", async () => {
    const file = path.join(work, "web.yaml");
    writeFileSync(file, JSON.stringify(webApp("web")));
    const r = await cli(["apply", "-f", file, "--wait", "--timeout", "2m"]);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.not.contain("\x1b[");
    expect(r.stdout).to.match(/application\/web\s+.*replicas updated/);
    expect(r.stdout).to.match(/application\/web\s+ready \(3\/3 replicas\)/);
    expect(r.stderr).to.contain("1 of 1 object(s) ready");
  });

  it("rolls out a change with maxUnavailable 0: endpoints probed throughout, never fewer than 3 serving", async () => {
    await waitFor("3 healthy", async () => (await appContainers(P, "web")).filter((c) => /\(healthy\)/.test(c.Status)).length === 3);
    const prober = startProber("web");
    const gen = (await patch("web", { spec: { env: { VERSION: "2" } } })).metadata.generation;
    await readyAt("web", gen);
    const { minServing, rounds } = await prober.stop();
    console.log(`      ${rounds} probe rounds during the rollout; fewest endpoints serving at once: ${minServing}`);
    expect(rounds).to.be.greaterThan(10);
    expect(minServing).to.be.at.least(3);
  });

  it("rolls back automatically when the new version never becomes healthy; the old replicas keep serving", async () => {
    const prober = startProber("web");
    await patch("web", { spec: { command: ["httpd", "-f", "-p", "8080", "-h", "/nonexistent"], progressDeadline: "12s" } });
    const rolledBack = await waitFor("rolled back", async () => {
      const a = await get("web");
      return a.metadata.annotations?.["berth.dev/rolled-back-from"] && a.spec.command.includes("/www") ? a : undefined;
    }, 120_000);
    await readyAt("web", rolledBack.metadata.generation);
    const { minServing } = await prober.stop();
    expect(minServing).to.be.at.least(3);
    const hist = await cli(["rollout", "history", "app/web", "-n", P]);
    expect(hist.code, hist.stderr).to.equal(0);
    expect(hist.stdout).to.match(/rolled_back/);
    const events = (await call(berth, "GET", `/api/v1/namespaces/${P}/events`)).body.items.map((e: any) => e.reason);
    expect(events).to.include.members(["ProgressDeadlineExceeded", "RolledBack"]);
  });

  it("rollout status exits non-zero when a rollout fails (rollback: manual)", async () => {
    await patch("web", { spec: { rollback: "manual", progressDeadline: "10s", command: ["httpd", "-f", "-p", "8080", "-h", "/missing"] } });
    const r = await cli(["rollout", "status", "app/web", "-n", P, "--timeout", "2m"]);
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    expect(r.stderr).to.contain("ProgressDeadlineExceeded");
    // The old replicas are still there and serving.
    const serving = (await appContainers(P, "web")).filter((c) => /\(healthy\)/.test(c.Status));
    expect(serving.length).to.be.at.least(3);
  });

  it("rollout undo writes the previous good revision back and it rolls out", async () => {
    const r = await cli(["rollout", "undo", "app/web", "-n", P]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/rolled back to revision \d+/);
    const a = await get("web");
    expect(a.spec.command).to.include("/www");
    await readyAt("web", a.metadata.generation);
    const status = await cli(["rollout", "status", "app/web", "-n", P, "--timeout", "1m"]);
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.contain("successfully rolled out");
    const d = await cli(["deployments", "app/web", "-n", P]);
    expect(d.stdout).to.contain("config-hash changed");
  });

  it("apply --wait through a pseudo-terminal redraws live progress, and fails with a summary", async () => {
    const file = path.join(work, "bad.yaml");
    writeFileSync(file, JSON.stringify(webApp("ghost", { replicas: 1, source: { image: "registry.invalid/ghost:1" } })));
    const out = await new Promise<{ code: number; text: string }>((resolve) => {
      const child = spawn("script", ["-qfec", `${process.execPath} ${BERTH_BIN} --kubeconfig ${berth.kubeconfigPath} apply -f ${file} --wait --timeout 60s`, "/dev/null"], { env: { ...process.env, CI: "" } });
      let text = "";
      child.stdout.on("data", (c: Buffer) => (text += c.toString()));
      child.stderr.on("data", (c: Buffer) => (text += c.toString()));
      child.on("close", (code) => resolve({ code: code ?? -1, text }));
    });
    expect(out.code, out.text).to.equal(1);
    expect(out.text).to.contain("\x1b[2K");
    expect(out.text).to.contain("ImageNotFound");
    expect(out.text).to.contain("0 of 1 object(s) ready, 1 failed");
  });

  it("logs -f follows new output of every replica", async () => {
    await call(berth, "POST", `${G}/namespaces/${P}/applications`, webApp("ticker", { replicas: 2, healthcheck: undefined, ports: [], command: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.5; done"] }));
    await readyAt("ticker");
    const child = spawn(process.execPath, [BERTH_BIN, "--kubeconfig", berth.kubeconfigPath, "logs", "app/ticker", "-n", P, "-f"]);
    let text = "";
    child.stdout.on("data", (c: Buffer) => (text += c.toString()));
    try {
      const firstSeen = await waitFor("first lines", async () => (/tick \d+/.test(text) ? text.length : 0), 30_000, 100);
      await waitFor("new lines while following", async () => text.length > firstSeen + 20 && /\[roll-\d+-ticker-1\] tick/.test(text), 30_000, 100);
      expect(text).to.match(new RegExp(`\\[${P}-ticker-0\\] tick \\d+`));
    } finally {
      child.kill();
    }
    const tail = await cli(["logs", "app/ticker", "-n", P, "--replica", "0", "--tail", "2"]);
    expect(tail.stdout.trim().split("\n")).to.have.length(2);
  });

  it("suspend leaves a deleted container deleted until unsuspended", async () => {
    await patch("ticker", { spec: { suspend: true } });
    await waitFor("Suspended", async () => (await get("ticker")).status?.conditions?.some((c: any) => c.reason === "Suspended"));
    const [victim] = (await appContainers(P, "ticker")).filter((c) => c.Names[0].endsWith("-1"));
    await docker.getContainer(victim.Id).remove({ force: true });
    await new Promise((r) => setTimeout(r, 6000));
    expect((await appContainers(P, "ticker")).map((c) => c.Names[0])).to.deep.equal([`/${P}-ticker-0`]);
    await patch("ticker", { spec: { suspend: false } });
    await waitFor("replica 1 back", async () => (await appContainers(P, "ticker")).length === 2, 60_000);
  });

  it("retention removes old logs and old deployments beyond each Application's newest 10, nothing else", async () => {
    const uid = (await get("ticker")).metadata.uid;
    for (let i = 0; i < 14; i++) {
      await berth.dataSource.query(`INSERT INTO deployments (application_id, status, metadata, started_at) VALUES ($1, 'success', $2, now() - make_interval(days => $3))`, [uid, JSON.stringify({ revision: 100 + i, configHash: `old${i}` }), 200 - i]);
    }
    const [dep] = await berth.dataSource.query(`SELECT id FROM deployments WHERE application_id = $1 ORDER BY started_at DESC LIMIT 1`, [uid]);
    await berth.dataSource.query(`INSERT INTO deployment_logs (deployment_id, level, message, created_at) VALUES ($1, 'info', 'ancient', now() - interval '40 days'), ($1, 'info', 'recent', now() - interval '1 day')`, [dep.id]);
    const before = Number((await berth.dataSource.query(`SELECT count(*) FROM deployments WHERE application_id = $1`, [uid]))[0].count);
    const job = new RetentionJob(berth.stores, { logDays: 30, deploymentDays: 90, keepPerApplication: 10, auditDays: 365 }, winston.createLogger({ silent: true }));
    const removed = await job.runOnce();
    const after = Number((await berth.dataSource.query(`SELECT count(*) FROM deployments WHERE application_id = $1`, [uid]))[0].count);
    expect(after).to.equal(10);
    expect(removed.deployments).to.equal(before - 10);
    const msgs = (await berth.dataSource.query(`SELECT message FROM deployment_logs WHERE message IN ('ancient', 'recent')`)).map((r: any) => r.message);
    expect(msgs).to.deep.equal(["recent"]);
    // Another Application's history is untouched.
    const webCount = Number((await berth.dataSource.query(`SELECT count(*) FROM deployments d JOIN applications a ON a.id = d.application_id WHERE a.name = 'web'`))[0].count);
    expect(webCount).to.be.greaterThan(2);
  });

  it("apply --prune --wait removes a dropped Application's containers before it returns", async () => {
    const dir = path.join(work, "prune-set");
    const ns = `${P}-set`;
    mkdirSync(dir, { recursive: true });
    const small = (name: string): string => {
      const a = webApp(name, { replicas: 1, healthcheck: undefined });
      return JSON.stringify({ ...a, metadata: { name, namespace: ns } });
    };
    writeFileSync(path.join(dir, "00-project.json"), JSON.stringify({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: ns }, spec: {} }));
    writeFileSync(path.join(dir, "keep.json"), small("keep"));
    writeFileSync(path.join(dir, "drop.json"), small("drop"));
    try {
      const first = await cli(["apply", "-f", dir, "--wait", "--timeout", "2m"]);
      expect(first.code, first.stdout + first.stderr).to.equal(0);
      expect(await appContainers(ns, "drop")).to.have.length(1);
      rmSync(path.join(dir, "drop.json"));
      const r = await cli(["apply", "-f", dir, "--prune", "--wait", "--timeout", "2m"]);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.contain("application.berth.dev/drop pruned");
      // --wait returned only once the object was gone, which the finalizer allows after its containers.
      expect(await appContainers(ns, "drop")).to.have.length(0);
      expect((await call(berth, "GET", `/apis/berth.dev/v1alpha1/namespaces/${ns}/applications/drop`)).status).to.equal(404);
      expect(await appContainers(ns, "keep")).to.have.length(1);
      // Another Project's objects applied by berth apply are out of this set's scope.
      expect((await call(berth, "GET", `/apis/berth.dev/v1alpha1/namespaces/${P}/applications/web`)).status).to.equal(200);
    } finally {
      await cli(["delete", "-f", dir, "--wait", "--timeout", "1m"]);
      await cleanupProject(ns).catch(() => undefined);
    }
  });
  it("kubectl scale app NAME --replicas=3 converges to 3 containers; the Scale's status.selector finds them", async () => {
    const name = "scaled";
    const r = await call(berth, "POST", `${G}/namespaces/${P}/applications`, webApp(name, { replicas: 1, healthcheck: undefined }));
    expect(r.status, r.text).to.equal(201);
    await readyAt(name);
    const kubectl = (args: string[]): Promise<KubectlRun> => startKubectl(berth.kubeconfigPath, work, args).result;
    ok(await kubectl(["scale", "app", name, "-n", P, "--replicas=3"]));
    await waitFor("3 running replicas", async () => (await appContainers(P, name)).filter((c) => c.State === "running").length === 3);
    const ready = await readyAt(name);
    expect(ready.status.readyReplicas).to.equal(3);
    const scale = JSON.parse(ok(await kubectl(["get", "--raw", `${G}/namespaces/${P}/applications/${name}/scale`])).stdout);
    expect(scale.spec.replicas).to.equal(3);
    expect(scale.status.replicas).to.equal(3);
    // An autoscaler finds the replicas through the selector: exactly these three containers.
    const selected = await docker.listContainers({ filters: { label: scale.status.selector.split(",") } });
    expect(selected.map((c) => c.Names[0]).sort()).to.deep.equal([`/${P}-${name}-0`, `/${P}-${name}-1`, `/${P}-${name}-2`]);
    ok(await kubectl(["scale", "app", name, "-n", P, "--replicas=1"]));
    await waitFor("1 replica left", async () => (await appContainers(P, name)).length === 1);
  });
});

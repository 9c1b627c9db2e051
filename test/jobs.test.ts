/**
 * Issue 20 (scheduled jobs) on the real engine: an Application's spec.jobs run as one-off
 * containers from its image, with its env and secretEnv, on its Project network; per-second
 * schedules show a run on time and Forbid skipping an overlap; a failing job reaches
 * JobsSucceeded and a Warning; `berth job run` / `berth job runs` drive it as a user would.
 */
import { expect } from "chai";
import { call, runBerth, startTestBerth } from "./helpers/berth.js";
import { BUSYBOX_IMAGE, cleanupProject, docker, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
type Obj = Record<string, any>;
const G = "/apis/berth.dev/v1alpha1";
const P = `jobs-${process.pid}`;
const SECRET = "s3cr3t-job-value-7781";

function app(name: string, jobs: Obj[]): Obj {
  return {
    apiVersion: "berth.dev/v1alpha1",
    kind: "Application",
    metadata: { name, namespace: P },
    spec: {
      source: { image: BUSYBOX_IMAGE },
      replicas: 1,
      command: ["sh", "-c", "mkdir -p /www && echo pong > /www/ping && exec httpd -f -p 8080 -h /www"],
      env: { GREETING: "hello from the app" },
      secretEnv: { API_TOKEN: SECRET },
      ports: [{ containerPort: 8080 }],
      healthcheck: { http: { path: "/ping", port: 8080 }, interval: "1s", timeout: "2s", retries: 3 },
      jobs,
    },
  };
}

const jobContainers = async (appName: string): Promise<string[]> =>
  (await docker.listContainers({ all: true, filters: { label: ["berth.dev/kind=Job", `berth.dev/project=${P}`] } })).map((c) => c.Names[0]!.replace(/^\//, "")).filter((n) => n.startsWith(`${P}-${appName}-job-`));

describe("scheduled jobs on a real Docker engine", function () {
  this.timeout(300_000);
  let berth: TestBerth;

  const get = async (name: string): Promise<Obj> => (await call(berth, "GET", `${G}/namespaces/${P}/applications/${name}`)).body;
  const runs = async (name: string, job: string): Promise<Obj[]> => {
    const r = await call(berth, "GET", `/berth/v1/namespaces/${P}/applications/${name}/jobruns?job=${job}`);
    expect(r.status, r.text).to.equal(200);
    return r.body.items;
  };
  const cli = (args: string[]): ReturnType<typeof runBerth> => runBerth([...args, "-n", P], { kubeconfig: berth.kubeconfigPath });

  before(async function () {
    await requireDocker(this);
    await ensureBusyboxImage();
    berth = await startTestBerth({ controllers: true, resyncMs: 3000 });
    const r = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} });
    expect(r.status, r.text).to.equal(201);
  });

  after(async () => {
    await berth?.cleanup();
    await cleanupProject(P).catch(() => undefined);
  });

  it("a manual run (`berth job run`) uses the app's image, env, secretEnv and network; output printed, the secret redacted; exit 0", async () => {
    const jobs = [
      { name: "report", schedule: "0 3 * * *", command: ["sh", "-c", 'echo "$GREETING"; echo "token=$API_TOKEN"; wget -qO- http://' + `${P}-web-0` + ':8080/ping'], timeout: "1m" },
      { name: "broken", schedule: "0 4 * * *", command: ["sh", "-c", "echo about to fail >&2; exit 3"], timeout: "1m" },
    ];
    const created = await call(berth, "POST", `${G}/namespaces/${P}/applications`, app("web", jobs));
    expect(created.status, created.text).to.equal(201);
    await waitFor("web Ready", async () => (await get("web")).status?.conditions?.some((c: Obj) => c.type === "Ready" && c.status === "True"), 90_000);

    const ok = await cli(["job", "run", "app/web", "report"]);
    expect(ok.code, ok.stderr + ok.stdout).to.equal(0);
    expect(ok.stdout).to.contain("hello from the app");
    expect(ok.stdout, "the job reached the app's replica by name on the Project network").to.contain("pong");
    expect(ok.stdout).to.match(/job report of application\/web: run [0-9a-f-]{36} succeeded \(exit 0\)/);
    expect(ok.stdout + ok.stderr, "secretEnv never printed").to.not.contain(SECRET);
    expect(ok.stdout).to.contain("token=<redacted>");

    const [run] = await runs("web", "report");
    expect(run).to.include({ job: "report", trigger: "manual", status: "succeeded", exitCode: 0 });
    expect(run.logs, "the list leaves the logs out").to.equal(undefined);
    const one = await cli(["job", "runs", "app/web", "--run", run.id.slice(0, 8), "-o", "json"]);
    expect(one.code, one.stderr).to.equal(0);
    expect(JSON.parse(one.stdout).logs).to.contain("hello from the app");
  });

  it("a failing job: `berth job run` exits 1 with the exit code; JobsSucceeded=False and a Warning JobFailed", async () => {
    const bad = await cli(["job", "run", "app/web", "broken"]);
    expect(bad.code, bad.stdout).to.equal(1);
    expect(bad.stderr).to.match(/job broken of application\/web: run \S+ failed \(exit 3\)/);
    expect(bad.stdout).to.contain("about to fail");
    const a = await waitFor("JobsSucceeded=False", async () => {
      const x = await get("web");
      const c = x.status?.conditions?.find((k: Obj) => k.type === "JobsSucceeded");
      return c?.status === "False" ? x : undefined;
    }, 30_000);
    const c = a.status.conditions.find((k: Obj) => k.type === "JobsSucceeded");
    expect(c.reason).to.equal("JobFailed");
    expect(c.message).to.contain("broken").and.to.contain("3");
    expect(a.status.conditions.find((k: Obj) => k.type === "Ready").status, "a failed job does not make the app unready").to.equal("True");
    const ev = await call(berth, "GET", `/api/v1/namespaces/${P}/events`);
    expect(ev.body.items.some((e: Obj) => e.type === "Warning" && e.reason === "JobFailed" && e.involvedObject.name === "web" && /broken/.test(e.message))).to.equal(true);
    const unknown = await cli(["job", "run", "app/web", "nope"]);
    expect(unknown.code).to.not.equal(0);
    expect(unknown.stderr).to.contain('declares no job "nope"');
  });

  it("a per-second schedule runs on time; Forbid skips the slots that overlap a running run", async () => {
    const jobs = [{ name: "tick", schedule: "* * * * * *", command: ["sh", "-c", "echo tick; sleep 3"], timeout: "30s", concurrencyPolicy: "Forbid" }];
    const created = await call(berth, "POST", `${G}/namespaces/${P}/applications`, app("clock", jobs));
    expect(created.status, created.text).to.equal(201);
    const list = await waitFor("two finished tick runs", async () => {
      const r = await runs("clock", "tick");
      return r.filter((x) => x.status === "succeeded").length >= 2 ? r : undefined;
    }, 90_000, 500);
    const done = list.filter((x) => x.status === "succeeded");
    for (const r of done) {
      const lateMs = Date.parse(r.startedAt) - Date.parse(r.slot);
      expect(lateMs, `run ${r.id} started ${lateMs} ms after its slot`).to.be.within(0, 2500);
      expect(r.trigger).to.equal("schedule");
    }
    const skipped = list.filter((x) => x.status === "skipped");
    expect(skipped.length, "slots during a 3 s run are skipped under Forbid").to.be.greaterThan(0);
    expect(skipped[0].message).to.match(/Forbid/);
    const running = list.filter((x) => x.status === "running" || x.status === "pending");
    expect(running.length, "never two runs at once").to.be.at.most(1);
    const table = await cli(["job", "runs", "app/clock", "tick"]);
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout).to.match(/TRIGGER\s+STATUS/).and.to.match(/schedule\s+succeeded/).and.to.match(/schedule\s+skipped/);
  });

  it("finished runs leave no container; deleting the Application removes a running one", async () => {
    expect(await jobContainers("web"), "report and broken ended: their containers are gone").to.deep.equal([]);
    await waitFor("a tick run's container running", async () => (await jobContainers("clock")).length > 0, 30_000, 100);
    for (const n of ["clock", "web"]) {
      const r = await call(berth, "DELETE", `${G}/namespaces/${P}/applications/${n}`);
      expect(r.status, r.text).to.be.oneOf([200, 202]);
    }
    await waitFor("applications gone", async () => (await call(berth, "GET", `${G}/namespaces/${P}/applications/clock`)).status === 404 && (await call(berth, "GET", `${G}/namespaces/${P}/applications/web`)).status === 404, 60_000);
    expect(await jobContainers("clock")).to.deep.equal([]);
    expect(await jobContainers("web")).to.deep.equal([]);
  });
});

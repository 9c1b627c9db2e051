import { expect } from "chai";
import type { ResourceObject } from "../../src/core/types.js";
import { ApplicationReconciler } from "../../src/reconcilers/application/reconciler.js";
import { JobScheduler } from "../../src/reconcilers/application/job-scheduler.js";
import { jobCauses } from "../../src/schema/admission.js";
import { FakeDriver } from "../../src/runtime/fake.js";
import { LABEL } from "../../src/runtime/labels.js";
import { NO_TRAFFIC } from "../../src/runtime/traffic.js";
import { ctx, quiet, unitStore, type UnitStore } from "../helpers/unit-store.js";

const P = "jobs";
const ADMIN = { user: "admin" };
const IMAGE = "berth-test/busybox:1";

function app(jobs: Record<string, unknown>[]): ResourceObject {
  return {
    apiVersion: "berth.dev/v1alpha1",
    kind: "Application",
    metadata: { name: "web", namespace: P },
    spec: { source: { image: IMAGE }, replicas: 1, command: ["sleep", "3600"], env: { MODE: "job" }, jobs },
  };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 30));

describe("job scheduler (fake runtime driver, real store)", function () {
  this.timeout(20_000);
  let u: UnitStore;
  let fake: FakeDriver;
  let clock: Date;
  let woken: string[];
  let scheduler: JobScheduler;

  const makeScheduler = (): JobScheduler =>
    new JobScheduler({ store: u.stores.resources, jobRuns: u.stores.jobRuns, driver: fake, events: u.stores.events, box: u.box, credentials: u.stores.credentials, logger: quiet, enqueue: (k) => woken.push(k.name), now: () => clock });
  const at = (iso: string): void => void (clock = new Date(iso));
  const jobContainers = () => [...fake.containers.values()].filter((c) => c.labels[LABEL.job]);
  const runs = async (job: string) => {
    const a = (await u.stores.resources.get("Application", P, "web"))!;
    return u.stores.jobRuns.runsOf(a.metadata.uid!, job);
  };
  const events = async () => ((await u.stores.events.list(P, "involvedObject.name=web")).items as any[]).map((e) => ({ type: e.type, reason: e.reason, message: e.message }));

  before(async () => {
    u = await unitStore();
  });

  beforeEach(async () => {
    await u.reset();
    fake = new FakeDriver();
    fake.images.set(IMAGE, { cmd: ["sh"] });
    woken = [];
    at("2026-01-01T00:00:00.500Z");
    scheduler = makeScheduler();
    await u.stores.resources.create({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} }, ADMIN);
  });

  afterEach(async () => {
    await scheduler.stop();
  });

  it("runs a due slot once, from the Application's image with its env on the Project network, and records the exit code", async () => {
    await u.stores.resources.create(app([{ name: "report", schedule: "*/5 * * * * *", command: ["sh", "-c", "echo hi"] }]), ADMIN);
    await scheduler.tick(); // first sight: the next slot is 00:00:05
    expect(jobContainers()).to.have.length(0);
    at("2026-01-01T00:00:05.100Z");
    await scheduler.tick();
    const [c] = jobContainers();
    expect(c!.image).to.equal(IMAGE);
    expect(c!.spec.Cmd).to.deep.equal(["sh", "-c", "echo hi"]);
    expect(c!.env).to.include("MODE=job");
    expect(c!.spec.HostConfig?.NetworkMode).to.equal("berth-jobs");
    expect(c!.labels[LABEL.ownerUid]).to.equal(undefined);
    await scheduler.tick(); // same slot: nothing new
    expect(jobContainers()).to.have.length(1);
    fake.finish(c!.id, 0);
    await settle();
    const [run] = await runs("report");
    expect(run).to.include({ status: "succeeded", exitCode: 0, slot: "2026-01-01T00:00:05Z" });
    expect(run!.logs).to.contain("log of");
    expect(fake.containers.has(c!.id)).to.equal(false);
    expect(woken).to.include("web");
  });

  it("a restarted scheduler never runs a slot that was claimed, and adopts the run still going", async () => {
    await u.stores.resources.create(app([{ name: "report", schedule: "*/5 * * * * *", command: ["true"] }]), ADMIN);
    await scheduler.tick();
    at("2026-01-01T00:00:05.100Z");
    await scheduler.tick();
    await scheduler.stop();
    expect(jobContainers()).to.have.length(1);
    // A new term at the same instant: first sight schedules 00:00:10; the claimed slot stays single.
    scheduler = makeScheduler();
    await scheduler.tick();
    expect(jobContainers()).to.have.length(1);
    const a = (await u.stores.resources.get("Application", P, "web"))!;
    expect(await u.stores.jobRuns.claim(a.metadata.uid!, "report", new Date("2026-01-01T00:00:05Z"))).to.equal(undefined);
    fake.finish(jobContainers()[0]!.id, 0);
    await settle();
    expect((await runs("report")).map((r) => r.status)).to.deep.equal(["succeeded"]);
  });

  it("a failing run gives a Warning naming the job and exit code, and JobsSucceeded=False on the Application", async () => {
    await u.stores.resources.create(app([{ name: "migrate", schedule: "*/5 * * * * *", command: ["false"] }]), ADMIN);
    await scheduler.tick();
    at("2026-01-01T00:00:05.100Z");
    await scheduler.tick();
    fake.finish(jobContainers()[0]!.id, 3);
    await settle();
    expect(await events()).to.deep.include({ type: "Warning", reason: "JobFailed", message: "job migrate failed with exit code 3" });
    const s = u.stores;
    const reconciler = new ApplicationReconciler({ store: s.resources, events: s.events, driver: fake, traffic: NO_TRAFFIC, box: u.box, credentials: s.credentials, revisions: s.revisions, volumes: s.volumes, metrics: u.metrics, jobRuns: s.jobRuns });
    await reconciler.reconcile({ kind: "Application", namespace: P, name: "web" }, ctx());
    const a = (await s.resources.get("Application", P, "web"))!;
    const cond = (a.status!.conditions as any[]).find((c) => c.type === "JobsSucceeded");
    expect(cond).to.include({ status: "False", reason: "JobFailed" });
    expect(cond.message).to.contain("job migrate failed with exit code 3");
    const jobs = a.status!.jobs as any[];
    expect(jobs[0]).to.deep.include({ name: "migrate", schedule: "*/5 * * * * *" });
    expect(jobs[0].lastRun).to.include({ status: "failed", exitCode: 3 });
  });

  it("Forbid skips an overlapping slot; Replace kills the running one; Allow runs both", async () => {
    await u.stores.resources.create(
      app([
        { name: "forbid", schedule: "*/5 * * * * *", command: ["sleep", "60"] },
        { name: "replace", schedule: "*/5 * * * * *", command: ["sleep", "60"], concurrencyPolicy: "Replace" },
        { name: "allow", schedule: "*/5 * * * * *", command: ["sleep", "60"], concurrencyPolicy: "Allow" },
      ]),
      ADMIN,
    );
    await scheduler.tick();
    at("2026-01-01T00:00:05.100Z");
    await scheduler.tick();
    at("2026-01-01T00:00:10.100Z");
    await scheduler.tick();
    await settle();
    const running = (job: string) => jobContainers().filter((c) => c.labels[LABEL.job] === job && c.state === "running").length;
    expect(running("forbid")).to.equal(1);
    expect(running("replace")).to.equal(1);
    expect(running("allow")).to.equal(2);
    expect((await runs("forbid")).map((r) => r.status)).to.deep.equal(["skipped", "running"]);
    const replaced = await runs("replace");
    expect(replaced.map((r) => r.status)).to.deep.equal(["running", "failed"]);
    expect(replaced[1]!.message).to.contain("a newer run replaced it");
  });

  it("a run past its timeout is killed and fails with JobDeadlineExceeded", async () => {
    await u.stores.resources.create(app([{ name: "slow", schedule: "*/5 * * * * *", command: ["sleep", "60"], timeout: "50ms" }]), ADMIN);
    await scheduler.tick();
    at("2026-01-01T00:00:05.100Z");
    await scheduler.tick();
    await new Promise((r) => setTimeout(r, 200));
    const [run] = await runs("slow");
    expect(run).to.include({ status: "failed", exitCode: 137 });
    expect(run!.message).to.equal("job slow exceeded its timeout of 50ms and was killed (exit code 137)");
    expect(await events()).to.deep.include({ type: "Warning", reason: "JobDeadlineExceeded", message: run!.message });
  });

  it("a manual run (a pending row) starts on the next tick", async () => {
    await u.stores.resources.create(app([{ name: "report", schedule: "@daily", command: ["true"] }]), ADMIN);
    const a = (await u.stores.resources.get("Application", P, "web"))!;
    await u.stores.jobRuns.requestManual(a.metadata.uid!, "report");
    await scheduler.tick();
    expect(jobContainers()).to.have.length(1);
    expect((await runs("report"))[0]).to.include({ trigger: "manual", status: "running" });
  });

  it("admission refuses a bad cron expression or time zone, naming the field", () => {
    const causes = jobCauses(app([{ name: "a", schedule: "61 * * * *", command: ["true"] }, { name: "b", schedule: "0 3 * * *", timeZone: "Nowhere/Foo", command: ["true"] }, { name: "c", schedule: "*/5 * * * * *", command: ["true"] }]));
    expect(causes.map((c) => c.field)).to.deep.equal(["spec.jobs[0].schedule", "spec.jobs[1].timeZone"]);
    expect(causes[0]!.message).to.contain("61 * * * *");
  });
});

import { expect } from "chai";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { call, removeDir, runBerth, startTestBerth, tempDir } from "./helpers/berth.js";
import { appContainers, BUSYBOX_IMAGE, cleanupProject, docker, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const P = `compose-${process.pid}`;

/** web waits for a healthy db; a worker with 2 replicas; db keeps its state in a named volume. */
function composeFile(webVersion: string, extraWebKeys = ""): string {
  return `services:
  web:
    image: ${BUSYBOX_IMAGE}
    command: httpd -f -p 8080 -h /www
    environment:
      DB_HOST: db
      VERSION: "${webVersion}"
    ports: ["8080"]
    depends_on:
      db: {condition: service_healthy}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 3s
      retries: 3
${extraWebKeys}  db:
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo ready > /data/state; exec httpd -f -p 5432 -h /www"]
    volumes: ["dbdata:/data"]
    healthcheck:
      test: ["CMD-SHELL", "test -f /data/state && wget -q -O /dev/null http://127.0.0.1:5432/health"]
      interval: 1s
      timeout: 3s
      retries: 3
  worker:
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", "while true; do sleep 1; done"]
    depends_on: [db]
    deploy:
      replicas: 2
volumes:
  dbdata: {}
`;
}

function composeApp(name: string, source: Record<string, string>): Record<string, unknown> {
  return { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace: P }, spec: { source: { compose: source } } };
}

const readyCondition = (o: any): any => o?.status?.conditions?.find((c: any) => c.type === "Ready");

async function execIn(containerId: string, cmd: string[]): Promise<{ code: number; output: string }> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  await new Promise((r) => stream.on("end", r));
  const info = await exec.inspect();
  return { code: info.ExitCode ?? -1, output: Buffer.concat(chunks).toString("utf8") };
}

describe("compose: a compose file converges as one Application per service", function () {
  this.timeout(300_000);
  let berth: TestBerth;
  let work: string;
  let file: string;
  let savedComposeDir: string | undefined;
  const get = async (name: string): Promise<any> => (await call(berth, "GET", `${G}/namespaces/${P}/applications/${name}`)).body;
  const ids = async (name: string): Promise<string[]> => (await appContainers(P, name)).map((c) => c.Id).sort();
  /** The parent Ready for its current generation, every service's Application with it. */
  const allReady = (name: string, what = `${name} ready`): Promise<any> =>
    waitFor(what, async () => {
      const a = await get(name);
      return a.status?.observedGeneration === a.metadata.generation && readyCondition(a)?.status === "True" ? a : undefined;
    }, 180_000, 300);

  before(async function () {
    await requireDocker(this);
    await ensureBusyboxImage();
    work = tempDir("berth-compose-");
    file = path.join(work, "compose.yaml");
    // The server reads compose files on the host only below these directories (in-process: this process's environment).
    savedComposeDir = process.env.BERTH_COMPOSE_DIR;
    process.env.BERTH_COMPOSE_DIR = work;
    berth = await startTestBerth({ controllers: true, resyncMs: 2000 });
    const r = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} });
    expect(r.status, r.text).to.equal(201);
  });

  after(async () => {
    if (savedComposeDir === undefined) delete process.env.BERTH_COMPOSE_DIR;
    else process.env.BERTH_COMPOSE_DIR = savedComposeDir;
    await berth?.cleanup();
    await cleanupProject(P).catch(() => undefined);
    removeDir(work ?? "");
  });

  it("converges a 3-service file from the host: web after db is healthy, 2 worker replicas, a named volume, service names on the network", async () => {
    writeFileSync(file, composeFile("1"));
    const r = await call(berth, "POST", `${G}/namespaces/${P}/applications`, composeApp("shop", { file }));
    expect(r.status, r.text).to.equal(201);
    const parent = await allReady("shop");
    expect(parent.status.readySummary).to.equal("3/3 services");
    expect(parent.status.services.map((s: any) => `${s.name}:${s.application}:${s.readySummary}`)).to.deep.equal(["web:shop-web:1/1", "db:shop-db:1/1", "worker:shop-worker:2/2"]);

    const web = await get("shop-web");
    expect(web.metadata.labels).to.deep.include({ "berth.dev/compose": "shop", "berth.dev/compose-service": "web" });
    expect(web.metadata.annotations["berth.dev/compose-owner-uid"]).to.equal(parent.metadata.uid);
    expect(web.spec.dependsOn).to.deep.equal([{ kind: "Application", name: "shop-db" }]);
    expect(await appContainers(P, "shop-worker")).to.have.length(2);

    // web was created only once db was healthy: db's first probe runs a full interval (1 s) after it started.
    const [dbC] = await appContainers(P, "shop-db");
    const [webC] = await appContainers(P, "shop-web");
    const dbInfo = await docker.getContainer(dbC.Id).inspect();
    const webInfo = await docker.getContainer(webC.Id).inspect();
    expect(new Date(webInfo.Created).getTime() - new Date(dbInfo.State.StartedAt).getTime()).to.be.greaterThan(900);
    expect(dbInfo.Mounts.map((m) => `${m.Name}:${m.Destination}`)).to.deep.equal([`berth-${P}-shop-dbdata:/data`]);

    // The compose service name answers on the Project network, as in compose.
    const viaName = await execIn(webC.Id, ["wget", "-q", "-O", "-", "http://db:5432/health"]);
    expect(viaName, viaName.output).to.deep.include({ code: 0 });
    expect(viaName.output).to.match(/\bok\n/);
    // And web serves on the host port Berth gave it.
    expect((await get("shop-web")).status.endpoints).to.have.length(1);
    const table = await runBerth(["get", "app", "-n", P], { kubeconfig: berth.kubeconfigPath });
    expect(table.stdout).to.match(/^shop\s+3\/3 services\s+4\s+4\s+running\s+ServicesReady\s/m);
    expect(table.stdout).to.match(/^shop-worker\s+2\/2\s+2\s+2\s+running\s+ReplicasReady\s/m);
  });

  it("repairs a service whose container was removed by hand (docker rm -f)", async () => {
    const [victim] = await appContainers(P, "shop-worker");
    await docker.getContainer(victim.Id).remove({ force: true });
    await waitFor("the worker replica is back", async () => {
      const now = await appContainers(P, "shop-worker");
      return now.length === 2 && now.every((c) => c.State === "running") && !now.some((c) => c.Id === victim.Id);
    }, 120_000);
    const back = (await appContainers(P, "shop-worker")).find((c) => c.Names.includes(`/${victim.Names[0].slice(1)}`));
    expect(back, "the same replica name is re-created").to.not.equal(undefined);
    await allReady("shop", "shop ready again");
  });

  it("an edit of one service rolls only that service", async () => {
    const before = { web: await ids("shop-web"), db: await ids("shop-db"), worker: await ids("shop-worker") };
    const gens = { web: (await get("shop-web")).metadata.generation, db: (await get("shop-db")).metadata.generation, worker: (await get("shop-worker")).metadata.generation };
    // The file on the host changes: the compose Application reads it again on its next reconcile.
    writeFileSync(file, composeFile("2"));
    await waitFor("web on its new config", async () => (await get("shop-web")).spec.env?.VERSION === "2", 60_000);
    await waitFor("web rolled", async () => {
      const w = await get("shop-web");
      const now = await ids("shop-web");
      return w.status?.observedGeneration === w.metadata.generation && readyCondition(w)?.status === "True" && now.length === 1 && now[0] !== before.web[0];
    }, 120_000);
    await allReady("shop", "shop ready after the edit");
    expect(await ids("shop-db")).to.deep.equal(before.db);
    expect(await ids("shop-worker")).to.deep.equal(before.worker);
    expect((await get("shop-db")).metadata.generation).to.equal(gens.db);
    expect((await get("shop-worker")).metadata.generation).to.equal(gens.worker);
    expect((await get("shop-web")).metadata.generation).to.equal(gens.web + 1);
    const [webC] = await appContainers(P, "shop-web");
    expect((await docker.getContainer(webC.Id).inspect()).Config.Env).to.include("VERSION=2");
  });

  it("rejects a file with an unsupported key naming service and key, and applies nothing", async () => {
    const bad = composeFile("3", "    privileged: true\n");
    const r = await call(berth, "POST", `${G}/namespaces/${P}/applications`, composeApp("other", { content: bad }));
    expect(r.status, r.text).to.equal(422);
    expect(r.body.message).to.contain("services.web.privileged: not supported by Berth");
    expect(r.body.details.causes).to.deep.include({ field: "spec.source.compose.content", message: "services.web.privileged: not supported by Berth", reason: "FieldValueInvalid" });
    expect((await call(berth, "GET", `${G}/namespaces/${P}/applications/other`)).status).to.equal(404);
    expect((await call(berth, "GET", `${G}/namespaces/${P}/applications/other-web`)).status).to.equal(404);
    // berth apply says the same and exits 1.
    const manifest = path.join(work, "other.yaml");
    writeFileSync(manifest, JSON.stringify(composeApp("other", { content: bad })));
    const cli = await runBerth(["apply", "-f", manifest], { kubeconfig: berth.kubeconfigPath });
    expect(cli.code, cli.stdout + cli.stderr).to.equal(1);
    expect(cli.stderr).to.contain("services.web.privileged: not supported by Berth");

    // The same key in the file on the host, after admission: reported, and the services are left as they are.
    const webBefore = await get("shop-web");
    writeFileSync(file, bad);
    const failed = await waitFor("shop reports the invalid file", async () => {
      const a = await get("shop");
      return readyCondition(a)?.reason === "ComposeInvalid" ? a : undefined;
    }, 60_000);
    expect(readyCondition(failed).message).to.contain("services.web.privileged: not supported by Berth");
    const webAfter = await get("shop-web");
    expect(webAfter.metadata.generation).to.equal(webBefore.metadata.generation);
    expect(webAfter.spec.env.VERSION).to.equal("2");
    writeFileSync(file, composeFile("2"));
    await allReady("shop", "shop ready once the file is fixed");
  });

  it("owns its services' Applications: a hand edit is written back, a hand delete made again, a stranger never adopted", async () => {
    const mini = "services:\n  api:\n    image: " + BUSYBOX_IMAGE + "\n    command: [sh, -c, 'while true; do sleep 1; done']\n";
    // A plain Application already holds the name a service would get.
    const plain = { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "taken-api", namespace: P }, spec: { source: { image: BUSYBOX_IMAGE }, replicas: 0 } };
    expect((await call(berth, "POST", `${G}/namespaces/${P}/applications`, plain)).status).to.equal(201);
    expect((await call(berth, "POST", `${G}/namespaces/${P}/applications`, composeApp("taken", { content: mini }))).status).to.equal(201);
    const refused = await waitFor("taken reports the name conflict", async () => {
      const a = await get("taken");
      return readyCondition(a)?.reason === "ApplicationExists" ? a : undefined;
    }, 60_000);
    expect(readyCondition(refused).message).to.contain("taken-api already exists");
    expect((await get("taken-api")).metadata.labels?.["berth.dev/compose"]).to.equal(undefined);

    // Inline content: the service's Application is made; edits by hand do not stick.
    expect((await call(berth, "POST", `${G}/namespaces/${P}/applications`, composeApp("inline", { content: mini }))).status).to.equal(201);
    await allReady("inline");
    const r = await call(berth, "PATCH", `${G}/namespaces/${P}/applications/inline-api`, { spec: { replicas: 3 } }, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
    await waitFor("the hand edit written back", async () => {
      const a = await get("inline-api");
      return a.spec.replicas === 1 && a.metadata.generation > r.body.metadata.generation;
    }, 60_000);
    const uid = (await get("inline-api")).metadata.uid;
    expect((await call(berth, "DELETE", `${G}/namespaces/${P}/applications/inline-api`)).status).to.be.oneOf([200, 202]);
    await waitFor("the service's Application made again", async () => {
      const a = await call(berth, "GET", `${G}/namespaces/${P}/applications/inline-api`);
      return a.status === 200 && a.body.metadata.uid !== uid && !a.body.metadata.deletionTimestamp;
    }, 60_000);
    await allReady("inline", "inline ready again");
    for (const n of ["inline", "taken", "taken-api"]) await call(berth, "DELETE", `${G}/namespaces/${P}/applications/${n}`);
  });

  it("deleting the compose Application deletes its services' Applications and their containers", async () => {
    const r = await call(berth, "DELETE", `${G}/namespaces/${P}/applications/shop`);
    expect(r.status, r.text).to.be.oneOf([200, 202]);
    await waitFor("shop and its services gone", async () => {
      const left = await Promise.all(["shop", "shop-web", "shop-db", "shop-worker"].map(async (n) => (await call(berth, "GET", `${G}/namespaces/${P}/applications/${n}`)).status));
      return left.every((s) => s === 404);
    }, 120_000);
    // Every Application of the Project is gone by now (the previous test deleted its own): no container is left.
    await waitFor("no Application container left", async () => (await docker.listContainers({ all: true, filters: { label: [`berth.dev/project=${P}`, "berth.dev/kind=Application"] } })).length === 0, 60_000);
  });
});

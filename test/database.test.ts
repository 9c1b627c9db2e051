import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import pg from "pg";
import winston from "winston";
import { startBerth, type Berth } from "../src/main.js";
import { BackupWorker } from "../src/reconcilers/database/backup-worker.js";
import { call, runBerth, tempDir } from "./helpers/berth.js";
import { cleanupProject, docker, execIn, requireDocker, waitFor } from "./helpers/docker.js";
import { ENGINE_IMAGE_ENV, ENGINE_IMAGES, ensureEngineImages } from "./helpers/engine-images.js";
import { startSystemPostgres, type TestPostgres } from "./helpers/postgres.js";

const G = "/apis/berth.dev/v1alpha1";
const P = `dbt-${process.pid}`;
const PG_IMAGE = ENGINE_IMAGES.postgresql.tag;

type Obj = Record<string, any>;

function database(name: string, spec: Obj): Obj {
  return { apiVersion: "berth.dev/v1alpha1", kind: "Database", metadata: { name, namespace: P }, spec };
}

function cond(o: Obj | undefined, type: string): Obj | undefined {
  return o?.status?.conditions?.find((c: Obj) => c.type === type);
}

/** The database container's name on the project network, which is also DATABASE_URL's host. */
const dbContainer = (name: string): string => `${P}-${name}-0`;

const exec = execIn;

describe("databases on a real Docker engine (engine images built from Debian packages)", function () {
  this.timeout(600_000);
  let store: TestPostgres;
  let berth: Berth;
  let dataDir: string;
  let backupDir: string;
  const logs: string[] = [];
  const passwords: string[] = [];
  const savedEnv: Record<string, string | undefined> = {};
  const timings: Record<string, number> = {};

  const get = async (kind: string, name: string): Promise<Obj> => (await call(berth, "GET", `${G}/namespaces/${P}/${kind}/${name}`)).body;
  const create = async (plural: string, body: Obj): Promise<void> => {
    const r = await call(berth, "POST", `${G}/namespaces/${P}/${plural}`, body);
    expect(r.status, r.text).to.equal(201);
  };
  const waitReady = async (name: string, timeoutMs = 180_000): Promise<Obj> => {
    const t = Date.now();
    const db = await waitFor(`database ${name} Ready`, async () => {
      const d = await get("databases", name);
      return cond(d, "Ready")?.status === "True" && d.status.observedGeneration === d.metadata.generation ? d : undefined;
    }, timeoutMs, 250);
    timings[`${name} ready`] = Date.now() - t;
    return db;
  };
  const reveal = async (name: string): Promise<Obj> => {
    const r = await call(berth, "GET", `/berth/v1/namespaces/${P}/databases/${name}/credentials`);
    expect(r.status, r.text).to.equal(200);
    if (!passwords.includes(r.body.password)) passwords.push(r.body.password);
    if (r.body.rootPassword && !passwords.includes(r.body.rootPassword)) passwords.push(r.body.rootPassword);
    return r.body;
  };
  const backupNow = async (name: string): Promise<Obj> => {
    const r = await call(berth, "POST", `/berth/v1/namespaces/${P}/databases/${name}/backups`);
    expect(r.status, r.text).to.equal(200);
    return r.body;
  };
  const restoreFrom = async (name: string, id: string): Promise<Obj> => {
    const r = await call(berth, "POST", `/berth/v1/namespaces/${P}/databases/${name}/restores?from=${id}`);
    expect(r.status, r.text).to.equal(200);
    return r.body;
  };
  const deleteAndWait = async (plural: string, name: string): Promise<void> => {
    const r = await call(berth, "DELETE", `${G}/namespaces/${P}/${plural}/${name}`);
    expect(r.status, r.text).to.be.oneOf([200, 202]);
    await waitFor(`${plural}/${name} gone`, async () => (await call(berth, "GET", `${G}/namespaces/${P}/${plural}/${name}`)).status === 404, 120_000, 250);
  };
  const volumeExists = async (name: string): Promise<boolean> => {
    try {
      await docker.getVolume(name).inspect();
      return true;
    } catch {
      return false;
    }
  };
  const sql = (q: string): string => `psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -tAc "${q}"`;

  before(async function () {
    // A first run builds the engine images (about a minute each on an idle machine, much longer on a busy one).
    this.timeout(1_800_000);
    await requireDocker(this);
    const t = Date.now();
    const built = await ensureEngineImages();
    timings["engine images (build or cache)"] = Date.now() - t;
    for (const [tag, ms] of Object.entries(built)) if (ms) console.log(`      built ${tag} in ${Math.round(ms / 1000)} s`);
    for (const [k, v] of Object.entries({ ...ENGINE_IMAGE_ENV, BERTH_BACKUP_DIR: "" })) {
      savedEnv[k] = process.env[k];
      process.env[k] = v;
    }
    backupDir = path.join(os.tmpdir(), `berth-backups-${process.pid}`);
    process.env.BERTH_BACKUP_DIR = backupDir;
    store = await startSystemPostgres();
    dataDir = tempDir("berth-dbtest-");
    const capture = new Writable({ write: (chunk, _e, cb) => (logs.push(chunk.toString()), cb()) });
    const logger = winston.createLogger({ level: "debug", format: winston.format.json(), transports: [new winston.transports.Stream({ stream: capture })] });
    berth = await startBerth({ dataDir, listen: "127.0.0.1:0", databaseUrl: store.url, logger, controllers: true, resyncMs: 3000 });
    const r = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} });
    expect(r.status, r.text).to.equal(201);
  });

  after(async () => {
    await berth?.stop();
    await cleanupProject(P).catch(() => undefined);
    await store?.stop().catch(() => undefined);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (backupDir) rmSync(backupDir, { recursive: true, force: true });
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (Object.keys(timings).length) console.log(`      timings: ${Object.entries(timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(", ")}`);
  });

  it("runs a postgresql Database: initializing, then Ready once SELECT 1 answers; container, labels, volume, port, config", async () => {
    await create("databases", database("app-db", { engine: "postgresql", version: "15", storage: { size: "1Gi" }, config: { max_connections: "42" }, backup: { retention: 2 } }));
    // An Application with envFrom only (no dependsOn) waits for the Database too.
    await create("applications", {
      apiVersion: "berth.dev/v1alpha1",
      kind: "Application",
      metadata: { name: "api", namespace: P },
      spec: {
        source: { image: PG_IMAGE },
        command: ["sh", "-c", `while true; do ${sql("SELECT 1")} > /tmp/probe.tmp 2>&1; mv /tmp/probe.tmp /tmp/probe; sleep 1; done`],
        envFrom: [{ databaseRef: "app-db" }],
      },
    });
    const waiting = await waitFor("api waiting for app-db", async () => {
      const a = await get("applications", "api");
      return cond(a, "Ready")?.reason === "DependencyNotReady" ? a : undefined;
    }, 30_000, 100);
    expect(cond(waiting, "Ready")!.message).to.include("Database/app-db");
    const phases = new Set<string>();
    const t0 = Date.now();
    const db = await waitFor("app-db Ready", async () => {
      const d = await get("databases", "app-db");
      if (d.status?.phase) phases.add(d.status.phase);
      return cond(d, "Ready")?.status === "True" ? d : undefined;
    }, 180_000, 100);
    timings["postgresql create → Ready"] = Date.now() - t0;
    expect([...phases]).to.include("initializing");
    expect(db.status.phase).to.equal("running");
    expect(cond(db, "Ready")!.reason).to.equal("EngineReady");
    expect(db.status.host).to.equal(dbContainer("app-db"));
    expect(db.status.endpoint).to.equal(`${dbContainer("app-db")}:5432`);
    expect(db.status.publishedEndpoint).to.match(/^127\.0\.0\.1:\d+$/);
    expect(db.status.connectionString).to.equal(`postgresql://app_db:<redacted>@${dbContainer("app-db")}:5432/app_db`);
    expect(db.status.image).to.equal("berth-test/postgresql:15");
    expect(db.status.volume).to.equal(`berth-${P}-app-db-data`);

    const [c] = await docker.listContainers({ all: true, filters: { label: [`berth.dev/project=${P}`, "berth.dev/kind=Database"] } });
    expect(c.Names[0]).to.equal(`/${dbContainer("app-db")}`);
    expect(c.Labels).to.include({ "berth.dev/managed-by": "berth", "berth.dev/name": "app-db", "berth.dev/owner-uid": db.metadata.uid, "berth.dev/replica": "0" });
    expect(c.Labels["berth.dev/config-hash"]).to.equal(db.status.configHash);
    expect(c.Labels["berth.dev/instance"]).to.match(/^[0-9a-f-]{36}$/);
    const inspect = await docker.getContainer(c.Id).inspect();
    expect(Object.keys(inspect.NetworkSettings.Networks)).to.deep.equal([`berth-${P}`]);
    expect(inspect.Mounts.map((m) => [m.Name, m.Destination])).to.deep.equal([[`berth-${P}-app-db-data`, "/var/lib/postgresql/data"]]);
    expect(inspect.HostConfig.PortBindings!["5432/tcp"][0].HostIp).to.equal("127.0.0.1");
    const volume = await docker.getVolume(`berth-${P}-app-db-data`).inspect();
    expect(volume.Labels).to.include({ "berth.dev/kind": "Database", "berth.dev/project": P, "berth.dev/name": "app-db" });
    const row = (await berth.dataSource.query(`SELECT size_gb, database_id, deletion_policy, mount_path FROM volumes WHERE name = $1`, [`berth-${P}-app-db-data`]))[0];
    expect(row).to.deep.equal({ size_gb: 1, database_id: db.metadata.uid, deletion_policy: "Retain", mount_path: "/var/lib/postgresql/data" });
    // spec.config became `-c max_connections=42`.
    expect(await exec(dbContainer("app-db"), `PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -X -tAc 'SHOW max_connections'`)).to.equal("42");
  });

  it("the Application gets DATABASE_URL and PG* variables and connects with them", async () => {
    const t = Date.now();
    const app = await waitFor("api Ready", async () => {
      const a = await get("applications", "api");
      return cond(a, "Ready")?.status === "True" ? a : undefined;
    }, 60_000, 250);
    timings["app Ready after db"] = Date.now() - t;
    expect(app.status.phase).to.equal("running");
    const creds = await reveal("app-db");
    const env = (await docker.getContainer(`${P}-api-0`).inspect()).Config.Env;
    expect(env).to.include(`DATABASE_URL=postgresql://app_db:${creds.password}@${dbContainer("app-db")}:5432/app_db`);
    expect(env).to.include.members([`PGHOST=${dbContainer("app-db")}`, "PGPORT=5432", "PGUSER=app_db", `PGPASSWORD=${creds.password}`, "PGDATABASE=app_db"]);
    // The application's own loop connected with the injected URL.
    await waitFor("the app's psql loop to succeed", async () => (await exec(`${P}-api-0`, "cat /tmp/probe 2>/dev/null || true")) === "1", 30_000, 250);
  });

  it("reveals credentials only through the audited endpoint and `berth db credentials`; they open the published port", async () => {
    const cli = await runBerth(["db", "credentials", "-n", P, "app-db", "-o", "json"], { kubeconfig: berth.kubeconfigPath });
    expect(cli.code, cli.stderr).to.equal(0);
    const creds = JSON.parse(cli.stdout);
    expect(creds).to.include({ engine: "postgresql", username: "app_db", database: "app_db", host: dbContainer("app-db"), port: 5432 });
    expect(creds.password).to.match(/^[A-Za-z0-9]{32}$/);
    const text = await runBerth(["db", "credentials", "-n", P, "app-db"], { kubeconfig: berth.kubeconfigPath });
    expect(text.stdout).to.match(/password:\s+[A-Za-z0-9]{32}/);
    const audits = await berth.dataSource.query(`SELECT action, resource_type, details, user_agent FROM audit_logs WHERE action = 'reveal-credentials' ORDER BY id`);
    expect(audits.length).to.be.at.least(2);
    expect(audits[0]).to.include({ resource_type: "database" });
    expect(audits[0].details).to.include({ name: "app-db", namespace: P });
    // From this host, through the port published on 127.0.0.1.
    const client = new pg.Client({ connectionString: creds.publishedConnectionString });
    await client.connect();
    try {
      expect((await client.query("SELECT current_user AS u")).rows[0].u).to.equal("app_db");
    } finally {
      await client.end();
    }
    const missing = await call(berth, "GET", `/berth/v1/namespaces/${P}/databases/nope/credentials`);
    expect(missing.status).to.equal(404);
    const unauth = await call(berth, "GET", `/berth/v1/namespaces/${P}/databases/app-db/credentials`, undefined, { token: null });
    expect(unauth.status).to.equal(401);
  });

  it("backs up with pg_dump (berth db backup), and a restore (berth db restore) brings dropped rows back", async () => {
    const app = `${P}-api-0`;
    await exec(app, sql("CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')"));
    const t = Date.now();
    const b = await runBerth(["db", "backup", "-n", P, "app-db"], { kubeconfig: berth.kubeconfigPath });
    timings["postgresql backup (CLI)"] = Date.now() - t;
    expect(b.code, b.stderr).to.equal(0);
    expect(b.stdout).to.match(/^backup [0-9a-f-]{36} of database\/app-db completed: /);
    const id = /^backup ([0-9a-f-]{36})/.exec(b.stdout)![1];
    const row = (await berth.dataSource.query(`SELECT status, storage_path, size_bytes, source, completed_at FROM backups WHERE id = $1`, [id]))[0];
    expect(row.status).to.equal("success");
    expect(row.source).to.equal("manual");
    expect(row.storage_path.startsWith(path.join(backupDir, P, "app-db") + path.sep)).to.equal(true);
    expect(readFileSync(row.storage_path).subarray(0, 5).toString()).to.equal("PGDMP");
    expect(Number(row.size_bytes)).to.equal(readFileSync(row.storage_path).length);

    await exec(app, sql("DROP TABLE items"));
    expect(await exec(app, `${sql("SELECT count(*) FROM items")} 2>&1 || true`)).to.match(/does not exist/);
    const t2 = Date.now();
    const r = await runBerth(["db", "restore", "-n", P, "app-db", "--from", id.slice(0, 8)], { kubeconfig: berth.kubeconfigPath });
    timings["postgresql restore (CLI)"] = Date.now() - t2;
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include(`restored from backup ${id}`);
    expect(await exec(app, sql("SELECT string_agg(name, ',' ORDER BY id) FROM items"))).to.equal("a,b,c");

    const list = await runBerth(["db", "backups", "-n", P, "app-db"], { kubeconfig: berth.kubeconfigPath });
    expect(list.stdout).to.match(/ID\s+STATUS\s+SOURCE\s+SIZE/);
    expect(list.stdout).to.include(id);
    const db = await waitFor("status shows the backup", async () => {
      const d = await get("databases", "app-db");
      return d.status?.lastBackup?.id === id ? d : undefined;
    }, 20_000);
    expect(cond(db, "LastBackupSucceeded")).to.include({ status: "True", reason: "BackupSucceeded" });
    const metrics = await call(berth, "GET", "/metrics");
    expect(metrics.text).to.match(/berth_backups_total\{engine="postgresql",result="success"\} [1-9]/);
    expect(metrics.text).to.match(/berth_restores_total\{engine="postgresql",result="success"\} 1/);
    const audit = await berth.dataSource.query(`SELECT action FROM audit_logs WHERE action IN ('backup', 'restore') ORDER BY id`);
    expect(audit.map((a: Obj) => a.action)).to.deep.equal(["backup", "restore"]);
  });

  it("keeps only the newest `retention` backups (files and rows)", async () => {
    const first = (await berth.dataSource.query(`SELECT id, storage_path FROM backups ORDER BY created_at LIMIT 1`))[0];
    const b2 = await backupNow("app-db");
    const b3 = await backupNow("app-db");
    expect([b2.status, b3.status]).to.deep.equal(["success", "success"]);
    const list = (await call(berth, "GET", `/berth/v1/namespaces/${P}/databases/app-db/backups`)).body.items;
    expect(list.map((b: Obj) => b.id)).to.deep.equal([b3.id, b2.id]);
    expect(existsSync(first.storage_path)).to.equal(false);
    expect(existsSync(b3.path)).to.equal(true);
  });

  it("mariadb (mysql) and redis: create → Ready → backup → restore", async () => {
    await create("databases", database("shop", { engine: "mysql", version: "10", config: { "max-connections": "33" } }));
    await create("databases", database("cache", { engine: "redis", version: "7", backup: { schedule: "0 3 * * *", retention: 5 }, deletionPolicy: "Delete" }));
    const [shop, cache] = await Promise.all([waitReady("shop"), waitReady("cache")]);
    expect(shop.status.connectionString).to.equal(`mysql://shop:<redacted>@${dbContainer("shop")}:3306/shop`);
    expect(cache.status.connectionString).to.equal(`redis://default:<redacted>@${dbContainer("cache")}:6379/0`);
    await reveal("shop");
    await reveal("cache");

    // mysql: the application user works; the dump drops and re-creates the database on restore.
    const mysql = (q: string): string => `MYSQL_PWD="$MYSQL_PASSWORD" mysql -h 127.0.0.1 -u"$MYSQL_USER" -N -B "$MYSQL_DATABASE" -e "${q}"`;
    expect(await exec(dbContainer("shop"), mysql("SELECT @@max_connections"))).to.equal("33");
    await exec(dbContainer("shop"), mysql("CREATE TABLE orders (id INT PRIMARY KEY, total INT); INSERT INTO orders VALUES (1, 10), (2, 20)"));
    let t = Date.now();
    const mb = await backupNow("shop");
    timings["mysql backup"] = Date.now() - t;
    expect(mb.status, mb.error).to.equal("success");
    expect(readFileSync(mb.path, "utf8")).to.include("CREATE TABLE `orders`");
    await exec(dbContainer("shop"), mysql("DELETE FROM orders; CREATE TABLE junk (x INT)"));
    t = Date.now();
    const mr = await restoreFrom("shop", mb.id);
    timings["mysql restore"] = Date.now() - t;
    expect(mr.status, mr.error).to.equal("success");
    expect(await exec(dbContainer("shop"), mysql("SELECT SUM(total) FROM orders"))).to.equal("30");
    expect(await exec(dbContainer("shop"), mysql("SHOW TABLES"))).to.equal("orders");

    // redis: BGSAVE + copy; restore replaces dump.rdb while the server is stopped.
    await exec(dbContainer("cache"), `redis-cli -h 127.0.0.1 SET greeting hello && redis-cli -h 127.0.0.1 SET counter 7`);
    t = Date.now();
    const rb = await backupNow("cache");
    timings["redis backup"] = Date.now() - t;
    expect(rb.status, rb.error).to.equal("success");
    expect(readFileSync(rb.path).subarray(0, 5).toString()).to.equal("REDIS");
    await exec(dbContainer("cache"), `redis-cli -h 127.0.0.1 FLUSHALL && redis-cli -h 127.0.0.1 SET other 1`);
    t = Date.now();
    const rr = await restoreFrom("cache", rb.id);
    timings["redis restore"] = Date.now() - t;
    expect(rr.status, rr.error).to.equal("success");
    expect(await exec(dbContainer("cache"), `redis-cli -h 127.0.0.1 GET greeting; redis-cli -h 127.0.0.1 GET counter; redis-cli -h 127.0.0.1 EXISTS other`)).to.equal("hello\n7\n0");
    await waitReady("cache");
  });

  it("takes a scheduled backup when the cron schedule fires (the leader runs it)", async () => {
    const db = await get("databases", "cache");
    const created = new Date(db.metadata.creationTimestamp);
    // The next 03:00 UTC after the Database existed, plus a few seconds: the schedule has fired.
    const fire = new Date(Date.UTC(created.getUTCFullYear(), created.getUTCMonth(), created.getUTCDate() + (created.getUTCHours() >= 3 ? 1 : 0), 3, 0, 0));
    const clock = new Date(fire.getTime() + 5000);
    const noop = (): void => undefined;
    const scheduler = new BackupWorker({ store: berth.store, backups: berth.stores.backups, credentials: undefined as never, driver: undefined as never, events: undefined as never, metrics: undefined as never, logger: winston.createLogger({ silent: true }), maintenance: undefined as never, box: undefined as never, enqueue: noop, backupDir, timeZone: "UTC", now: () => clock });
    expect(await scheduler.schedulePass()).to.equal(1);
    expect(await scheduler.schedulePass()).to.equal(0);
    const row = await waitFor("the scheduled backup to finish", async () => {
      const r = (await berth.dataSource.query(`SELECT status, source, error FROM backups WHERE database_id = $1 AND source = 'schedule'`, [db.metadata.uid]))[0];
      return r && (r.status === "success" || r.status === "failed") ? r : undefined;
    }, 60_000);
    expect(row).to.deep.include({ status: "success", source: "schedule" });
  });

  it("keeps credentials out of the store (pg_dump), API output and events", async () => {
    expect(passwords.length).to.be.at.least(4);
    const dump = execFileSync("/usr/lib/postgresql/15/bin/pg_dump", ["--data-only", store.url], { maxBuffer: 256 * 1024 * 1024 }).toString();
    expect(dump).to.include("enc:v1:");
    expect(dump).to.include("berth_retained_credentials");
    for (const pw of passwords) expect(dump.includes(pw), "a password in the store dump").to.equal(false);
    const outputs = [
      (await call(berth, "GET", `${G}/namespaces/${P}/databases`)).text,
      (await call(berth, "GET", `${G}/databases`)).text,
      (await call(berth, "GET", `${G}/namespaces/${P}/databases/app-db`)).text,
      (await call(berth, "GET", `${G}/namespaces/${P}/databases`, undefined, { accept: "application/json;as=Table;v=v1;g=meta.k8s.io" })).text,
      (await call(berth, "GET", `${G}/namespaces/${P}/applications/api`)).text,
      (await call(berth, "GET", `/api/v1/namespaces/${P}/events`)).text,
      (await call(berth, "GET", `/berth/v1/namespaces/${P}/databases/app-db/backups`)).text,
      (await call(berth, "GET", `/berth/v1/namespaces/${P}/databases/app-db/restores`)).text,
      (await call(berth, "GET", `${G}/namespaces/${P}/databases?watch=true&resourceVersion=0&timeoutSeconds=1`)).text,
    ];
    for (const text of outputs) for (const pw of passwords) expect(text.includes(pw), "a password in API output").to.equal(false);
    const described = await runBerth(["describe", "database", "app-db", "-n", P], { kubeconfig: berth.kubeconfigPath });
    expect(described.code, described.stderr).to.equal(0);
    for (const pw of passwords) expect(described.stdout.includes(pw)).to.equal(false);
  });

  it("shows a failed backup on the Database's conditions and in berth_backups_total; suspend stops the container", async () => {
    const r = await call(berth, "PATCH", `${G}/namespaces/${P}/databases/shop`, { spec: { suspend: true } }, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
    await waitFor("shop stopped", async () => (await get("databases", "shop")).status?.phase === "stopped", 60_000);
    const [c] = await docker.listContainers({ all: true, filters: { name: [dbContainer("shop")] } });
    expect(c.State).to.equal("exited");
    const b = await call(berth, "POST", `/berth/v1/namespaces/${P}/databases/shop/backups`);
    expect(b.body.status).to.equal("failed");
    expect(b.body.error).to.include("not running");
    const cli = await runBerth(["db", "backup", "-n", P, "shop"], { kubeconfig: berth.kubeconfigPath });
    expect(cli.code).to.equal(1);
    expect(cli.stderr).to.match(/failed: the database container is not running/);
    const db = await waitFor("BackupFailed on the conditions", async () => {
      const d = await get("databases", "shop");
      return cond(d, "LastBackupSucceeded")?.status === "False" ? d : undefined;
    }, 20_000);
    expect(cond(db, "LastBackupSucceeded")!.reason).to.equal("BackupFailed");
    expect(cond(db, "Degraded")).to.include({ status: "True", reason: "BackupFailed" });
    expect(db.status.lastBackup).to.include({ status: "failed" });
    const metrics = await call(berth, "GET", "/metrics");
    expect(metrics.text).to.match(/berth_backups_total\{engine="mysql",result="failed"\} 2/);
    const events = (await call(berth, "GET", `/api/v1/namespaces/${P}/events`)).body.items;
    expect(events.some((e: Obj) => e.reason === "BackupFailed" && e.involvedObject.name === "shop" && e.type === "Warning")).to.equal(true);
  });

  it("a version whose image is not present reports ImageNotFound and creates nothing", async () => {
    await create("databases", database("future", { engine: "postgresql", version: "99" }));
    const db = await waitFor("ImageNotFound", async () => {
      const d = await get("databases", "future");
      return cond(d, "Ready")?.reason === "ImageNotFound" ? d : undefined;
    }, 60_000);
    expect(db.status.phase).to.equal("failed");
    expect(cond(db, "Ready")!.status).to.equal("False");
    expect(cond(db, "Ready")!.message).to.include('image "berth-test/postgresql:99" is not present on the Docker engine, and registry docker.io has no image');
    expect(await docker.listContainers({ all: true, filters: { name: [dbContainer("future")] } })).to.have.length(0);
    const events = (await call(berth, "GET", `/api/v1/namespaces/${P}/events`)).body.items;
    expect(events.some((e: Obj) => e.reason === "ImageNotFound" && e.involvedObject.name === "future")).to.equal(true);
    await deleteAndWait("databases", "future");
    expect(await volumeExists(`berth-${P}-future-data`)).to.equal(false);
  });

  it("deletionPolicy Retain keeps the volume; a re-created Database reuses its data and credentials", async () => {
    const before = await reveal("app-db");
    const t = Date.now();
    await deleteAndWait("databases", "app-db");
    timings["postgresql delete (Retain)"] = Date.now() - t;
    expect(await docker.listContainers({ all: true, filters: { name: [dbContainer("app-db")] } })).to.have.length(0);
    expect(await volumeExists(`berth-${P}-app-db-data`)).to.equal(true);
    const vol = (await berth.dataSource.query(`SELECT database_id FROM volumes WHERE name = $1`, [`berth-${P}-app-db-data`]))[0];
    expect(vol).to.deep.equal({ database_id: null });

    await create("databases", database("app-db", { engine: "postgresql", version: "15", storage: { size: "1Gi" } }));
    await waitReady("app-db");
    const after = await reveal("app-db");
    expect(after.password).to.equal(before.password);
    expect(await exec(dbContainer("app-db"), `PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -X -tAc 'SELECT count(*) FROM items'`)).to.equal("3");
    const events = (await call(berth, "GET", `/api/v1/namespaces/${P}/events`)).body.items;
    expect(events.some((e: Obj) => e.reason === "CredentialsReused" && e.involvedObject.name === "app-db")).to.equal(true);
    // The Application reconnects to the new container under the same name with the same URL.
    await exec(`${P}-api-0`, "rm -f /tmp/probe");
    await waitFor("the app's psql loop to succeed again", async () => (await exec(`${P}-api-0`, "cat /tmp/probe 2>/dev/null || true")) === "1", 30_000, 250);
  });

  it("deletionPolicy Delete removes the volume and its retained credentials", async () => {
    await deleteAndWait("applications", "api");
    const r = await call(berth, "PATCH", `${G}/namespaces/${P}/databases/app-db`, { spec: { deletionPolicy: "Delete" } }, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
    await Promise.all([deleteAndWait("databases", "app-db"), deleteAndWait("databases", "shop"), deleteAndWait("databases", "cache")]);
    expect(await volumeExists(`berth-${P}-app-db-data`)).to.equal(false);
    expect(await volumeExists(`berth-${P}-cache-data`)).to.equal(false);
    // shop kept the default (Retain).
    expect(await volumeExists(`berth-${P}-shop-data`)).to.equal(true);
    const retained = await berth.dataSource.query(`SELECT volume_name FROM berth_retained_credentials ORDER BY 1`);
    expect(retained.map((x: Obj) => x.volume_name)).to.deep.equal([`berth-${P}-shop-data`]);
    expect(await berth.dataSource.query(`SELECT name FROM volumes WHERE name LIKE $1`, [`berth-${P}-app-db%`])).to.deep.equal([]);
  });

  it("never logged a password", () => {
    expect(logs.length).to.be.greaterThan(10);
    const all = logs.join("");
    for (const pw of passwords) expect(all.includes(pw), "a password in the logs").to.equal(false);
  });
});

import { expect } from "chai";
import { dueScheduledBackup, backupRoot } from "../../src/reconcilers/database/backup-worker.js";
import { envFromDependencies } from "../../src/reconcilers/application/env.js";
import { scrub } from "../../src/reconcilers/shared/failures.js";
import {
  applicationEnv,
  backupCommand,
  configArgs,
  connectionUrl,
  containerEnv,
  generateCredentials,
  identifierFor,
  InvalidConfigError,
  readinessProbe,
  resolveImage,
  restoreCommand,
  serverCommand,
  sizeInGb,
  type Credentials,
} from "../../src/runtime/database-engines.js";
import { databaseConfigHash, databaseContainerOptions, type DatabaseRuntime } from "../../src/runtime/database-spec.js";

const PW = "S3cretS3cretS3cretS3cretS3cret12";

function creds(engine: Credentials["engine"]): Credentials {
  const base = { username: "app_db", password: PW, database: "app_db" };
  if (engine === "mysql") return { engine, ...base, rootPassword: "R00tR00tR00tR00tR00tR00tR00tR00t" };
  if (engine === "redis") return { engine, username: "default", password: PW, database: "0" };
  return { engine, ...base };
}

function runtime(engine: Credentials["engine"], over: Partial<DatabaseRuntime> = {}): DatabaseRuntime {
  return { project: "shop", name: "app-db", uid: "00000000-0000-0000-0000-000000000001", engine, image: resolveImage({ engine, version: "7" }, {}), credentials: creds(engine), ...over };
}

describe("databases: engines, container definitions and plans (no Docker)", () => {
  it("resolves images: spec.image, then BERTH_DB_IMAGE_<ENGINE> with {version}, then the official image", () => {
    expect(resolveImage({ engine: "postgresql", version: "16" }, {})).to.equal("postgres:16");
    expect(resolveImage({ engine: "mysql", version: "8" }, {})).to.equal("mysql:8");
    expect(resolveImage({ engine: "mongodb", version: "7" }, {})).to.equal("mongo:7");
    expect(resolveImage({ engine: "redis", version: "7" }, {})).to.equal("redis:7");
    expect(resolveImage({ engine: "postgresql", version: "15" }, { BERTH_DB_IMAGE_POSTGRESQL: "berth-test/postgresql:{version}" })).to.equal("berth-test/postgresql:15");
    expect(resolveImage({ engine: "postgresql", version: "15", image: "mine/pg:x" }, { BERTH_DB_IMAGE_POSTGRESQL: "berth-test/postgresql:{version}" })).to.equal("mine/pg:x");
  });

  it("generates credentials once per engine with names from the object and strong passwords", () => {
    const a = generateCredentials("postgresql", "app-postgres");
    const b = generateCredentials("postgresql", "app-postgres");
    expect(a.username).to.equal("app_postgres");
    expect(a.database).to.equal("app_postgres");
    expect(a.password).to.match(/^[A-Za-z0-9]{32}$/);
    expect(a.password).to.not.equal(b.password);
    const m = generateCredentials("mysql", "root");
    expect(m.username).to.equal("app");
    expect(m.rootPassword).to.match(/^[A-Za-z0-9]{32}$/).and.not.equal(m.password);
    expect(generateCredentials("mysql", "a-very-long-database-name-that-goes-on-and-on").username.length).to.be.at.most(32);
    expect(generateCredentials("redis", "cache")).to.include({ username: "default", database: "0" });
    expect(identifierFor("1st-db")).to.equal("db_1st_db");
  });

  it("follows each official image's environment contract", () => {
    expect(containerEnv(creds("postgresql"))).to.deep.equal({ POSTGRES_USER: "app_db", POSTGRES_PASSWORD: PW, POSTGRES_DB: "app_db" });
    expect(containerEnv(creds("mysql"))).to.deep.equal({ MYSQL_ROOT_PASSWORD: "R00tR00tR00tR00tR00tR00tR00tR00t", MYSQL_DATABASE: "app_db", MYSQL_USER: "app_db", MYSQL_PASSWORD: PW });
    expect(containerEnv(creds("mongodb"))).to.deep.equal({ MONGO_INITDB_ROOT_USERNAME: "app_db", MONGO_INITDB_ROOT_PASSWORD: PW, MONGO_INITDB_DATABASE: "app_db" });
    expect(serverCommand(creds("redis"), undefined)).to.deep.equal(["redis-server", "--requirepass", PW, "--dir", "/data"]);
  });

  it("applies config as engine settings, sorted, and refuses settings Berth owns", () => {
    const config = { max_connections: "100", shared_buffers: "256MB" };
    expect(serverCommand(creds("postgresql"), config)).to.deep.equal(["postgres", "-c", "max_connections=100", "-c", "shared_buffers=256MB"]);
    expect(serverCommand(creds("mysql"), { "max-connections": "50", "character-set-server": "utf8mb4" })).to.deep.equal(["mysqld", "--character-set-server=utf8mb4", "--max-connections=50"]);
    expect(serverCommand(creds("redis"), { maxmemory: "64mb", "maxmemory-policy": "allkeys-lru" }).slice(5)).to.deep.equal(["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]);
    expect(serverCommand(creds("mongodb"), { wiredTigerCacheSizeGB: "1" })).to.deep.equal(["mongod", "--wiredTigerCacheSizeGB", "1"]);
    expect(() => configArgs("redis", { requirepass: "x" })).to.throw(InvalidConfigError, /requirepass/);
    expect(() => configArgs("postgresql", { port: "5433" })).to.throw(InvalidConfigError, /port/);
    expect(() => configArgs("postgresql", { "a b": "1" })).to.throw(InvalidConfigError);
  });

  it("builds the mongodb container: image, env, port on 127.0.0.1, volume, labels, network", () => {
    const rt = runtime("mongodb", { image: resolveImage({ engine: "mongodb", version: "7" }, {}), config: { wiredTigerCacheSizeGB: "1" } });
    const hash = databaseConfigHash(rt);
    const o = databaseContainerOptions(rt, hash);
    expect(o.name).to.equal("shop-app-db-0");
    expect(o.Image).to.equal("mongo:7");
    expect(o.Cmd).to.deep.equal(["mongod", "--wiredTigerCacheSizeGB", "1"]);
    expect(o.Env).to.include.members([`MONGO_INITDB_ROOT_USERNAME=app_db`, `MONGO_INITDB_ROOT_PASSWORD=${PW}`]);
    expect(o.ExposedPorts).to.deep.equal({ "27017/tcp": {} });
    expect(o.HostConfig!.PortBindings).to.deep.equal({ "27017/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] });
    expect(o.HostConfig!.Mounts).to.deep.equal([{ Type: "volume", Source: "berth-shop-app-db-data", Target: "/data/db" }]);
    expect(o.HostConfig!.NetworkMode).to.equal("berth-shop");
    expect(o.Labels).to.deep.include({ "berth.dev/managed-by": "berth", "berth.dev/kind": "Database", "berth.dev/project": "shop", "berth.dev/name": "app-db", "berth.dev/owner-uid": rt.uid, "berth.dev/config-hash": hash, "berth.dev/replica": "0" });
    expect(readinessProbe("mongodb").command.join(" ")).to.include("db.runCommand({ping: 1}).ok");
    expect(backupCommand("mongodb").join(" ")).to.include("mongodump --quiet --archive");
    expect(restoreCommand("mongodb", "/tmp/x.archive")!.join(" ")).to.include("mongorestore --quiet --drop --archive='/tmp/x.archive'");
    expect(connectionUrl(rt.credentials, "shop-app-db-0", 27017)).to.equal(`mongodb://app_db:${PW}@shop-app-db-0:27017/app_db?authSource=admin`);
  });

  it("stops postgres with SIGINT (fast shutdown) and keeps passwords out of every command", () => {
    const o = databaseContainerOptions(runtime("postgresql"), "h");
    expect(o.StopSignal).to.equal("SIGINT");
    for (const engine of ["postgresql", "mysql", "mongodb", "redis"] as const) {
      const cmds = [readinessProbe(engine).command, backupCommand(engine), restoreCommand(engine, "/tmp/f") ?? []];
      for (const c of cmds) expect(c.join(" ")).to.not.include(PW);
    }
  });

  it("hashes what needs a recreate: image, config, credentials; not the object's uid", () => {
    const h = databaseConfigHash(runtime("postgresql"));
    expect(h).to.match(/^[0-9a-f]{16}$/);
    expect(databaseConfigHash(runtime("postgresql", { uid: "other" }))).to.equal(h);
    expect(databaseConfigHash(runtime("postgresql", { image: "postgres:16" }))).to.not.equal(h);
    expect(databaseConfigHash(runtime("postgresql", { config: { max_connections: "10" } }))).to.not.equal(h);
    expect(databaseConfigHash(runtime("postgresql", { credentials: { ...creds("postgresql"), password: "x" } }))).to.not.equal(h);
  });

  it("injects DATABASE_URL and the engine's variables for envFrom", () => {
    expect(applicationEnv(creds("postgresql"), "shop-app-db-0", 5432)).to.deep.equal({
      DATABASE_URL: `postgresql://app_db:${PW}@shop-app-db-0:5432/app_db`,
      PGHOST: "shop-app-db-0",
      PGPORT: "5432",
      PGUSER: "app_db",
      PGPASSWORD: PW,
      PGDATABASE: "app_db",
    });
    expect(applicationEnv(creds("redis"), "shop-cache-0", 6379)).to.include({ REDIS_URL: `redis://default:${PW}@shop-cache-0:6379/0`, REDIS_PASSWORD: PW });
    expect(applicationEnv(creds("mysql"), "h", 3306)).to.include({ DATABASE_URL: `mysql://app_db:${PW}@h:3306/app_db`, MYSQL_USER: "app_db" });
    expect(connectionUrl(creds("postgresql"), "h", 5432, true)).to.equal("postgresql://app_db:<redacted>@h:5432/app_db");
    expect(envFromDependencies({ envFrom: [{ databaseRef: "a" }, { databaseRef: "b" }] })).to.deep.equal([{ kind: "Database", name: "a" }, { kind: "Database", name: "b" }]);
    expect(envFromDependencies({})).to.deep.equal([]);
    expect(scrub(`FATAL: password ${PW} rejected`, [PW])).to.equal("FATAL: password <redacted> rejected");
  });

  it("records storage sizes in whole GiB, rounded up", () => {
    expect(sizeInGb("10Gi")).to.equal(10);
    expect(sizeInGb("500Mi")).to.equal(1);
    expect(sizeInGb("1.5Ti")).to.equal(1536);
    expect(sizeInGb("2G")).to.equal(2);
    expect(sizeInGb(undefined)).to.equal(null);
  });

  it("decides when a scheduled backup is due (one catch-up after downtime, none before creation)", () => {
    const created = new Date("2025-01-01T12:00:00Z");
    const at = (s: string): Date => new Date(s);
    expect(dueScheduledBackup("0 3 * * *", at("2025-01-02T02:59:00Z"), created, undefined, "UTC")).to.equal(undefined);
    expect(dueScheduledBackup("0 3 * * *", at("2025-01-02T03:00:00Z"), created, undefined, "UTC")?.toISOString()).to.equal("2025-01-02T03:00:00.000Z");
    expect(dueScheduledBackup("0 3 * * *", at("2025-01-02T03:00:05Z"), created, at("2025-01-02T03:00:01Z"), "UTC")).to.equal(undefined);
    expect(dueScheduledBackup("0 3 * * *", at("2025-01-05T10:00:00Z"), created, at("2025-01-02T03:00:01Z"), "UTC")?.toISOString()).to.equal("2025-01-05T03:00:00.000Z");
    expect(dueScheduledBackup("0 3 * * *", at("2025-01-01T13:00:00Z"), created, undefined, "UTC")).to.equal(undefined);
    expect(dueScheduledBackup("@hourly", at("2025-01-01T13:00:10Z"), created, undefined, "UTC")?.toISOString()).to.equal("2025-01-01T13:00:00.000Z");
    expect(() => dueScheduledBackup("not a cron", at("2025-01-01T13:00:10Z"), created, undefined, "UTC")).to.throw();
  });

  it("puts backups under BERTH_BACKUP_DIR, else <data-dir>/backups", () => {
    expect(backupRoot("/srv/berth", {})).to.equal("/srv/berth/backups");
    expect(backupRoot("/srv/berth", { BERTH_BACKUP_DIR: "/mnt/backups" })).to.equal("/mnt/backups");
    expect(backupRoot(undefined, { BERTH_DATA_DIR: "/var/lib/berth" })).to.equal("/var/lib/berth/backups");
  });
});

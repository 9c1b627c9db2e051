import { expect } from "chai";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import winston from "winston";
import { startBerth, type Berth } from "../src/main.js";
import { call, runBerth, tempDir } from "./helpers/berth.js";
import { cleanupProject, execIn, requireDocker, waitFor } from "./helpers/docker.js";
import { ENGINE_IMAGE_ENV, ensureEngineImages } from "./helpers/engine-images.js";
import { startSystemPostgres, type TestPostgres } from "./helpers/postgres.js";
import { startTestS3, type TestS3 } from "./helpers/s3.js";

const G = "/apis/berth.dev/v1alpha1";
const P = `s3t-${process.pid}`;
const BUCKET = "backups";
const PREFIX = "berth/";

type Obj = Record<string, any>;

const cond = (o: Obj | undefined, type: string): Obj | undefined => o?.status?.conditions?.find((c: Obj) => c.type === type);

const exec = execIn;

/** psql inside the database container itself (local connections are trusted there). */
const psql = (q: string): string => `psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -X -v ON_ERROR_STOP=1 -tAc "${q}"`;

describe("database backups to an S3-compatible BackupDestination (s3rver on 127.0.0.1)", function () {
  this.timeout(600_000);
  let store: TestPostgres;
  let s3: TestS3;
  let s3c: S3Client;
  let berth: Berth;
  let dataDir: string;
  let backupDir: string;
  const logs: string[] = [];
  const savedEnv: Record<string, string | undefined> = {};
  const container = `${P}-orders-0`;

  const get = async (plural: string, name: string): Promise<Obj> => (await call(berth, "GET", `${G}/namespaces/${P}/${plural}/${name}`)).body;
  const create = async (plural: string, body: Obj): Promise<void> => {
    const r = await call(berth, "POST", `${G}/namespaces/${P}/${plural}`, body);
    expect(r.status, r.text).to.equal(201);
  };
  const patch = async (plural: string, name: string, body: Obj): Promise<void> => {
    const r = await call(berth, "PATCH", `${G}/namespaces/${P}/${plural}/${name}`, body, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
  };
  const destination = (name: string, spec: Obj): Obj => ({
    apiVersion: "berth.dev/v1alpha1",
    kind: "BackupDestination",
    metadata: { name, namespace: P },
    spec: { endpoint: s3.endpoint, bucket: BUCKET, prefix: PREFIX, region: "us-east-1", forcePathStyle: true, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, ...spec },
  });
  const backupNow = async (): Promise<Obj> => {
    const r = await call(berth, "POST", `/berth/v1/namespaces/${P}/databases/orders/backups`);
    expect(r.status, r.text).to.equal(200);
    return r.body;
  };
  const backups = async (): Promise<Obj[]> => (await call(berth, "GET", `/berth/v1/namespaces/${P}/databases/orders/backups`)).body.items;
  const objectKeys = async (): Promise<string[]> => {
    const r = await s3c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: PREFIX }));
    return (r.Contents ?? []).map((o) => o.Key!).sort();
  };
  const objectBytes = async (key: string): Promise<Buffer> => Buffer.from(await (await s3c.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray());
  const keyOf = (b: Obj): string => b.path.slice(`s3://${BUCKET}/`.length);

  before(async function () {
    this.timeout(1_800_000);
    await requireDocker(this);
    await ensureEngineImages(["postgresql"]);
    for (const [k, v] of Object.entries({ ...ENGINE_IMAGE_ENV, BERTH_BACKUP_DIR: "" })) {
      savedEnv[k] = process.env[k];
      process.env[k] = v;
    }
    backupDir = path.join(os.tmpdir(), `berth-s3-backups-${process.pid}`);
    process.env.BERTH_BACKUP_DIR = backupDir;
    s3 = await startTestS3({ buckets: [BUCKET] });
    s3c = new S3Client({ endpoint: s3.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });
    store = await startSystemPostgres();
    dataDir = tempDir("berth-s3test-");
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
    s3c?.destroy();
    await s3?.stop().catch(() => undefined);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (backupDir) rmSync(backupDir, { recursive: true, force: true });
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it("stores a BackupDestination with its secret key sealed: never returned in plaintext", async () => {
    await create("backupdestinations", destination("offsite", {}));
    const got = await get("backupdestinations", "offsite");
    expect(got.spec.secretAccessKey).to.match(/^sealed:v1:/);
    const list = await call(berth, "GET", `${G}/namespaces/${P}/backupdestinations`);
    expect(list.status).to.equal(200);
    expect(list.text).to.not.include(s3.secretAccessKey);
    const all = await call(berth, "GET", `${G}/backupdestinations`);
    expect(all.body.items.map((o: Obj) => o.metadata.name)).to.include("offsite");
    const stored = (await berth.dataSource.query(`SELECT spec FROM backup_destinations WHERE name = 'offsite'`))[0];
    expect(JSON.stringify(stored.spec)).to.not.include(s3.secretAccessKey);
    const cli = await runBerth(["get", "backupdestinations", "-n", P, "-o", "yaml"], { kubeconfig: berth.kubeconfigPath });
    expect(cli.code, cli.stderr).to.equal(0);
    expect(cli.stdout).to.include("offsite");
    expect(cli.stdout).to.not.include(s3.secretAccessKey);
    // Its controller checked the bucket with the keys.
    const ready = await waitFor("offsite Ready", async () => {
      const d = await get("backupdestinations", "offsite");
      return cond(d, "Ready")?.status === "True" ? d : undefined;
    }, 30_000, 200);
    expect(cond(ready, "Ready")).to.include({ reason: "BucketReachable" });
    expect(ready.status.url).to.equal(`s3://${BUCKET}/${PREFIX}`);
  });

  it("backs up a Database to the destination (streamed multipart, SHA-256 on the row and beside the object)", async () => {
    await create("databases", { apiVersion: "berth.dev/v1alpha1", kind: "Database", metadata: { name: "orders", namespace: P }, spec: { engine: "postgresql", version: "15", backup: { destination: "offsite", retention: 2 } } });
    await waitFor("orders Ready", async () => cond(await get("databases", "orders"), "Ready")?.status === "True", 180_000, 250);
    await exec(container, psql("CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 5000) g"));
    const b = await runBerth(["db", "backup", "-n", P, "orders"], { kubeconfig: berth.kubeconfigPath });
    expect(b.code, b.stderr).to.equal(0);
    expect(b.stdout).to.match(new RegExp(`completed: .* at s3://${BUCKET}/${PREFIX}${P}/orders/`));
    const [row] = await backups();
    expect(row).to.include({ status: "success", destination: "offsite" });
    expect(row.sha256).to.match(/^[0-9a-f]{64}$/);
    const body = await objectBytes(keyOf(row));
    expect(body.subarray(0, 5).toString()).to.equal("PGDMP");
    expect(body.length).to.equal(row.sizeBytes);
    expect(createHash("sha256").update(body).digest("hex")).to.equal(row.sha256);
    expect((await objectBytes(`${keyOf(row)}.sha256`)).toString()).to.equal(`${row.sha256}  ${path.basename(keyOf(row))}\n`);
    expect(await objectKeys()).to.deep.equal([keyOf(row), `${keyOf(row)}.sha256`]);
    const listed = await runBerth(["db", "backups", "-n", P, "orders"], { kubeconfig: berth.kubeconfigPath });
    expect(listed.stdout).to.match(/ID\s+STATUS\s+SOURCE\s+SIZE\s+DESTINATION/);
    expect(listed.stdout).to.match(new RegExp(`${row.id}\\s+success\\s+manual\\s+\\S+\\s+offsite`));
    const db = await waitFor("LastBackupSucceeded", async () => {
      const d = await get("databases", "orders");
      return cond(d, "LastBackupSucceeded")?.status === "True" ? d : undefined;
    }, 20_000);
    expect(db.status.lastBackup).to.include({ id: row.id, status: "success" });
  });

  it("restores from the destination with berth db restore: dropped rows come back", async () => {
    const [row] = await backups();
    await exec(container, psql("DROP TABLE items"));
    const r = await runBerth(["db", "restore", "-n", P, "orders", "--from", row.id.slice(0, 8)], { kubeconfig: berth.kubeconfigPath });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include(`restored from backup ${row.id}`);
    expect(await exec(container, psql("SELECT count(*) FROM items"))).to.equal("5000");
  });

  it("applies retention remotely: objects and rows of old backups go", async () => {
    const [first] = await backups();
    const b2 = await backupNow();
    const b3 = await backupNow();
    expect([b2.status, b3.status]).to.deep.equal(["success", "success"]);
    const rows = await backups();
    expect(rows.map((b) => b.id)).to.deep.equal([b3.id, b2.id]);
    const keys = await objectKeys();
    expect(keys).to.have.length(4);
    expect(keys).to.not.include(keyOf(first));
    expect(keys).to.not.include(`${keyOf(first)}.sha256`);
    expect(keys).to.include(keyOf(b3));
  });

  it("refuses to restore a dump whose SHA-256 no longer matches, and loads nothing", async () => {
    const [newest] = await backups();
    const original = await objectBytes(keyOf(newest));
    const tampered = Buffer.from(original);
    tampered[tampered.length - 1] ^= 0xff;
    await s3c.send(new PutObjectCommand({ Bucket: BUCKET, Key: keyOf(newest), Body: tampered }));
    const r = await runBerth(["db", "restore", "-n", P, "orders", "--from", newest.id.slice(0, 8)], { kubeconfig: berth.kubeconfigPath });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/corrupt: its SHA-256 is [0-9a-f]{64}, the backup recorded/);
    await s3c.send(new PutObjectCommand({ Bucket: BUCKET, Key: keyOf(newest), Body: original }));
  });

  it("a wrong secret key fails the backup: BackupFailed names the destination and SignatureDoesNotMatch, a Warning event, no secret anywhere", async () => {
    const wrong = `wrong-secret-${process.pid}-x`;
    await create("backupdestinations", destination("badkeys", { secretAccessKey: wrong }));
    const bad = await waitFor("badkeys not Ready", async () => {
      const d = await get("backupdestinations", "badkeys");
      return cond(d, "Ready")?.status === "False" ? d : undefined;
    }, 30_000, 200);
    expect(cond(bad, "Ready")).to.include({ reason: "SignatureDoesNotMatch" });
    await patch("databases", "orders", { spec: { backup: { destination: "badkeys" } } });
    const b = await backupNow();
    expect(b.status).to.equal("failed");
    expect(b.error).to.match(/BackupDestination badkeys: uploading to s3:\/\/backups\/berth\/ failed: SignatureDoesNotMatch/);
    const db = await waitFor("BackupFailed on the conditions", async () => {
      const d = await get("databases", "orders");
      return cond(d, "LastBackupSucceeded")?.status === "False" ? d : undefined;
    }, 20_000);
    expect(cond(db, "LastBackupSucceeded")).to.include({ reason: "BackupFailed" });
    expect(cond(db, "LastBackupSucceeded")!.message).to.match(/BackupDestination badkeys.*SignatureDoesNotMatch/);
    expect(cond(db, "Degraded")).to.include({ status: "True", reason: "BackupFailed" });
    const events = (await call(berth, "GET", `/api/v1/namespaces/${P}/events`)).body.items;
    expect(events.some((e: Obj) => e.type === "Warning" && e.reason === "BackupFailed" && e.involvedObject.name === "orders" && /SignatureDoesNotMatch/.test(e.message))).to.equal(true);
    // No multipart upload or object was left behind by the failed attempt.
    expect(await objectKeys()).to.have.length(4);
    const everything = [
      JSON.stringify(db),
      JSON.stringify(await backups()),
      (await call(berth, "GET", `/api/v1/namespaces/${P}/events`)).text,
      (await call(berth, "GET", `${G}/namespaces/${P}/backupdestinations`)).text,
      JSON.stringify(bad),
      logs.join(""),
      // Stored history: audit entries and the change feed hold placeholders or ciphertext only.
      JSON.stringify(await berth.dataSource.query(`SELECT details FROM audit_logs`)),
      JSON.stringify(await berth.dataSource.query(`SELECT object FROM resource_changes`)),
    ].join("\n");
    for (const secret of [wrong, s3.secretAccessKey]) expect(everything).to.not.include(secret);
  });

  it("a missing bucket fails the backup with NoSuchBucket; a missing destination says so", async () => {
    await create("backupdestinations", destination("nobucket", { bucket: "no-such-bucket" }));
    await waitFor("nobucket NoSuchBucket", async () => cond(await get("backupdestinations", "nobucket"), "Ready")?.reason === "NoSuchBucket", 30_000, 200);
    await patch("databases", "orders", { spec: { backup: { destination: "nobucket" } } });
    const b = await backupNow();
    expect(b.status).to.equal("failed");
    expect(b.error).to.match(/BackupDestination nobucket: .* failed: NoSuchBucket/);
    await patch("databases", "orders", { spec: { backup: { destination: "gone" } } });
    const c = await backupNow();
    expect(c.error).to.equal(`BackupDestination gone does not exist in project ${P}`);
    // Back to a good destination: backups succeed again and the condition recovers.
    await patch("databases", "orders", { spec: { backup: { destination: "offsite" } } });
    expect((await backupNow()).status).to.equal("success");
    await waitFor("LastBackupSucceeded again", async () => cond(await get("databases", "orders"), "LastBackupSucceeded")?.status === "True", 20_000);
  });
});

import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import winston from "winston";
import type { ResourceObject } from "../../src/core/types.js";
import { BackupDumps } from "../../src/reconcilers/database/backup-dumps.js";
import type { ExecResult, RuntimeDriver } from "../../src/runtime/driver.js";
import type { ResourceStore } from "../../src/store/resources.js";
import { SecretBox } from "../../src/store/secrets.js";
import { startTestS3, type TestS3 } from "../helpers/s3.js";

/**
 * The streamed upload's edges against a real S3-compatible server (s3rver on 127.0.0.1), with a
 * stand-in for docker exec that writes a dump of a chosen size and exits with a chosen code.
 */
describe("BackupDumps to a BackupDestination (s3rver, a scripted exec)", function () {
  this.timeout(60_000);
  let s3: TestS3;
  let s3c: S3Client;
  const box = new SecretBox(randomBytes(32));
  let exit = 0;
  const driver = {
    async exec(_id: string, _cmd: string[], opts: { sink?: Writable }): Promise<ExecResult> {
      const chunks = Array.from({ length: 12 * 16 }, () => Buffer.alloc(64 * 1024, 7));
      try {
        await pipeline(Readable.from(chunks), opts.sink!);
      } catch (e) {
        if (exit === 0) throw e;
      }
      return { exitCode: exit, stdout: "", stderr: exit ? "pg_dump: error: connection lost" : "", timedOut: false };
    },
  } as unknown as RuntimeDriver;

  before(async () => {
    s3 = await startTestS3({ buckets: ["b"] });
    s3c = new S3Client({ endpoint: s3.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  });
  after(async () => {
    s3c.destroy();
    await s3.stop();
  });

  const dumps = (): BackupDumps => {
    const dest: ResourceObject = { apiVersion: "berth.dev/v1alpha1", kind: "BackupDestination", metadata: { name: "d", namespace: "shop" }, spec: { endpoint: s3.endpoint, bucket: "b", region: "us-east-1", forcePathStyle: true, accessKeyId: s3.accessKeyId, secretAccessKey: box.encrypt(s3.secretAccessKey) } };
    const store = { getStored: async (kind: string, _ns: string, name: string) => (kind === "BackupDestination" && name === "d" ? dest : undefined) } as unknown as ResourceStore;
    return new BackupDumps({ store, driver, box, logger: winston.createLogger({ silent: true }), backupDir: "/nonexistent" });
  };
  const db = { spec: { engine: "postgresql" as const, version: "15", backup: { destination: "d" } }, project: "shop", name: "pg" };
  const keys = async (): Promise<string[]> => ((await s3c.send(new ListObjectsV2Command({ Bucket: "b" }))).Contents ?? []).map((o) => o.Key!);

  it("a dump that exits non-zero after 12 MiB leaves no object and no open multipart upload; the error is the dump's", async () => {
    exit = 1;
    const before = s3.requests.length;
    const err = await dumps().dump(db, "11111111-0000-0000-0000-000000000000", { containerId: "c", now: new Date(), timeoutMs: 10_000 }).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.equal("postgresql dump exited with 1: pg_dump: error: connection lost");
    expect(await keys()).to.deep.equal([]);
    // s3rver does not list multipart uploads: the abort request is what shows none is left open.
    const seen = s3.requests.slice(before);
    expect(seen.some((r) => r.startsWith("POST ") && r.includes("?uploads"))).to.equal(true);
    expect(seen.some((r) => r.startsWith("DELETE ") && r.includes("uploadId="))).to.equal(true);
    expect(seen.some((r) => r.startsWith("POST ") && r.includes("uploadId="))).to.equal(false);
  });

  it("a dump that exits 0 becomes the object and its .sha256, in parts", async () => {
    exit = 0;
    const before = s3.requests.length;
    const d = await dumps().dump(db, "22222222-0000-0000-0000-000000000000", { containerId: "c", now: new Date("2026-12-03T10:00:00Z"), timeoutMs: 10_000 });
    expect(d).to.include({ bytes: 12 * 1024 * 1024, destination: "d", path: "s3://b/shop/pg/20261203T100000Z-22222222.dump" });
    expect(await keys()).to.deep.equal(["shop/pg/20261203T100000Z-22222222.dump", "shop/pg/20261203T100000Z-22222222.dump.sha256"]);
    expect(s3.requests.slice(before).filter((r) => r.includes("x-id=UploadPart"))).to.have.length(3); // 5 + 5 + 2 MiB (src/runtime/s3-multipart.ts partBytes)
    const gone = await dumps().remove("shop", [{ id: "x", path: d.path, destination: "d" }]);
    expect([...gone]).to.deep.equal(["x"]);
    expect(await keys()).to.deep.equal([]);
  });
});

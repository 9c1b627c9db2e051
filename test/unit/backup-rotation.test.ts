import { expect } from "chai";
import { backupsToKeep, isoWeek, type RotatedBackup } from "../../src/core/backup-rotation.js";
import { backupDestinationStatusFor } from "../../src/reconcilers/backup-destination/reconciler.js";
import { s3ErrorCode, parseS3Url, s3Url } from "../../src/runtime/s3-destination.js";

/** One backup a day at 03:00 UTC for `days` days ending 2026-12-03, newest first ids d0, d1 … */
function daily(days: number, perDay = 1): RotatedBackup[] {
  const out: RotatedBackup[] = [];
  for (let d = 0; d < days; d++) for (let k = 0; k < perDay; k++) out.push({ id: `d${d}-${k}`, createdAt: new Date(Date.UTC(2026, 11, 3 - d, 3 + k)) });
  return out;
}

describe("backup retention and rotation (pure)", () => {
  it("ISO weeks: Monday starts a week; the first Thursday's week is week 1", () => {
    expect(isoWeek(new Date("2026-12-03T00:00:00Z"))).to.equal("2026-W49");
    expect(isoWeek(new Date("2026-11-30T00:00:00Z"))).to.equal("2026-W49");
    expect(isoWeek(new Date("2026-11-29T23:59:59Z"))).to.equal("2026-W48");
    expect(isoWeek(new Date("2027-01-01T00:00:00Z"))).to.equal("2026-W53");
    expect(isoWeek(new Date("2025-12-29T00:00:00Z"))).to.equal("2026-W01");
  });

  it("no policy keeps everything; retention alone keeps the newest N", () => {
    const all = daily(10);
    expect(backupsToKeep(all, {}).size).to.equal(10);
    expect([...backupsToKeep(all, { last: 3 })]).to.deep.equal(["d0-0", "d1-0", "d2-0"]);
  });

  it("the seed's rotation, 7 daily + 4 weekly, over 60 days of daily backups keeps 7 days and 4 more weeks' newest", () => {
    const keep = backupsToKeep(daily(60), { rotation: { daily: 7, weekly: 4 } });
    // 7 newest days, and the newest of each of the 4 newest weeks (3 of which are already among the days).
    expect([...keep].filter((id) => Number(id.slice(1).split("-")[0]) < 7)).to.have.length(7);
    const weeks = new Set([...keep].map((id) => isoWeek(daily(60).find((b) => b.id === id)!.createdAt)));
    expect(weeks.size).to.equal(4);
    expect(keep.size).to.be.within(8, 11);
    // Idempotent: applying the policy to what it kept keeps the same.
    const kept = daily(60).filter((b) => keep.has(b.id));
    expect(backupsToKeep(kept, { rotation: { daily: 7, weekly: 4 } })).to.deep.equal(keep);
  });

  it("several backups a day: daily keeps the newest of each day; retention adds the newest N besides", () => {
    const keep = backupsToKeep(daily(3, 4), { last: 2, rotation: { daily: 3 } });
    expect([...keep].sort()).to.deep.equal(["d0-2", "d0-3", "d1-3", "d2-3"]);
  });

  it("monthly keeps the newest backup of each month", () => {
    const keep = backupsToKeep(daily(70), { rotation: { monthly: 3 } });
    expect(keep.size).to.equal(3);
  });
});

describe("S3 helpers (pure)", () => {
  it("the error code: S3's Code, the SDK's name, NotFound as NoSuchBucket, else the HTTP status", () => {
    expect(s3ErrorCode({ name: "SignatureDoesNotMatch", $metadata: { httpStatusCode: 403 } })).to.equal("SignatureDoesNotMatch");
    expect(s3ErrorCode({ name: "NotFound", $metadata: { httpStatusCode: 404 } })).to.equal("NoSuchBucket");
    expect(s3ErrorCode({ name: "Error", code: "ECONNREFUSED" })).to.equal("ECONNREFUSED");
    expect(s3ErrorCode({ name: "S3ServiceException", $metadata: { httpStatusCode: 500 } })).to.equal("HTTP500");
  });

  it("s3:// paths round-trip", () => {
    expect(parseS3Url(s3Url("b", "p/x/y.dump"))).to.deep.equal({ bucket: "b", key: "p/x/y.dump" });
    expect(parseS3Url("/var/backups/x.dump")).to.equal(undefined);
  });
});

describe("BackupDestination status (pure)", () => {
  const obj = (status?: Record<string, unknown>) => ({ apiVersion: "berth.dev/v1alpha1", kind: "BackupDestination", metadata: { name: "offsite", namespace: "shop", generation: 2 }, spec: { endpoint: "http://127.0.0.1:9000", bucket: "b", prefix: "p/", region: "us-east-1", accessKeyId: "k", secretAccessKey: "enc:v1:x" }, ...(status ? { status } : {}) });

  it("Ready=True BucketReachable with the url and the check time; rechecked on a period", () => {
    const v = backupDestinationStatusFor(obj(), { checkedAt: "2026-12-03T12:00:00Z" }, {});
    const ready = (v.status.conditions as any[]).find((c) => c.type === "Ready");
    expect(ready).to.include({ status: "True", reason: "BucketReachable", observedGeneration: 2 });
    expect(v.status).to.include({ url: "s3://b/p/", lastCheckedAt: "2026-12-03T12:00:00Z", observedGeneration: 2 });
    expect(v.pollAfter).to.equal(600_000);
  });

  it("a failure is Ready=False with the S3 code as the reason and a Warning event; the last check time is kept", () => {
    const v = backupDestinationStatusFor(obj({ lastCheckedAt: "2026-12-03T11:00:00Z" }), {}, { failure: { reason: "SignatureDoesNotMatch", message: "BackupDestination offsite: listing s3://b/p/ failed: SignatureDoesNotMatch", terminal: false } });
    const ready = (v.status.conditions as any[]).find((c) => c.type === "Ready");
    expect(ready).to.include({ status: "False", reason: "SignatureDoesNotMatch" });
    expect(v.status.lastCheckedAt).to.equal("2026-12-03T11:00:00Z");
    expect(v.events.some((e) => e.type === "Warning" && e.reason === "SignatureDoesNotMatch")).to.equal(true);
  });
});

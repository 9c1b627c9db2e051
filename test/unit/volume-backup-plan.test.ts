import { expect } from "chai";
import type { VolumeBackupInfo } from "../../src/core/records.js";
import type { ApplicationSpec } from "../../src/core/specs.js";
import { archiveName, archiveRelPath, backedUpVolumes, dueVolumeBackup, restoreTargetProblem, volumeBackupsCondition } from "../../src/reconcilers/application/volume-backup-plan.js";
import { helperContainerOptions, helperName } from "../../src/runtime/volume-archive.js";

const ID = "0123abcd-1111-2222-3333-444455556666";

function row(volume: string, status: "success" | "failed", error: string | null = null): VolumeBackupInfo {
  return { id: ID, applicationUid: "u", volume, status, source: "schedule", sizeBytes: 1, path: "/x", destination: null, sha256: null, error, createdAt: "2026-12-03T00:00:00Z", completedAt: "2026-12-03T00:00:01Z" };
}

const spec: ApplicationSpec = {
  volumes: [
    { name: "data", mountPath: "/data", backup: { schedule: "0 3 * * *", retention: 3 } },
    { name: "cache", mountPath: "/cache" },
  ],
};

describe("volume backup planning (ADR 0024)", () => {
  it("only volumes that declare a backup are backed up", () => {
    expect(backedUpVolumes(spec).map((v) => v.name)).to.deep.equal(["data"]);
    expect(backedUpVolumes({})).to.deep.equal([]);
  });

  it("a schedule is due once per fire time, not before the Application existed, and catches up only one missed run", () => {
    const created = new Date("2026-12-01T00:00:00Z");
    const now = new Date("2026-12-03T03:00:00.500Z");
    expect(dueVolumeBackup("0 3 * * *", now, { createdAt: created }, "UTC")?.toISOString()).to.equal("2026-12-03T03:00:00.000Z");
    expect(dueVolumeBackup("0 3 * * *", now, { createdAt: created, lastScheduledAt: new Date("2026-12-03T03:00:00.100Z") }, "UTC")).to.equal(undefined);
    expect(dueVolumeBackup("0 3 * * *", now, { createdAt: new Date("2026-12-03T03:00:00.200Z") }, "UTC"), "created after the fire time").to.equal(undefined);
    // Two days down: one backup, for the newest fire time.
    expect(dueVolumeBackup("0 3 * * *", new Date("2026-12-05T10:00:00Z"), { createdAt: created, lastScheduledAt: new Date("2026-12-02T03:00:00Z") }, "UTC")?.toISOString()).to.equal("2026-12-05T03:00:00.000Z");
    // Six fields: seconds.
    expect(dueVolumeBackup("* * * * * *", new Date("2026-12-03T03:00:07.300Z"), { createdAt: created }, "UTC")?.toISOString()).to.equal("2026-12-03T03:00:07.000Z");
    expect(() => dueVolumeBackup("not a schedule", now, { createdAt: created })).to.throw();
  });

  it("archives are named by time and id prefix under volumes/<project>/<app>/<volume>/", () => {
    const name = archiveName(ID, new Date("2026-12-03T15:04:05.678Z"));
    expect(name).to.equal("20261203T150405Z-0123abcd.tar.gz");
    expect(archiveRelPath({ project: "p", app: "web", volume: "data" }, name)).to.equal("volumes/p/web/data/20261203T150405Z-0123abcd.tar.gz");
  });

  it("a restore target must be a DNS-1123 label", () => {
    expect(restoreTargetProblem("data-restored")).to.equal(undefined);
    for (const bad of ["Data", "-x", "x_y", "../etc", "a".repeat(64), ""]) expect(restoreTargetProblem(bad), bad).to.match(/DNS-1123/);
  });

  it("VolumeBackupsSucceeded: absent without backups, Unknown before the first, False naming the failed volume, else True", () => {
    expect(volumeBackupsCondition({ volumes: [{ name: "cache", mountPath: "/c" }] }, [])).to.equal(undefined);
    expect(volumeBackupsCondition(spec, [])).to.include({ status: "Unknown", reason: "NoBackupYet" });
    const failed = volumeBackupsCondition(spec, [row("data", "failed", "BackupDestination gone does not exist in project p")]);
    expect(failed).to.include({ type: "VolumeBackupsSucceeded", status: "False", reason: "VolumeBackupFailed" });
    expect(failed?.message).to.contain("volume data").and.to.contain("BackupDestination gone does not exist");
    expect(volumeBackupsCondition(spec, [row("data", "success")])).to.include({ status: "True", reason: "LastBackupsSucceeded" });
    expect(volumeBackupsCondition(spec, [row("removed-volume", "failed", "x")]), "a volume no longer backed up is not reported").to.include({ status: "Unknown" });
  });

  it("the helper container mounts the volume at /v (read-only for a backup), has no network, and carries Berth's labels", () => {
    const h = { project: "p", app: "web", volume: "data", dockerVolume: "berth-p-data", image: "img:1", operationId: ID, readOnly: true };
    const o = helperContainerOptions(h);
    expect(o.name).to.equal(helperName(h)).and.to.equal("p-web-vol-data-0123abcd");
    expect(o.HostConfig?.Mounts).to.deep.equal([{ Type: "volume", Source: "berth-p-data", Target: "/v", ReadOnly: true }]);
    expect(o.HostConfig?.NetworkMode).to.equal("none");
    expect(o.Labels).to.include({ "berth.dev/managed-by": "berth", "berth.dev/project": "p", "berth.dev/kind": "VolumeHelper", "berth.dev/name": "web", "berth.dev/volume": "data", "berth.dev/volume-operation": ID });
    expect(o.Labels, "no owner-uid: never counted as a replica").to.not.have.property("berth.dev/owner-uid");
  });
});

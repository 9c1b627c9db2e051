import { randomInt } from "node:crypto";
import type { Credentials, DatabaseSpec, Engine } from "../core/specs.js";

export type { Credentials, DatabaseSpec, Engine };

/**
 * What Berth knows about each database engine, as pure data and functions: the official
 * image's environment contract, how settings become server arguments, where the data lives,
 * and the commands run inside the container (docker exec) to probe readiness, dump and restore.
 *
 * Commands that need a password read it from the container's own environment (the variables
 * of the image contract), so no plaintext secret travels in an exec request or a log line.
 */
export const ENGINES: readonly Engine[] = ["postgresql", "mysql", "mongodb", "redis"];

export interface EngineInfo {
  /** The port the server listens on inside the container. */
  port: number;
  /** Where the data volume is mounted. */
  dataPath: string;
  /** The official image for a version. */
  defaultImage(version: string): string;
  /** postgres shuts down fast (and cleanly) on SIGINT, as the official image's STOPSIGNAL says. */
  stopSignal: string;
  /** Settings Berth itself sets; `spec.config` may not override them. */
  reservedConfig: readonly string[];
  /** Extension of a dump file. */
  dumpExtension: string;
  /** The URL scheme of DATABASE_URL. */
  scheme: string;
}

export const ENGINE_INFO: Record<Engine, EngineInfo> = {
  postgresql: {
    port: 5432,
    dataPath: "/var/lib/postgresql/data",
    defaultImage: (v) => `postgres:${v}`,
    stopSignal: "SIGINT",
    reservedConfig: ["port", "listen_addresses", "data_directory", "unix_socket_directories", "hba_file"],
    dumpExtension: "dump",
    scheme: "postgresql",
  },
  mysql: {
    port: 3306,
    dataPath: "/var/lib/mysql",
    defaultImage: (v) => `mysql:${v}`,
    stopSignal: "SIGTERM",
    reservedConfig: ["port", "bind-address", "bind_address", "datadir", "socket", "user", "skip-networking", "skip_networking"],
    dumpExtension: "sql",
    scheme: "mysql",
  },
  mongodb: {
    port: 27017,
    dataPath: "/data/db",
    defaultImage: (v) => `mongo:${v}`,
    stopSignal: "SIGTERM",
    reservedConfig: ["port", "bind_ip", "bind_ip_all", "dbpath", "auth", "noauth"],
    dumpExtension: "archive",
    scheme: "mongodb",
  },
  redis: {
    port: 6379,
    dataPath: "/data",
    defaultImage: (v) => `redis:${v}`,
    stopSignal: "SIGTERM",
    reservedConfig: ["port", "requirepass", "dir", "dbfilename", "bind", "protected-mode"],
    dumpExtension: "rdb",
    scheme: "redis",
  },
};

/**
 * The image to run: spec.image, else the installation's BERTH_DB_IMAGE_<ENGINE> (a template with
 * a {version} placeholder, e.g. "registry.local/postgres:{version}"), else the official image.
 */
export function resolveImage(spec: Pick<DatabaseSpec, "engine" | "version" | "image">, env: NodeJS.ProcessEnv = process.env): string {
  if (spec.image) return spec.image;
  const template = env[`BERTH_DB_IMAGE_${spec.engine.toUpperCase()}`];
  if (template) return template.replaceAll("{version}", spec.version);
  return ENGINE_INFO[spec.engine].defaultImage(spec.version);
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** 32 characters of [A-Za-z0-9] (≈190 bits): safe in URLs, shells and SQL literals alike. */
export function generatePassword(length = 32): string {
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/** An identifier from the object's name: app-postgres → app_postgres (valid unquoted in every engine). */
export function identifierFor(name: string, max = 63): string {
  const id = name.replace(/-/g, "_").slice(0, max);
  return /^[0-9]/.test(id) ? `db_${id}`.slice(0, max) : id;
}

export function generateCredentials(engine: Engine, name: string): Credentials {
  switch (engine) {
    case "postgresql":
      return { engine, username: identifierFor(name), password: generatePassword(), database: identifierFor(name) };
    case "mysql": {
      // mysql 8 user names are at most 32 characters; root is reserved for the root account.
      const user = identifierFor(name, 32);
      return { engine, username: user === "root" ? "app" : user, password: generatePassword(), database: identifierFor(name, 64), rootPassword: generatePassword() };
    }
    case "mongodb":
      return { engine, username: identifierFor(name), password: generatePassword(), database: identifierFor(name) };
    case "redis":
      return { engine, username: "default", password: generatePassword(), database: "0" };
  }
}

/** The container environment the official image expects. */
export function containerEnv(c: Credentials): Record<string, string> {
  switch (c.engine) {
    case "postgresql":
      return { POSTGRES_USER: c.username, POSTGRES_PASSWORD: c.password, POSTGRES_DB: c.database };
    case "mysql":
      return { MYSQL_ROOT_PASSWORD: c.rootPassword ?? c.password, MYSQL_DATABASE: c.database, MYSQL_USER: c.username, MYSQL_PASSWORD: c.password };
    case "mongodb":
      return { MONGO_INITDB_ROOT_USERNAME: c.username, MONGO_INITDB_ROOT_PASSWORD: c.password, MONGO_INITDB_DATABASE: c.database };
    case "redis":
      // redis-cli reads REDISCLI_AUTH, so probes and backups inside the container need no argument.
      return { REDIS_PASSWORD: c.password, REDISCLI_AUTH: c.password };
  }
}

export class InvalidConfigError extends Error {}

/** spec.config as server arguments, keys sorted so the same config always gives the same hash. */
export function configArgs(engine: Engine, config: Record<string, string> | undefined): string[] {
  const entries = Object.entries(config ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const reserved = ENGINE_INFO[engine].reservedConfig;
  const bad = entries.filter(([k]) => reserved.includes(k.toLowerCase()) || !/^[A-Za-z0-9_.-]+$/.test(k));
  if (bad.length) throw new InvalidConfigError(`spec.config: ${bad.map(([k]) => `"${k}"`).join(", ")} ${bad.length === 1 ? "is" : "are"} set by Berth or not a valid setting name (reserved for ${engine}: ${reserved.join(", ")})`);
  switch (engine) {
    case "postgresql":
      return entries.flatMap(([k, v]) => ["-c", `${k}=${v}`]);
    case "mysql":
      return entries.map(([k, v]) => `--${k}=${v}`);
    case "mongodb":
    case "redis":
      return entries.flatMap(([k, v]) => [`--${k}`, v]);
  }
}

/** The container's command (Cmd); the image's entrypoint stays, as with `docker run IMAGE CMD…`. */
export function serverCommand(c: Credentials, config: Record<string, string> | undefined): string[] {
  const args = configArgs(c.engine, config);
  switch (c.engine) {
    case "postgresql":
      return ["postgres", ...args];
    case "mysql":
      return ["mysqld", ...args];
    case "mongodb":
      return ["mongod", ...args];
    case "redis":
      return ["redis-server", "--requirepass", c.password, "--dir", "/data", ...args];
  }
}

const sh = (script: string): string[] => ["sh", "-c", script];

/**
 * Readiness: the engine must answer a real query over TCP on 127.0.0.1 inside the container, as
 * the application user. TCP matters: the official images initialize on a socket-only temporary
 * server first, which must not count as ready. Each probe prints a known token on success.
 */
export function readinessProbe(engine: Engine): { command: string[]; expect: string } {
  switch (engine) {
    case "postgresql":
      return {
        command: sh(`pg_isready -q -h 127.0.0.1 -p 5432 -U "$POSTGRES_USER" -d "$POSTGRES_DB" && PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -p 5432 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -X -tAc 'SELECT 1'`),
        expect: "1",
      };
    case "mysql":
      return {
        command: sh(`mysqladmin ping -h 127.0.0.1 -P 3306 --silent && MYSQL_PWD="$MYSQL_PASSWORD" mysql -h 127.0.0.1 -P 3306 -u"$MYSQL_USER" -N -B -e 'SELECT 1' "$MYSQL_DATABASE"`),
        expect: "1",
      };
    case "mongodb":
      return {
        command: sh(`(command -v mongosh >/dev/null && mongosh --quiet --host 127.0.0.1 --port 27017 -u "$MONGO_INITDB_ROOT_USERNAME" -p "$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin --eval 'db.runCommand({ping: 1}).ok') || mongo --quiet --host 127.0.0.1 --port 27017 -u "$MONGO_INITDB_ROOT_USERNAME" -p "$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin --eval 'db.runCommand({ping: 1}).ok'`),
        expect: "1",
      };
    case "redis":
      return { command: sh(`redis-cli -h 127.0.0.1 -p 6379 ping`), expect: "PONG" };
  }
}

/** The dump command; it writes the dump to stdout, which Berth streams into the backup file. */
export function backupCommand(engine: Engine): string[] {
  switch (engine) {
    case "postgresql":
      return sh(`PGPASSWORD="$POSTGRES_PASSWORD" pg_dump -h 127.0.0.1 -p 5432 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -Fc`);
    case "mysql":
      return sh(`MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysqldump -h 127.0.0.1 -P 3306 -uroot --single-transaction --routines --events --triggers --add-drop-database --databases "$MYSQL_DATABASE"`);
    case "mongodb":
      return sh(`mongodump --quiet --archive --host 127.0.0.1 --port 27017 -u "$MONGO_INITDB_ROOT_USERNAME" -p "$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin`);
    case "redis":
      // BGSAVE, wait until a save newer than the one before has finished, then print the file.
      // LASTSAVE has one-second resolution: start in a fresh second so "newer" is unambiguous.
      return sh(
        [
          `before=$(redis-cli -h 127.0.0.1 LASTSAVE)`,
          `[ "$before" -lt "$(date +%s)" ] || sleep 1`,
          `redis-cli -h 127.0.0.1 BGSAVE >/dev/null 2>&1 || true`,
          `i=0`,
          `while :; do now=$(redis-cli -h 127.0.0.1 LASTSAVE); busy=$(redis-cli -h 127.0.0.1 INFO persistence | tr -d '\\r' | sed -n 's/^rdb_bgsave_in_progress://p'); if [ "$now" -gt "$before" ] && [ "$busy" = 0 ]; then break; fi; i=$((i + 1)); if [ $i -gt 36000 ]; then echo "BGSAVE did not finish" >&2; exit 1; fi; sleep 0.1; done`,
          `status=$(redis-cli -h 127.0.0.1 INFO persistence | tr -d '\\r' | sed -n 's/^rdb_last_bgsave_status://p')`,
          `[ "$status" = ok ] || { echo "BGSAVE failed: $status" >&2; exit 1; }`,
          `cat /data/dump.rdb`,
        ].join("; "),
      );
  }
}

/**
 * The restore command for a dump copied into the container at `file`. postgresql and mongodb
 * replace the objects the dump contains; mysql drops and re-creates the database. redis has no
 * command: its dump file replaces /data/dump.rdb while the server is stopped (see backups.ts).
 */
export function restoreCommand(engine: Engine, file: string): string[] | undefined {
  const f = `'${file.replace(/'/g, `'\\''`)}'`;
  switch (engine) {
    case "postgresql":
      return sh(`PGPASSWORD="$POSTGRES_PASSWORD" pg_restore -h 127.0.0.1 -p 5432 -U "$POSTGRES_USER" -d "$POSTGRES_DB" --clean --if-exists --no-owner --single-transaction ${f}`);
    case "mysql":
      return sh(`MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql -h 127.0.0.1 -P 3306 -uroot < ${f}`);
    case "mongodb":
      return sh(`mongorestore --quiet --drop --archive=${f} --host 127.0.0.1 --port 27017 -u "$MONGO_INITDB_ROOT_USERNAME" -p "$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin`);
    case "redis":
      return undefined;
  }
}

/** The connection URL; `redact` replaces the password with the placeholder used everywhere. */
export function connectionUrl(c: Credentials, host: string, port: number, redact = false): string {
  const pw = redact ? "<redacted>" : encodeURIComponent(c.password);
  const user = encodeURIComponent(c.username);
  switch (c.engine) {
    case "postgresql":
      return `postgresql://${user}:${pw}@${host}:${port}/${encodeURIComponent(c.database)}`;
    case "mysql":
      return `mysql://${user}:${pw}@${host}:${port}/${encodeURIComponent(c.database)}`;
    case "mongodb":
      return `mongodb://${user}:${pw}@${host}:${port}/${encodeURIComponent(c.database)}?authSource=admin`;
    case "redis":
      return `redis://${user}:${pw}@${host}:${port}/${c.database}`;
  }
}

/** What `envFrom: [{databaseRef}]` injects into an Application: DATABASE_URL and the engine's usual variables. */
export function applicationEnv(c: Credentials, host: string, port: number): Record<string, string> {
  const url = connectionUrl(c, host, port);
  switch (c.engine) {
    case "postgresql":
      return { DATABASE_URL: url, PGHOST: host, PGPORT: String(port), PGUSER: c.username, PGPASSWORD: c.password, PGDATABASE: c.database };
    case "mysql":
      return { DATABASE_URL: url, MYSQL_HOST: host, MYSQL_PORT: String(port), MYSQL_USER: c.username, MYSQL_PASSWORD: c.password, MYSQL_DATABASE: c.database };
    case "mongodb":
      return { DATABASE_URL: url, MONGODB_URI: url, MONGO_URL: url };
    case "redis":
      return { DATABASE_URL: url, REDIS_URL: url, REDIS_HOST: host, REDIS_PORT: String(port), REDIS_PASSWORD: c.password };
  }
}

/** A Kubernetes quantity ("10Gi", "500Mi", "1G") in whole GiB, rounded up, for volumes.size_gb. */
export function sizeInGb(size: string | undefined): number | null {
  if (!size) return null;
  const m = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$/.exec(size);
  if (!m) return null;
  const mult: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
  const bytes = Number(m[1]) * (m[2] ? mult[m[2]] : 1);
  return Math.max(1, Math.ceil(bytes / 2 ** 30));
}

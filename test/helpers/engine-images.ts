import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { docker } from "./docker.js";

/**
 * Database engine images for tests (DESIGN §3). No registry is reachable, so each image is a
 * Debian bookworm root filesystem made by `debootstrap --variant=minbase --include=<package>`,
 * plus a small sh entrypoint that honours the official images' environment contract
 * (POSTGRES_PASSWORD …), imported with `docker import`. Built once per machine, reused by tag.
 *
 * Point the reconciler at them with BERTH_DB_IMAGE_<ENGINE> (see ENGINE_IMAGE_ENV).
 */
export interface EngineImage {
  tag: string;
  /** The Debian package that brings the server and its client tools. */
  pkg: string;
  entrypoint: string;
  changes: string[];
  /** Removed from the root filesystem before import (default clusters, caches). */
  prune: string[];
}

const COMMON_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Shared by the entrypoints: drop to a service user without a forking wrapper (PID 1 stays the server). */
const AS_USER = `as_user() { u="$1"; shift; exec setpriv --reuid="$u" --regid="$u" --init-groups "$@"; }`;

const POSTGRES_ENTRYPOINT = `#!/bin/sh
# The official postgres image's contract: POSTGRES_USER (default postgres), POSTGRES_PASSWORD
# (required), POSTGRES_DB (default: the user), PGDATA; "postgres [-c k=v ...]" runs the server.
set -e
${AS_USER}
if [ "\${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" = postgres ]; then
  shift
  : "\${POSTGRES_USER:=postgres}"
  : "\${POSTGRES_DB:=$POSTGRES_USER}"
  export PGDATA="\${PGDATA:-/var/lib/postgresql/data}"
  mkdir -p "$PGDATA" /run/postgresql
  chown -R postgres:postgres "$PGDATA" /run/postgresql
  chmod 700 "$PGDATA"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "$POSTGRES_PASSWORD" ]; then echo "error: POSTGRES_PASSWORD is required to initialize the database" >&2; exit 1; fi
    pw=$(mktemp)
    printf '%s\\n' "$POSTGRES_PASSWORD" > "$pw"
    chown postgres "$pw"
    (as_user postgres initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pw" -E UTF8 --auth-local=trust --auth-host=scram-sha-256) > /dev/null
    rm -f "$pw"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    # A temporary server on the socket only, as the official image does: not reachable over TCP
    # until initialization is complete.
    (as_user postgres pg_ctl -D "$PGDATA" -w -s -o "-c listen_addresses=''" start)
    if [ "$POSTGRES_DB" != postgres ]; then
      db=$(printf '%s' "$POSTGRES_DB" | sed 's/"/""/g')
      (as_user postgres psql -v ON_ERROR_STOP=1 -q -U "$POSTGRES_USER" -d postgres -c "CREATE DATABASE \\"$db\\"")
    fi
    (as_user postgres pg_ctl -D "$PGDATA" -m fast -w -s stop)
    echo "PostgreSQL init process complete; ready for start up."
  fi
  as_user postgres postgres -D "$PGDATA" -c listen_addresses='*' "$@"
fi
exec "$@"
`;

const MARIADB_ENTRYPOINT = `#!/bin/sh
# The official mysql/mariadb images' contract: MYSQL_ROOT_PASSWORD (required), MYSQL_DATABASE,
# MYSQL_USER and MYSQL_PASSWORD; "mysqld [--key=value ...]" runs the server.
set -e
if [ "\${1#-}" != "$1" ]; then set -- mysqld "$@"; fi
sqlq() { printf '%s' "$1" | sed -e 's/\\\\/\\\\\\\\/g' -e "s/'/''/g"; }
sqli() { printf '%s' "$1" | sed 's/\`/\`\`/g'; }
if [ "$1" = mysqld ] || [ "$1" = mariadbd ]; then
  shift
  mkdir -p /var/lib/mysql /run/mysqld
  chown -R mysql:mysql /var/lib/mysql /run/mysqld
  if [ ! -d /var/lib/mysql/mysql ]; then
    if [ -z "$MYSQL_ROOT_PASSWORD" ]; then echo "error: MYSQL_ROOT_PASSWORD is required to initialize the database" >&2; exit 1; fi
    mysql_install_db --user=mysql --datadir=/var/lib/mysql --skip-test-db --auth-root-authentication-method=normal > /dev/null
    mysqld --user=mysql --datadir=/var/lib/mysql --skip-networking --socket=/run/mysqld/init.sock > /tmp/mysqld-init.log 2>&1 &
    pid=$!
    i=0
    until mysqladmin --socket=/run/mysqld/init.sock -uroot ping > /dev/null 2>&1; do
      i=$((i + 1)); if [ $i -gt 120 ]; then cat /tmp/mysqld-init.log >&2; exit 1; fi; sleep 0.5
    done
    rootpw=$(sqlq "$MYSQL_ROOT_PASSWORD")
    {
      echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$rootpw';"
      echo "CREATE USER 'root'@'%' IDENTIFIED BY '$rootpw'; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
      if [ -n "$MYSQL_DATABASE" ]; then echo "CREATE DATABASE IF NOT EXISTS \\\`$(sqli "$MYSQL_DATABASE")\\\`;"; fi
      if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
        echo "CREATE USER '$(sqlq "$MYSQL_USER")'@'%' IDENTIFIED BY '$(sqlq "$MYSQL_PASSWORD")';"
        if [ -n "$MYSQL_DATABASE" ]; then echo "GRANT ALL ON \\\`$(sqli "$MYSQL_DATABASE")\\\`.* TO '$(sqlq "$MYSQL_USER")'@'%';"; fi
      fi
      echo "FLUSH PRIVILEGES;"
    } | mysql --socket=/run/mysqld/init.sock -uroot
    kill "$pid"
    wait "$pid" || true
    echo "MariaDB init process done. Ready for start up."
  fi
  exec mysqld --user=mysql --datadir=/var/lib/mysql --bind-address=0.0.0.0 "$@"
fi
exec "$@"
`;

const REDIS_ENTRYPOINT = `#!/bin/sh
# The official redis image's contract: "redis-server [--key value ...]" runs the server as the
# redis user with its working directory (and so dump.rdb) in /data.
set -e
${AS_USER}
if [ "\${1#-}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ]; then
  mkdir -p /data
  chown redis:redis /data
  cd /data
  as_user redis "$@"
fi
exec "$@"
`;

export const ENGINE_IMAGES: Record<"postgresql" | "mariadb" | "redis", EngineImage> = {
  postgresql: {
    tag: "berth-test/postgresql:15",
    pkg: "postgresql-15",
    entrypoint: POSTGRES_ENTRYPOINT,
    changes: [`ENV PATH=/usr/lib/postgresql/15/bin:${COMMON_PATH}`, "ENV PGDATA=/var/lib/postgresql/data", 'CMD ["postgres"]', "EXPOSE 5432"],
    prune: ["var/lib/postgresql/15", "etc/postgresql/15/main"],
  },
  mariadb: {
    tag: "berth-test/mariadb:10",
    pkg: "mariadb-server",
    entrypoint: MARIADB_ENTRYPOINT,
    changes: [`ENV PATH=${COMMON_PATH}`, 'CMD ["mysqld"]', "EXPOSE 3306"],
    prune: ["var/lib/mysql"],
  },
  redis: {
    tag: "berth-test/redis:7",
    pkg: "redis-server",
    entrypoint: REDIS_ENTRYPOINT,
    changes: [`ENV PATH=${COMMON_PATH}`, 'CMD ["redis-server"]', "WORKDIR /data", "EXPOSE 6379"],
    prune: ["var/lib/redis/dump.rdb"],
  },
};

/** BERTH_DB_IMAGE_<ENGINE> values that make the reconciler use these images. */
export const ENGINE_IMAGE_ENV: Record<string, string> = {
  BERTH_DB_IMAGE_POSTGRESQL: "berth-test/postgresql:{version}",
  BERTH_DB_IMAGE_MYSQL: "berth-test/mariadb:{version}",
  BERTH_DB_IMAGE_REDIS: "berth-test/redis:{version}",
};

/** The Debian mirror this machine's apt uses (deb822 .sources or one-line lists). */
export function debianMirror(): string {
  const files: string[] = [];
  for (const dir of ["/etc/apt/sources.list.d"]) {
    if (existsSync(dir)) for (const f of readdirSync(dir).sort()) files.push(path.join(dir, f));
  }
  if (existsSync("/etc/apt/sources.list")) files.push("/etc/apt/sources.list");
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    if (f.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const uris = /^URIs:\s*(.+)$/m.exec(stanza)?.[1].trim().split(/\s+/) ?? [];
        const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1].trim().split(/\s+/) ?? [];
        if (suites.includes("bookworm") && uris[0]) return uris[0];
      }
    } else {
      for (const line of text.split("\n")) {
        const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/.exec(line.trim());
        if (m) return m[1];
      }
    }
  }
  return "http://deb.debian.org/debian";
}

function run(cmd: string, args: string[], log: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      writeFileSync(log, out);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}; last output:\n${out.split("\n").slice(-20).join("\n")}`));
    });
  });
}

async function imageExists(tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).inspect();
    return true;
  } catch {
    return false;
  }
}

/** Builds one engine image unless its tag exists; returns the tag and how long it took. */
export async function ensureEngineImage(image: EngineImage): Promise<{ tag: string; builtMs?: number }> {
  if (await imageExists(image.tag)) return { tag: image.tag };
  const started = Date.now();
  const work = mkdtempSync(path.join(os.tmpdir(), "berth-engine-"));
  const root = path.join(work, "rootfs");
  const log = path.join(os.tmpdir(), `berth-engine-${image.tag.replace(/[/:]/g, "-")}.log`);
  try {
    const debootstrap = existsSync("/usr/sbin/debootstrap") ? "/usr/sbin/debootstrap" : "debootstrap";
    if (process.getuid?.() !== 0) throw new Error(`building ${image.tag} needs root (debootstrap); run the suite as root or build the image once as root`);
    await run(debootstrap, ["--variant=minbase", `--include=${image.pkg}`, "bookworm", root, debianMirror()], log);
    for (const p of image.prune) rmSync(path.join(root, p), { recursive: true, force: true });
    for (const d of ["var/cache/apt/archives", "var/lib/apt/lists"]) {
      const dir = path.join(root, d);
      if (existsSync(dir)) for (const f of readdirSync(dir)) if (f !== "partial" && f !== "lock") rmSync(path.join(dir, f), { recursive: true, force: true });
    }
    mkdirSync(path.join(root, "usr/local/bin"), { recursive: true });
    const ep = path.join(root, "usr/local/bin/docker-entrypoint.sh");
    writeFileSync(ep, image.entrypoint);
    chmodSync(ep, 0o755);
    const changes = ['ENTRYPOINT ["docker-entrypoint.sh"]', ...image.changes].flatMap((c) => ["--change", c]);
    const quoted = changes.map((c) => `'${c.replace(/'/g, `'\\''`)}'`).join(" ");
    await run("sh", ["-c", `tar -C '${root}' --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* -c . | docker import ${quoted} - ${image.tag}`], log + ".import");
    // The logs are kept only when a build fails.
    rmSync(log, { force: true });
    rmSync(log + ".import", { force: true });
    return { tag: image.tag, builtMs: Date.now() - started };
  } finally {
    for (const m of ["proc", "sys", "dev/pts"]) await run("umount", ["-l", path.join(root, m)], "/dev/null").catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

/** The three test images, built concurrently when missing (about a minute each on a first run). */
export async function ensureEngineImages(which: (keyof typeof ENGINE_IMAGES)[] = ["postgresql", "mariadb", "redis"]): Promise<Record<string, number | undefined>> {
  const results = await Promise.all(which.map((k) => ensureEngineImage(ENGINE_IMAGES[k])));
  return Object.fromEntries(results.map((r) => [r.tag, r.builtMs]));
}

import { DataSource, MigrationExecutor, type QueryRunner } from "typeorm";
import { ENTITIES } from "./entities/index.js";
import { MIGRATIONS } from "./migrations/index.js";

/** TypeORM's bookkeeping table, prefixed so that Berth can share a database. */
export const MIGRATIONS_TABLE = "berth_migrations";

/**
 * Key of the session advisory lock held while migrating or reverting ("berth" in ASCII,
 * then 1); leader election must use a different key.
 */
export const MIGRATION_LOCK_KEY = "108187851450369";

/**
 * Writes take one advisory lock in turn (resources.ts), so connections past a handful only
 * queue on it while holding a Postgres backend each; reads on two cores gain nothing either.
 */
export const DEFAULT_POOL_SIZE = Number(process.env.BERTH_DB_POOL_SIZE ?? 5);

export interface StoreDataSourceOptions {
  logging?: boolean;
  poolSize?: number;
}

/** A DataSource for Berth's store; call `initialize()` (or `migrate`, which does) before use. */
export function createDataSource(url: string, opts: StoreDataSourceOptions = {}): DataSource {
  return new DataSource({
    type: "postgres",
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsTransactionMode: "all",
    synchronize: false,
    migrationsRun: false,
    uuidExtension: "pgcrypto",
    // gen_random_uuid() is built in since Postgres 13; creating pgcrypto would need
    // rights an external database may not grant, and would outlive revertAll.
    installExtensions: false,
    logging: opts.logging ?? false,
    poolSize: opts.poolSize ?? DEFAULT_POOL_SIZE,
    // An idle control plane should hold no idle backends (each one is a Postgres process);
    // reconnecting after a quiet moment costs a few milliseconds.
    extra: { idleTimeoutMillis: 2000 },
  });
}

async function ensureInitialized(ds: DataSource): Promise<void> {
  if (!ds.isInitialized) await ds.initialize();
}

/**
 * Runs `fn` on one connection that holds the migration lock. The migrations run on that
 * same connection, so a pool of one suffices and the lock cannot outlive the work.
 */
async function withMigrationLock<T>(ds: DataSource, fn: (qr: QueryRunner) => Promise<T>): Promise<T> {
  await ensureInitialized(ds);
  const qr = ds.createQueryRunner();
  try {
    await qr.connect();
    await qr.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
    try {
      return await fn(qr);
    } finally {
      await qr.query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await qr.release();
  }
}

/**
 * Applies pending migrations in one transaction and returns their names ([] when none
 * were pending). Safe when several processes start at once: the others wait for the
 * lock, then find nothing pending.
 */
export async function migrate(ds: DataSource): Promise<string[]> {
  return await withMigrationLock(ds, async (qr) => {
    const executor = new MigrationExecutor(ds, qr);
    executor.transaction = "all";
    const done = await executor.executePendingMigrations();
    return done.map((m) => m.name);
  });
}

/** Reverts every applied migration, newest first, each in its own transaction (for tests). */
export async function revertAll(ds: DataSource): Promise<void> {
  await withMigrationLock(ds, async (qr) => {
    const executor = new MigrationExecutor(ds, qr);
    executor.transaction = "each";
    while ((await executor.getExecutedMigrations()).length > 0) await executor.undoLastMigration();
  });
}

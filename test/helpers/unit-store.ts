import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import type { DataSource } from "typeorm";
import winston from "winston";
import type { ReconcileContext } from "../../src/controller/controller.js";
import { createDataSource, migrate } from "../../src/store/data-source.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../src/store/embedded.js";
import { openStores, type Stores } from "../../src/store/index.js";
import { ensureAdminUser } from "../../src/store/installation.js";
import { SecretBox } from "../../src/store/secrets.js";
import { Metrics } from "../../src/telemetry/metrics.js";
import { tempDir } from "./berth.js";

/** A real (embedded) Postgres with Berth's schema, shared by the unit suites of one mocha run. */
export interface UnitStore {
  ds: DataSource;
  stores: Stores;
  box: SecretBox;
  metrics: Metrics;
  /** Empties every Berth table (between tests). */
  reset(): Promise<void>;
}

let shared: Promise<{ db: EmbeddedDatabase; ds: DataSource; dir: string }> | undefined;

async function boot(): Promise<{ db: EmbeddedDatabase; ds: DataSource; dir: string }> {
  const dir = tempDir("berth-unit-");
  const db = await startEmbeddedPostgres(dir);
  const ds = createDataSource(db.url);
  await migrate(ds);
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return { db, ds, dir };
}

export async function unitStore(): Promise<UnitStore> {
  shared ??= boot();
  const { ds } = await shared;
  const box = new SecretBox(randomBytes(32));
  const adminId = await ensureAdminUser(ds);
  const stores = openStores(ds, box, () => adminId);
  return {
    ds,
    stores,
    box,
    metrics: new Metrics(),
    reset: async () => {
      await ds.query(`TRUNCATE projects, events, resource_changes, audit_logs, berth_retained_credentials CASCADE`);
    },
  };
}

/** After the last unit suite (mocha root hook is not used: this runs at process exit too). */
export async function stopUnitStore(): Promise<void> {
  if (!shared) return;
  const { db, ds, dir } = await shared;
  shared = undefined;
  await ds.destroy().catch(() => undefined);
  await db.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}

export const quiet = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });

export function ctx(): ReconcileContext {
  return { logger: quiet, reconcileId: "test" };
}

// Registered on the root suite when a unit suite imports this helper: the server stops after the run.
if (typeof after === "function") after(() => stopUnitStore());

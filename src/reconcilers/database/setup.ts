import type { SecretBox } from "../../store/secrets.js";
import type { Manager } from "../../controller/manager.js";
import { BackupWorker, backupRoot } from "./backup-worker.js";
import { DatabaseMaintenance } from "./maintenance.js";
import { DatabaseReconciler, type DatabaseDeps } from "./reconciler.js";

/** Registers the Database controller (SetupWithManager) and the backup worker beside it. */
export function setupDatabase(mgr: Manager, deps: Omit<DatabaseDeps, "maintenance"> & { dataDir?: string; logger: import("winston").Logger; box: SecretBox }): BackupWorker {
  const maintenance = new DatabaseMaintenance();
  mgr.addController({ kind: "Database", name: "database", reconciler: new DatabaseReconciler({ ...deps, maintenance }), concurrency: 4 });
  const worker = new BackupWorker({ ...deps, maintenance, enqueue: (k) => mgr.enqueue(k), backupDir: backupRoot(deps.dataDir) });
  mgr.add(worker);
  return worker;
}

import type { Manager } from "../../controller/manager.js";
import { BackupDestinationReconciler, type BackupDestinationDeps } from "./reconciler.js";

/** Registers the BackupDestination controller (SetupWithManager). */
export function setupBackupDestination(mgr: Manager, deps: BackupDestinationDeps): void {
  mgr.addController({ kind: "BackupDestination", name: "backupdestination", reconciler: new BackupDestinationReconciler(deps), concurrency: 2 });
}

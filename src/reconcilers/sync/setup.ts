import type { Manager } from "../../controller/manager.js";
import { DirectoryWatches } from "../../runtime/dir-source.js";
import type { SecretBox } from "../../store/secrets.js";
import type { ObjectReconcilerDeps } from "../shared/object-reconciler.js";
import { SyncReconciler } from "./reconciler.js";

/** Registers the Sync controller (SetupWithManager) and the directory watches that wake it. */
export function setupSync(mgr: Manager, deps: ObjectReconcilerDeps & { dataDir: string; box: SecretBox }): void {
  const watches = new DirectoryWatches();
  mgr.add(watches);
  // One revision at a time per Sync (the queue guarantees it); two Syncs may apply side by side.
  mgr.addController({ kind: "Sync", name: "sync", reconciler: new SyncReconciler({ ...deps, watches, enqueue: (key) => mgr.enqueue(key) }), concurrency: 2 });
}

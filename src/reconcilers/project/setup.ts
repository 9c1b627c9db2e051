import type { Manager } from "../../controller/manager.js";
import { ProjectReconciler, type ProjectDeps } from "./reconciler.js";

/** Registers the Project controller (SetupWithManager). */
export function setupProject(mgr: Manager, deps: ProjectDeps): void {
  mgr.addController({ kind: "Project", name: "project", reconciler: new ProjectReconciler(deps), concurrency: 2 });
}

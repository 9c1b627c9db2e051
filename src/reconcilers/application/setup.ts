import type { Manager } from "../../controller/manager.js";
import type { Logger } from "winston";
import type { ResourceStore } from "../../store/resources.js";
import { backupRoot } from "../shared/backup-destinations.js";
import { JobScheduler } from "./job-scheduler.js";
import { VolumeBackupWorker } from "./volume-backup-worker.js";
import { ComposeReconciler } from "./compose-reconciler.js";
import { ApplicationDispatch } from "./dispatch.js";
import { ApplicationReconciler, type ApplicationDeps } from "./reconciler.js";
import { PULL_REASONS } from "./registries.js";
import { applicationSettled } from "./settled.js";

/**
 * Registers the Application controller (SetupWithManager) and its watches: an Application
 * waiting for a Database or another Application is reconciled when that one changes.
 */
/**
 * Reconciles mostly wait on the Docker engine, which creates and starts containers in
 * parallel: with 8 workers, 20 Applications applied at once were started 8 at a time and took
 * 1.8× as long as 20 parallel `docker run`s (docs/benchmarks.md §7). One key is still never
 * reconciled twice at once, and store writes queue on their lock whatever the count.
 */
export const APPLICATION_WORKERS = 32;

export function setupApplication(mgr: Manager, deps: ApplicationDeps & { concurrency?: number; logger?: Logger; jobPollMs?: number; dataDir?: string }): JobScheduler | undefined {
  const compose = new ComposeReconciler(deps);
  const reconciler = new ApplicationDispatch(deps.store, new ApplicationReconciler(deps), compose);
  mgr.addController({ kind: "Application", name: "application", reconciler, concurrency: deps.concurrency ?? APPLICATION_WORKERS, settled: applicationSettled });
  for (const kind of ["Database", "Application"]) mgr.watch(kind, dependentsOf(deps.store));
  // A Project's registry logins changed: its Applications that failed a pull try again now (ADR 0022).
  mgr.watch("Project", async (key) => (await deps.store.keysWithReadyReason(["Application"], PULL_REASONS)).filter((k) => k.namespace === key.name));
  // A Project's spec.runtime moved (ADR 0025): every Application of it moves to the other runtime.
  // A Project changes seldom (its status only on transitions), so listing its Applications then is cheap enough.
  mgr.watch("Project", async (key) => (await deps.store.list("Application", { namespace: key.name }, true)).items.map((a) => ({ kind: "Application", namespace: key.name, name: a.metadata.name })));
  // A service's Application changed (its status too): its compose Application summarises it again.
  mgr.watch("Application", (key) => compose.parentOf(key));
  if (deps.volumeBackups && deps.logger) {
    // Volume backups (ADR 0024): on the leader too.
    mgr.add(new VolumeBackupWorker({ ...deps, volumeBackups: deps.volumeBackups, logger: deps.logger, enqueue: (k) => mgr.enqueue(k), backupDir: backupRoot(deps.dataDir) }));
  }
  if (!deps.jobRuns || !deps.logger) return undefined;
  // Scheduled jobs (ADR 0020): runs on the leader, with the controllers.
  const scheduler = new JobScheduler({ ...deps, jobRuns: deps.jobRuns, logger: deps.logger, enqueue: (k) => mgr.enqueue(k), pollMs: deps.jobPollMs });
  mgr.add(scheduler);
  return scheduler;
}

function dependentsOf(store: ResourceStore): (key: { kind: string; namespace: string | undefined; name: string }) => Promise<{ kind: string; namespace: string | undefined; name: string }[]> {
  return async (key) => {
    if (!key.namespace) return [];
    const names = await store.applicationsDependingOn(key.namespace, key.kind, key.name);
    return names.map((name) => ({ kind: "Application", namespace: key.namespace, name }));
  };
}

import { FINALIZER } from "../../core/kinds.js";
import type { ResourceObject } from "../../core/types.js";
import type { ReconcileContext } from "../../controller/controller.js";
import type { RuntimeDriver } from "../../runtime/driver.js";
import { LABEL, networkName, ownerLabels } from "../../runtime/labels.js";
import { isSwarmManager, overlayName, type SwarmDriver } from "../../runtime/swarm.js";
import { CONTROLLER, ObjectReconciler, type ObjectReconcilerDeps } from "../shared/object-reconciler.js";
import { conditionsFor, failureSummary, transitionEvents, type Outcome, type Verdict } from "../shared/status.js";

export interface ProjectDeps extends ObjectReconcilerDeps {
  driver: RuntimeDriver;
  /** The swarm runtime (ADR 0025): the Project's overlay network goes with it. */
  swarm?: SwarmDriver;
}

export interface ProjectObserved {
  network: string;
}

/** Kinds a Project contains, deleted with it (as a namespace's content is). */
const CONTENT = ["Notification", "Domain", "Application", "Database", "BackupDestination"] as const;

/** The Project's status: its network, Ready once it exists. Pure. */
export function projectStatusFor(project: ResourceObject, obs: Partial<ProjectObserved>, outcome: Outcome, at?: string): Verdict {
  const network = obs.network ?? networkName(project.metadata.name);
  const summary = outcome.failure ? failureSummary(outcome.failure) : { ready: { status: "True" as const, reason: "NetworkReady", message: `network ${network} exists` } };
  const conditions = conditionsFor(project, summary, at);
  return {
    status: { observedGeneration: project.metadata.generation ?? 1, phase: outcome.failure ? "Failed" : "Active", network, conditions },
    events: transitionEvents(project, conditions, outcome.failure, { reason: "Ready", message: `network ${network} exists` }),
  };
}

/** A Docker network `berth-<project>` per Project; removed when the Project goes and nothing uses it. */
export class ProjectReconciler extends ObjectReconciler<ProjectObserved> {
  readonly kind = "Project" as const;
  readonly finalizer = FINALIZER.network;

  constructor(private readonly d: ProjectDeps) {
    super(d);
  }

  protected suspended(): boolean {
    return false;
  }

  statusFor(project: ResourceObject, obs: Partial<ProjectObserved>, outcome: Outcome): Verdict {
    return projectStatusFor(project, obs, outcome);
  }

  protected async converge(project: ResourceObject, obs: Partial<ProjectObserved>): Promise<void> {
    obs.network = networkName(project.metadata.name);
    await this.d.driver.ensureNetwork(obs.network, ownerLabels("Project", project.metadata.name, project.metadata.name, project.metadata.uid!));
  }

  /** Like a Kubernetes namespace: deleting the Project deletes what it contains first. */
  protected async finalize(project: ResourceObject, ctx: ReconcileContext): Promise<boolean> {
    const ns = project.metadata.name;
    let remaining = 0;
    for (const kind of CONTENT) {
      const { items } = await this.d.store.list(kind, { namespace: ns }, true);
      remaining += items.length;
      for (const o of items) if (!o.metadata.deletionTimestamp) await this.d.store.delete({ kind: kind, namespace: ns, name: o.metadata.name }, CONTROLLER).catch(() => undefined);
    }
    if (remaining) {
      ctx.logger.info("waiting for the project's objects to be deleted", { remaining });
      return false;
    }
    const users = await this.d.driver.listContainers({ [LABEL.project]: ns });
    if (users.length) {
      ctx.logger.info("network still in use; waiting", { containers: users.length });
      return false;
    }
    if (!(await this.d.driver.removeNetwork(networkName(ns)))) ctx.logger.info("network is shared with another Berth installation or was made by hand; left in place", { network: networkName(ns) });
    await this.removeOverlay(ns, ctx);
    return true;
  }

  /** The overlay network of a Project that ran on swarm; an engine in no swarm has none. */
  private async removeOverlay(ns: string, ctx: ReconcileContext): Promise<void> {
    const swarm = this.d.swarm;
    if (!swarm || !(await isSwarmManager(swarm))) return;
    if (!(await swarm.overlayExists(overlayName(ns)))) return;
    if (!(await swarm.removeOverlay(overlayName(ns)))) ctx.logger.info("overlay network is another installation's or was made by hand; left in place", { network: overlayName(ns) });
  }
}

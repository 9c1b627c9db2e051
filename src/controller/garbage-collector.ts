import type { Logger } from "winston";
import type { ObservedContainer, RuntimeDriver } from "../runtime/driver.js";
import { LABEL, MANAGED_BY } from "../runtime/labels.js";
import { isSwarmManager, type SwarmDriver } from "../runtime/swarm.js";
import type { ResourceStore } from "../store/resources.js";
import type { Metrics } from "../telemetry/metrics.js";

/**
 * Orphans: containers labelled as Berth's whose owner no longer exists in the store (deleted
 * while Berth was down, or left by a crash). One list call, one query per owner kind, then removals.
 */
export class GarbageCollector {
  constructor(
    private readonly deps: { store: ResourceStore; driver: RuntimeDriver; metrics: Metrics; logger: Logger; swarm?: SwarmDriver },
    /** Kinds whose objects own containers. */
    private readonly ownerKinds: readonly string[] = ["Application", "Database"],
  ) {}

  /** Removes orphans among `observed` (every container of this installation), or a fresh list. */
  async sweep(observed?: readonly ObservedContainer[]): Promise<number> {
    const containers = observed ?? (await this.listAll());
    let removed = 0;
    for (const kind of this.ownerKinds) removed += await this.sweepKind(kind, containers.filter((c) => c.labels[LABEL.kind] === kind));
    return removed + (await this.sweepServices());
  }

  /** Services of this installation whose Application is gone (ADR 0025); none when the engine is in no swarm. */
  private async sweepServices(): Promise<number> {
    const swarm = this.deps.swarm;
    if (!swarm || !(await isSwarmManager(swarm))) return 0;
    const services = await swarm.listServices({ [LABEL.managedBy]: MANAGED_BY, [LABEL.kind]: "Application" });
    const alive = await this.deps.store.existingUids("Application", [...new Set(services.map((s) => s.labels[LABEL.ownerUid] ?? ""))]);
    let removed = 0;
    for (const s of services.filter((x) => !alive.has(x.labels[LABEL.ownerUid]))) {
      this.deps.logger.info("removing orphan service", { service: s.name, owner: s.labels[LABEL.ownerUid] });
      await swarm.removeService(s.id);
      this.deps.metrics.driftRepairs.inc({ kind: "Application", cause: "orphan" });
      removed++;
    }
    return removed;
  }

  private async sweepKind(kind: string, mine: readonly ObservedContainer[]): Promise<number> {
    const alive = await this.deps.store.existingUids(kind, [...new Set(mine.map((c) => c.labels[LABEL.ownerUid] ?? ""))]);
    let removed = 0;
    for (const c of mine.filter((x) => !alive.has(x.labels[LABEL.ownerUid]))) {
      this.deps.logger.info("removing orphan container", { container: c.name, owner: c.labels[LABEL.ownerUid], kind });
      await this.deps.driver.removeContainer(c.id);
      this.deps.metrics.driftRepairs.inc({ kind, cause: "orphan" });
      removed++;
    }
    return removed;
  }

  listAll(): Promise<ObservedContainer[]> {
    return this.deps.driver.listContainers({ [LABEL.managedBy]: MANAGED_BY });
  }
}

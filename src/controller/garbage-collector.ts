import type { Logger } from "winston";
import type { DockerDriver, ObservedContainer } from "../runtime/docker.js";
import { LABEL, MANAGED_BY } from "../runtime/labels.js";
import type { ResourceStore } from "../store/resources.js";
import type { Metrics } from "../telemetry/metrics.js";

const OWNER_TABLES: Record<string, string> = { Application: "applications", Database: "databases" };

/**
 * Orphans: containers labelled as Berth's whose owner no longer exists in the store (deleted
 * while Berth was down, or left by a crash). One list call, one query, then removals.
 */
export class GarbageCollector {
  constructor(
    private readonly store: ResourceStore,
    private readonly driver: DockerDriver,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  /** Removes orphans among `observed` (every container of this installation), or a fresh list. */
  async sweep(observed?: readonly ObservedContainer[]): Promise<number> {
    const containers = observed ?? (await this.listAll());
    let removed = 0;
    for (const [kind, table] of Object.entries(OWNER_TABLES)) {
      const mine = containers.filter((c) => c.labels[LABEL.kind] === kind);
      const uids = [...new Set(mine.map((c) => c.labels[LABEL.ownerUid]).filter((u) => /^[0-9a-f-]{36}$/.test(u ?? "")))];
      const rows: { id: string }[] = uids.length ? await this.store.dataSource.query(`SELECT id FROM ${table} WHERE id = ANY($1::uuid[])`, [uids]) : [];
      const alive = new Set(rows.map((r) => r.id));
      for (const c of mine) {
        if (alive.has(c.labels[LABEL.ownerUid])) continue;
        this.logger.info("removing orphan container", { container: c.name, owner: c.labels[LABEL.ownerUid], kind });
        await this.driver.removeContainer(c.id);
        this.metrics.driftRepairs.inc({ kind, cause: "orphan" });
        removed++;
      }
    }
    return removed;
  }

  listAll(): Promise<ObservedContainer[]> {
    return this.driver.listContainers({ [LABEL.managedBy]: MANAGED_BY });
  }
}

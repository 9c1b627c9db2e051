import { ApiError, badRequest, notFound } from "../core/errors.js";
import type { VolumeBackupInfo, VolumeRestoreInfo } from "../core/records.js";
import type { ApplicationSpec } from "../core/specs.js";
import type { RequestContext, ResourceObject } from "../core/types.js";
import type { AuditLog } from "../store/audit.js";
import type { ResourceStore } from "../store/resources.js";
import type { VolumeBackupStore } from "../store/volume-backups.js";
import type { Reply } from "./request.js";

export interface VolumeBackupEndpointDeps {
  store: ResourceStore;
  volumeBackups: VolumeBackupStore;
  audit: AuditLog;
}

/** One request to …/namespaces/NS/applications/NAME/(volumebackups|volumerestores). */
export interface VolumeBackupOperation {
  method: string;
  namespace: string;
  name: string;
  what: "volumebackups" | "volumerestores";
  query: URLSearchParams;
  ctx: RequestContext;
  body: () => Promise<Buffer>;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** What the endpoints serve of a row (the Application is in the URL already). */
function wire<T extends { applicationUid: string }>(row: T): Omit<T, "applicationUid"> {
  const { applicationUid: _a, ...rest } = row;
  return rest;
}

function finished(status: string): boolean {
  return status === "success" || status === "failed";
}

/** Query parameters, or the same names in a JSON body (as the Database endpoints accept). */
function paramsOf(q: URLSearchParams, raw: Buffer): Record<string, unknown> {
  const fromQuery = Object.fromEntries(q.entries());
  if (!raw.length) return fromQuery;
  try {
    return { ...(JSON.parse(raw.toString("utf8")) as Record<string, unknown>), ...fromQuery };
  } catch {
    throw badRequest("the body must be a JSON object");
  }
}

/**
 * Volume backups (ADR 0024), beside the Application's job runs under /berth/v1:
 *
 *   GET  …/applications/NAME/volumebackups[?volume=V]                    backups, newest first
 *   POST …/applications/NAME/volumebackups?volume=V                      take one now; waits (?timeoutSeconds, ?wait=false)
 *   GET  …/applications/NAME/volumerestores                              restores, newest first
 *   POST …/applications/NAME/volumerestores?from=ID&to=NEW[&overwrite=true]   restore into a new volume; waits
 *
 * Both POSTs insert pending rows that the leader's VolumeBackupWorker runs, so any API replica
 * can take them; 202 means the wait ended first and the operation goes on.
 */
export class VolumeBackupEndpoints {
  constructor(private readonly d: VolumeBackupEndpointDeps) {}

  async handle(op: VolumeBackupOperation): Promise<Reply> {
    const app = await this.d.store.getStored("Application", op.namespace, op.name);
    if (!app) throw notFound("applications", op.name);
    const uid = app.metadata.uid!;
    if (op.what === "volumebackups" && op.method === "GET") return { status: 200, body: { kind: "VolumeBackupList", apiVersion: "berth.dev/v1", items: (await this.d.volumeBackups.backupsOf(uid, op.query.get("volume") ?? undefined)).map(wire) } };
    if (op.what === "volumebackups" && op.method === "POST") return this.backup(app, op, paramsOf(op.query, await op.body()));
    if (op.what === "volumerestores" && op.method === "GET") return { status: 200, body: { kind: "VolumeRestoreList", apiVersion: "berth.dev/v1", items: (await this.d.volumeBackups.restoresOf(uid)).map(wire) } };
    if (op.what === "volumerestores" && op.method === "POST") return this.restore(app, op, paramsOf(op.query, await op.body()));
    throw new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  }

  private async audit(app: ResourceObject, ctx: RequestContext, what: { action: string; resourceId: string; extra: Record<string, unknown> }): Promise<void> {
    await this.d.audit.record({ action: what.action, resourceType: "volume", resourceId: what.resourceId, details: { name: app.metadata.name, namespace: app.metadata.namespace, ...what.extra }, ctx });
  }

  private async backup(app: ResourceObject, op: VolumeBackupOperation, p: Record<string, unknown>): Promise<Reply> {
    const volume = typeof p.volume === "string" ? p.volume : undefined;
    if (!volume) throw badRequest("which volume? pass ?volume=VOLUME");
    const declared = ((app.spec ?? {}) as ApplicationSpec).volumes?.map((v) => v.name) ?? [];
    if (!declared.includes(volume)) throw new ApiError(404, "NotFound", `application ${app.metadata.name} declares no volume "${volume}" (it declares: ${declared.join(", ") || "none"})`);
    if (app.metadata.deletionTimestamp) throw new ApiError(409, "Conflict", `application ${app.metadata.name} is being deleted`);
    const requested = await this.d.volumeBackups.requestBackup(app.metadata.uid!, volume, "manual");
    await this.audit(app, op.ctx, { action: "volume-backup", resourceId: requested.id, extra: { volume } });
    if (op.query.get("wait") === "false") return { status: 202, body: { kind: "VolumeBackup", apiVersion: "berth.dev/v1", ...wire(requested) } };
    const row = (await this.waitFor(() => this.d.volumeBackups.backup(requested.id), op.query)) ?? requested;
    return { status: finished(row.status) ? 200 : 202, body: { kind: "VolumeBackup", apiVersion: "berth.dev/v1", ...wire(row) } };
  }

  /** The restore's parameters, checked: a backup id, a valid new volume name, overwrite only when asked. */
  private restoreParams(p: Record<string, unknown>): { from: string; to: string; overwrite: boolean } {
    const from = typeof p.from === "string" ? p.from : undefined;
    const to = typeof p.to === "string" ? p.to : undefined;
    if (!from) throw badRequest("which backup? pass ?from=BACKUP_ID");
    if (!to) throw badRequest("into which new volume? pass ?to=VOLUME");
    if (!DNS_LABEL.test(to) || to.length > 63) throw badRequest(`the target volume name "${to}" must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)`);
    return { from, to, overwrite: p.overwrite === true || p.overwrite === "true" };
  }

  /** The one successful backup of this Application an id or unique prefix names. */
  private async restorable(app: ResourceObject, from: string): Promise<VolumeBackupInfo> {
    const matches = await this.d.volumeBackups.findBackup(app.metadata.uid!, from);
    if (matches.length === 0) throw new ApiError(404, "NotFound", `volume backup "${from}" of application ${app.metadata.name} not found`);
    if (matches.length > 1) throw badRequest(`volume backup id prefix "${from}" is ambiguous`);
    const backup = matches[0]!;
    if (backup.status !== "success") throw new ApiError(409, "Conflict", `volume backup ${backup.id} is ${backup.status}; only a successful backup can be restored`);
    return backup;
  }

  private async restore(app: ResourceObject, op: VolumeBackupOperation, p: Record<string, unknown>): Promise<Reply> {
    const { from, to, overwrite } = this.restoreParams(p);
    if (app.metadata.deletionTimestamp) throw new ApiError(409, "Conflict", `application ${app.metadata.name} is being deleted`);
    const backup = await this.restorable(app, from);
    const declared = ((app.spec ?? {}) as ApplicationSpec).volumes?.map((v) => v.name) ?? [];
    if (declared.includes(to) && !overwrite) throw new ApiError(409, "AlreadyExists", `volume "${to}" is in use by application ${app.metadata.name}; restore into a new volume name, or pass overwrite=true`);
    const requested = await this.d.volumeBackups.requestRestore(app.metadata.uid!, backup.id, { volume: to, overwrite });
    await this.audit(app, op.ctx, { action: "volume-restore", resourceId: backup.id, extra: { volume: backup.volume, to, overwrite, restoreId: requested.id } });
    if (op.query.get("wait") === "false") return { status: 202, body: { kind: "VolumeRestore", apiVersion: "berth.dev/v1", ...wire(requested) } };
    const row = (await this.waitFor(() => this.d.volumeBackups.restore(requested.id), op.query)) ?? requested;
    return { status: finished(row.status) ? 200 : 202, body: { kind: "VolumeRestore", apiVersion: "berth.dev/v1", ...wire(row) } };
  }

  /** Polls the row until it finished or the wait (?timeoutSeconds, at most an hour) is over. */
  private async waitFor<T extends VolumeBackupInfo | VolumeRestoreInfo>(read: () => Promise<T | undefined>, q: URLSearchParams): Promise<T | undefined> {
    const deadline = Date.now() + Math.min(Number(q.get("timeoutSeconds") ?? 600), 3600) * 1000;
    for (;;) {
      const row = await read();
      if (!row || finished(row.status) || Date.now() >= deadline) return row;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

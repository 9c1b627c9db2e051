import type { ServerResponse } from "node:http";
import type { DockerDriver } from "../runtime/docker.js";
import { LABEL } from "../runtime/labels.js";
import { redactObject } from "../store/sealing.js";
import type { ResourceStore } from "../store/resources.js";
import type { RequestContext, ResourceObject } from "../store/types.js";
import { ApiError, badRequest, notFound } from "./errors.js";
import type { Reply } from "./handlers.js";

export interface RevisionInfo {
  revision: number;
  status: string;
  configHash: string;
  generation: number;
  startedAt: string;
  completedAt: string | null;
  spec?: Record<string, unknown>;
  logs?: { level: string; message: string; time: string }[];
}

/**
 * Berth's rollout endpoints (outside the Kubernetes groups, under /berth/v1): revision history
 * from the deployments table, undo by writing a revision's spec back as the desired state, and
 * container logs of every replica.
 */
export class RolloutEndpoints {
  constructor(
    private readonly store: ResourceStore,
    private readonly driver: DockerDriver | undefined,
  ) {}

  private async app(ns: string, name: string): Promise<ResourceObject> {
    const app = await this.store.getStored("Application", ns, name);
    if (!app) throw notFound("applications", name);
    return app;
  }

  async history(ns: string, name: string, withLogs: boolean): Promise<Reply> {
    const app = await this.app(ns, name);
    const rows = await this.store.dataSource.query(
      `SELECT id, status, metadata, started_at, completed_at FROM deployments WHERE application_id = $1 ORDER BY started_at, id`,
      [app.metadata.uid],
    );
    const items: RevisionInfo[] = [];
    for (const r of rows) {
      const info: RevisionInfo = {
        revision: Number(r.metadata.revision),
        status: r.status,
        configHash: r.metadata.configHash,
        generation: Number(r.metadata.generation),
        startedAt: new Date(r.started_at).toISOString(),
        completedAt: r.completed_at ? new Date(r.completed_at).toISOString() : null,
        spec: redactObject({ apiVersion: "", kind: "Application", metadata: { name }, spec: r.metadata.spec }).spec,
      };
      if (withLogs) {
        const logs = await this.store.dataSource.query(`SELECT level, message, created_at FROM deployment_logs WHERE deployment_id = $1 ORDER BY id`, [r.id]);
        info.logs = logs.map((l: { level: string; message: string; created_at: Date }) => ({ level: l.level, message: l.message, time: new Date(l.created_at).toISOString() }));
      }
      items.push(info);
    }
    return { status: 200, body: { kind: "RevisionList", apiVersion: "berth.dev/v1", currentConfigHash: app.status?.configHash ?? null, items } };
  }

  /** Undo: the chosen revision's spec (default: the newest good one of another config) becomes the desired state. */
  async undo(ns: string, name: string, toRevision: number | undefined, ctx: RequestContext): Promise<Reply> {
    const app = await this.app(ns, name);
    const rows = await this.store.dataSource.query(
      toRevision
        ? `SELECT metadata FROM deployments WHERE application_id = $1 AND (metadata->>'revision')::int = $2`
        : `SELECT metadata FROM deployments WHERE application_id = $1 AND status = 'success' AND metadata->>'configHash' <> coalesce($2, '') ORDER BY started_at DESC LIMIT 1`,
      [app.metadata.uid, toRevision ?? (app.status?.configHash as string | undefined) ?? null],
    );
    if (!rows[0]) throw new ApiError(404, "NotFound", toRevision ? `revision ${toRevision} of application ${name} not found` : `application ${name} has no earlier good revision to return to`);
    const revision = Number(rows[0].metadata.revision);
    const result = await this.store.update("Application", ns, name, ctx, "rollout-undo", (cur) => ({
      ...cur!,
      metadata: { ...cur!.metadata, annotations: { ...(cur!.metadata.annotations ?? {}), "berth.dev/undo-to-revision": String(revision) } },
      spec: rows[0].metadata.spec,
    }));
    return { status: 200, body: { revision, object: result.object, changed: result.changed } };
  }

  /** Streams the logs of every replica (or one), each line prefixed with its replica. */
  async logs(ns: string, name: string, q: URLSearchParams, res: ServerResponse): Promise<void> {
    if (!this.driver) throw new ApiError(503, "ServiceUnavailable", "this server has no Docker engine configured");
    const app = await this.app(ns, name);
    let containers = await this.driver.listContainers({ [LABEL.ownerUid]: app.metadata.uid! });
    const replica = q.get("replica");
    if (replica !== null) containers = containers.filter((c) => c.labels[LABEL.replica] === replica);
    containers.sort((a, b) => Number(a.labels[LABEL.replica]) - Number(b.labels[LABEL.replica]) || a.created - b.created);
    if (!containers.length) throw badRequest(`application ${name} has no containers${replica !== null ? ` for replica ${replica}` : ""}`);
    const follow = q.get("follow") === "true";
    const since = q.get("since") ? Math.floor(Date.now() / 1000 - Number(q.get("since"))) : 0;
    const tail = q.get("tail");
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache" });
    res.flushHeaders();
    const streams = await Promise.all(
      containers.map(async (c) => {
        const prefix = containers.length > 1 || replica === null ? `[${c.name}] ` : "";
        const raw = (await this.driver!.docker.getContainer(c.id).logs({ follow: follow as true, stdout: true, stderr: true, since, tail: tail ? Number(tail) : "all", timestamps: false } as never)) as unknown;
        return { prefix, raw };
      }),
    );
    let open = streams.length;
    const done = (): void => {
      open--;
      if (open === 0) res.end();
    };
    for (const s of streams) {
      if (Buffer.isBuffer(s.raw)) {
        writeFrames(s.raw, s.prefix, res);
        done();
        continue;
      }
      const stream = s.raw as NodeJS.ReadableStream & { destroy?: () => void };
      let pending: Buffer = Buffer.alloc(0);
      stream.on("data", (chunk: Buffer) => {
        pending = writeFrames(Buffer.concat([pending, chunk]), s.prefix, res);
      });
      stream.on("end", done);
      stream.on("error", done);
      res.on("close", () => stream.destroy?.());
    }
  }
}

/**
 * Docker multiplexes stdout and stderr in frames (8-byte header: stream, 0, 0, 0, big-endian
 * length). Writes complete frames as prefixed lines; returns an incomplete tail for later.
 */
function writeFrames(buf: Buffer, prefix: string, res: ServerResponse): Buffer {
  let offset = 0;
  while (buf.length - offset >= 8) {
    const len = buf.readUInt32BE(offset + 4);
    if (buf.length - offset - 8 < len) break;
    const text = buf.subarray(offset + 8, offset + 8 + len).toString("utf8");
    for (const line of text.split("\n")) if (line.length) res.write(prefix + line + "\n");
    offset += 8 + len;
  }
  return buf.subarray(offset);
}

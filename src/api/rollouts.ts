import type { ServerResponse } from "node:http";
import { ApiError, badRequest, notFound } from "../core/errors.js";
import type { RevisionInfo } from "../core/records.js";
import { pinGitCommit } from "../core/specs.js";
import type { RequestContext, ResourceObject } from "../core/types.js";
import type { RuntimeDriver } from "../runtime/driver.js";
import { LABEL } from "../runtime/labels.js";
import type { ResourceStore } from "../store/resources.js";
import type { RevisionRow, RevisionStore } from "../store/revisions.js";
import { redactObject } from "../store/secrets.js";
import type { Reply } from "./request.js";

export type { RevisionInfo };

/**
 * Berth's rollout endpoints (outside the Kubernetes groups, under /berth/v1): revision history
 * from the deployments table, undo by writing a revision's spec back as the desired state, and
 * container logs of every replica.
 */
export class RolloutEndpoints {
  constructor(
    private readonly store: ResourceStore,
    private readonly revisions: RevisionStore,
    private readonly driver: RuntimeDriver | undefined,
  ) {}

  private async app(ns: string, name: string): Promise<ResourceObject> {
    const app = await this.store.getStored("Application", ns, name);
    if (!app) throw notFound("applications", name);
    return app;
  }

  private async info(name: string, r: RevisionRow, withLogs: boolean): Promise<RevisionInfo> {
    const info: RevisionInfo = {
      revision: r.revision,
      status: r.status,
      configHash: r.hash,
      generation: r.generation,
      startedAt: new Date(r.startedAt).toISOString(),
      completedAt: r.completedAt ? new Date(r.completedAt).toISOString() : null,
      spec: redactObject({ apiVersion: "", kind: "Application", metadata: { name }, spec: r.spec }).spec,
      ...(r.commit ? { commit: r.commit } : {}),
      ...(r.build ? { build: r.build } : {}),
    };
    if (withLogs) info.logs = (await this.revisions.logs(r.id)).map((l) => ({ level: l.level, message: l.message, time: new Date(l.time).toISOString() }));
    return info;
  }

  async history(ns: string, name: string, withLogs: boolean): Promise<Reply> {
    const app = await this.app(ns, name);
    const items: RevisionInfo[] = [];
    for (const r of await this.revisions.history(app.metadata.uid!)) items.push(await this.info(name, r, withLogs));
    return { status: 200, body: { kind: "RevisionList", apiVersion: "berth.dev/v1", currentConfigHash: app.status?.configHash ?? null, items } };
  }

  /** Undo: the chosen revision's spec (default: the newest good one of another config) becomes the desired state. */
  async undo(ns: string, name: string, toRevision: number | undefined, ctx: RequestContext): Promise<Reply> {
    const app = await this.app(ns, name);
    const target = toRevision ? await this.revisions.byNumber(app.metadata.uid!, toRevision) : await this.revisions.lastGood(app.metadata.uid!, (app.status?.configHash as string | undefined) ?? "");
    if (!target) throw new ApiError(404, "NotFound", toRevision ? `revision ${toRevision} of application ${name} not found` : `application ${name} has no earlier good revision to return to`);
    const result = await this.store.update({ kind: "Application", namespace: ns, name: name }, ctx, "rollout-undo", (cur) => ({
      ...cur!,
      metadata: { ...cur!.metadata, annotations: { ...(cur!.metadata.annotations ?? {}), "berth.dev/undo-to-revision": String(target.revision) } },
      spec: pinGitCommit(target.spec, target.commit),
    }));
    return { status: 200, body: { revision: target.revision, object: result.object, changed: result.changed } };
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
    const since = q.get("since") ? Math.floor(Date.now() / 1000 - Number(q.get("since"))) : 0;
    const tail = q.get("tail");
    const opts = { follow: q.get("follow") === "true", since, ...(tail ? { tail: Number(tail) } : {}) };
    const streams = await Promise.all(containers.map(async (c) => ({ prefix: containers.length > 1 || replica === null ? `[${c.name}] ` : "", stream: await this.driver!.logs(c.id, opts) })));
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache" });
    res.flushHeaders();
    let open = streams.length;
    const done = (): void => {
      if (--open === 0) res.end();
    };
    for (const s of streams) {
      let pending = "";
      s.stream.on("data", (chunk: Buffer) => {
        const lines = (pending + chunk.toString("utf8")).split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) if (line.length) res.write(s.prefix + line + "\n");
      });
      s.stream.on("end", () => {
        if (pending) res.write(s.prefix + pending + "\n");
        done();
      });
      s.stream.on("error", done);
      res.on("close", () => s.stream.destroy());
    }
  }
}

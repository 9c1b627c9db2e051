import type { ServerResponse } from "node:http";
import jsonpatch from "fast-json-patch";
import YAML from "yaml";
import { checkBody, MAX_BODY_DEPTH, requireObject } from "./body-limits.js";
import type { ChangeFeed } from "../store/change-feed.js";
import { BatchError, type BatchOp, type ResourceStore, type WriteResult } from "../store/resources.js";
import { applySetOps, withIndex } from "../store/apply-set.js";
import { deleteOptions, type DeleteOptions } from "./delete-options.js";
import type { RequestContext, ResourceObject } from "../core/types.js";
import { ApiError, badRequest, invalid, notFound } from "../core/errors.js";
import { API_VERSION, APPLIED_BY, APPLIED_BY_VALUE, KINDS } from "../core/kinds.js";
import { mergePatch } from "./merge-patch.js";
import { admit, checkIdentity, type FieldValidation } from "../schema/admission.js";
import { parseFieldSelector, parseLabelSelector } from "../core/selectors.js";
import { serverSideApply } from "./server-side-apply.js";
import { toTable, wantsTable } from "./table.js";
import { serveWatch } from "./watch.js";
import { scaledReplicas, toScale } from "./scale.js";
import { generateName } from "../core/names.js";
import { checkDuplicateFields } from "./duplicate-keys.js";
import type { Reply, ResourceRequest } from "./request.js";

export type { Reply, ResourceRequest };

/** Tries at a generated name before the AlreadyExists goes to the client (Kubernetes retries too). */
const GENERATE_NAME_ATTEMPTS = 3;

function fieldValidation(q: URLSearchParams): FieldValidation {
  const v = q.get("fieldValidation") ?? "Warn";
  if (v !== "Strict" && v !== "Warn" && v !== "Ignore") throw badRequest(`invalid fieldValidation "${v}": must be Strict, Warn or Ignore`);
  return v;
}

function isDryRun(q: URLSearchParams): boolean {
  const v = q.getAll("dryRun");
  if (v.some((x) => x !== "All")) throw badRequest(`Invalid dryRun value: ${v.join(",")}: only "All" is supported`);
  return v.length > 0;
}

/** `limit` (a whole number; 0: no limit) and `continue`, as the Kubernetes list API takes them. */
function pageParams(q: URLSearchParams): { limit?: number; continue?: string } {
  const limit = q.get("limit");
  if (limit !== null && limit !== "" && !/^\d{1,9}$/.test(limit)) throw badRequest(`invalid limit "${limit.slice(0, 100)}": a whole number`);
  const token = q.get("continue") || undefined;
  return { ...(limit ? { limit: Number(limit) } : {}), ...(token ? { continue: token } : {}) };
}

export function parseBody(body: Buffer | undefined, contentType: string | undefined): unknown {
  const text = body?.toString("utf8") ?? "";
  if (!text.trim()) throw badRequest("request body is empty");
  let value: unknown;
  try {
    value = contentType?.includes("yaml") ? YAML.parse(text, { maxAliasCount: 100 }) : JSON.parse(text);
  } catch (e) {
    // The parsers recurse: a body nested past the stack is the same refusal as checkBody's (the
    // YAML parser reports V8's RangeError inside its own error, so its message is what tells).
    if (e instanceof RangeError || /Maximum call stack size exceeded/.test((e as Error).message)) throw badRequest(`the body of the request nests deeper than ${MAX_BODY_DEPTH} levels`);
    throw badRequest(`the body of the request could not be decoded: ${(e as Error).message}`);
  }
  checkBody(value);
  return value;
}

/**
 * The format of a create, replace or delete body from its Content-Type: JSON or YAML, as the
 * Kubernetes API server accepts (no Content-Type: JSON); anything else is 415, never parsed.
 */
export function objectFormat(contentType: string | undefined): "json" | "yaml" {
  const media = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (media === "" || media === "application/json") return "json";
  if (media === "application/yaml" || media === "application/x-yaml" || media === "text/yaml") return "yaml";
  throw new ApiError(415, "UnsupportedMediaType", `the body of the request was in an unknown format (${media.slice(0, 100)}) - accepted media types include: application/json, application/yaml`);
}

/** A body that must be one object: every write but a JSON patch. */
function parseObject<T extends object>(body: Buffer | undefined, contentType: string | undefined): T {
  return requireObject<T>(parseBody(body, contentType));
}

/** Users may set these metadata fields; the server owns the rest. */
function userMetadata(from: ResourceObject["metadata"], onto: ResourceObject["metadata"]): ResourceObject["metadata"] {
  return {
    ...onto,
    labels: from.labels ?? {},
    annotations: from.annotations ?? {},
    finalizers: from.finalizers ?? [],
    ...(from.resourceVersion ? { resourceVersion: from.resourceVersion } : {}),
  };
}

/** DeleteOptions of a delete or deletecollection: an optional JSON or YAML body, and the query. */
function deleteOptionsOf(req: ResourceRequest): DeleteOptions {
  const body = req.body && req.body.length ? parseObject<Parameters<typeof deleteOptions>[0]>(req.body, objectFormat(req.contentType)) : {};
  return deleteOptions(body, req.query, { plural: `${req.kind.plural}`, name: req.name }, isDryRun(req.query));
}

function reply(status: number, body: unknown, warnings: string[] = []): Reply {
  return { status, body, headers: warnings.length ? { Warning: warnings.map((w) => `299 - "${w.replace(/"/g, "'")}"`).join(", ") } : undefined };
}

export class ResourceHandlers {
  constructor(
    private readonly store: ResourceStore,
    private readonly feed: ChangeFeed,
  ) {}

  async get(req: ResourceRequest): Promise<Reply> {
    const obj = await this.store.get(req.kind.kind, req.namespace, req.name!);
    if (!obj) throw await this.notFoundFor(req);
    if (wantsTable(req.accept) && !req.subresource) return reply(200, toTable(req.kind.kind, [obj], obj.metadata.resourceVersion, req.query.get("includeObject") ?? undefined));
    return reply(200, obj);
  }

  /** 404 for an object in a Project that does not exist names the namespace, as kubectl expects. */
  private async notFoundFor(req: ResourceRequest): Promise<ApiError> {
    if (req.kind.namespaced && req.namespace && !(await this.store.projectExists(req.namespace))) {
      return new ApiError(404, "NotFound", `namespaces "${req.namespace}" not found`, { name: req.namespace, kind: "namespaces" });
    }
    return notFound(req.kind.plural, req.name!);
  }

  async list(req: ResourceRequest): Promise<Reply> {
    const fs = parseFieldSelector(req.query.get("fieldSelector") ?? undefined);
    const namespace = req.namespace ?? fs.namespace;
    const page = await this.store.list(req.kind.kind, {
      namespace,
      name: fs.name,
      labelSelector: parseLabelSelector(req.query.get("labelSelector") ?? undefined),
      // In the store's read, so a page is filled with matches (and remainingItemCount omitted).
      fieldSelector: fs.terms.length ? (o): boolean => fs.matches(o) : undefined,
      // A user who sees some Projects lists only theirs: pages and remainingItemCount count only those.
      // (A list in one Project was decided already: the Project is visible, no filter needed.)
      ...(req.ctx.visible && !(req.kind.namespaced && namespace) ? { projects: req.ctx.visible() } : {}),
      ...pageParams(req.query),
    });
    const { items, resourceVersion } = page;
    const listMeta = { resourceVersion, ...(page.continue ? { continue: page.continue } : {}), ...(page.remainingItemCount !== undefined ? { remainingItemCount: page.remainingItemCount } : {}) };
    if (wantsTable(req.accept)) return reply(200, { ...toTable(req.kind.kind, items, resourceVersion, req.query.get("includeObject") ?? undefined), metadata: listMeta });
    return reply(200, { apiVersion: API_VERSION, kind: req.kind.listKind, metadata: listMeta, items });
  }

  async create(req: ResourceRequest): Promise<Reply> {
    const raw = checkIdentity(req, parseObject<ResourceObject>(req.body, objectFormat(req.contentType)));
    const prefix = raw.metadata.generateName;
    if (raw.metadata.name || typeof prefix !== "string" || !prefix) return this.createNamed(req, raw);
    // A generated name can collide with an existing object; a fresh suffix almost never does twice.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.createNamed(req, { ...raw, metadata: { ...raw.metadata, name: generateName(prefix) } });
      } catch (e) {
        if (!(e instanceof ApiError) || e.reason !== "AlreadyExists" || attempt >= GENERATE_NAME_ATTEMPTS) throw e;
      }
    }
  }

  private async createNamed(req: ResourceRequest, raw: ResourceObject): Promise<Reply> {
    const warnings: string[] = [];
    checkDuplicateFields(req.body, objectFormat(req.contentType), fieldValidation(req.query), warnings);
    if (!raw.metadata.name) throw invalid(req.kind.kind, "", [{ field: "metadata.name", message: "Required value: name or generateName is required", reason: "FieldValueRequired" }]);
    const obj = admit(req.kind, raw, fieldValidation(req.query), warnings);
    const fresh: ResourceObject = { apiVersion: API_VERSION, kind: req.kind.kind, metadata: userMetadata(obj.metadata, { name: obj.metadata.name, namespace: obj.metadata.namespace }), spec: obj.spec ?? {}, status: {} };
    delete fresh.metadata.resourceVersion;
    const ctx = { ...req.ctx, dryRun: isDryRun(req.query) };
    const { object } = await this.store.create(fresh, ctx);
    return reply(201, object, warnings);
  }

  async replace(req: ResourceRequest): Promise<Reply> {
    const warnings: string[] = [];
    const mode = fieldValidation(req.query);
    checkDuplicateFields(req.body, objectFormat(req.contentType), mode, warnings);
    const body = checkIdentity(req, parseObject<ResourceObject>(req.body, objectFormat(req.contentType)));
    if (!body.metadata.resourceVersion) {
      throw invalid(req.kind.kind, req.name!, [{ field: "metadata.resourceVersion", message: "Invalid value: 0x0: must be specified for an update", reason: "FieldValueInvalid" }]);
    }
    const ctx = { ...req.ctx, dryRun: isDryRun(req.query) };
    const status = req.subresource === "status";
    let storedRv: string | undefined;
    const result = await this.store.update({ kind: req.kind.kind, namespace: req.namespace, name: req.name! }, ctx, status ? "update-status" : "update", (current) => {
      storedRv = current!.metadata.resourceVersion;
      if (status) return { ...current!, metadata: { ...current!.metadata, resourceVersion: body.metadata.resourceVersion }, status: (body.status ?? {}) as Record<string, unknown> };
      const admitted = admit(req.kind, body, mode, warnings);
      return { ...current!, metadata: userMetadata(admitted.metadata, current!.metadata), spec: admitted.spec ?? {} };
    });
    return reply(200, dryRunAnswer(result.object, ctx.dryRun, storedRv), warnings);
  }

  async patch(req: ResourceRequest): Promise<Reply> {
    const type = (req.contentType ?? "").split(";")[0].trim();
    const warnings: string[] = [];
    const mode = fieldValidation(req.query);
    const ctx = { ...req.ctx, dryRun: isDryRun(req.query) };
    const status = req.subresource === "status";
    if (type === "application/apply-patch+yaml") {
      const manager = req.query.get("fieldManager");
      if (!manager) throw badRequest("PATCH requests with application/apply-patch+yaml must specify fieldManager");
      const applied = checkIdentity(req, parseObject<ResourceObject>(req.body, "yaml"));
      const force = req.query.get("force") === "true";
      let created = false;
      let storedRv: string | undefined;
      const result = await this.store.upsert({ kind: req.kind.kind, namespace: req.namespace, name: req.name! }, ctx, "apply", (current) => {
        created = !current;
        storedRv = current?.metadata.resourceVersion;
        const merged = serverSideApply(current, applied, { manager, force, kind: req.kind, status });
        if (status) return merged;
        const admitted = admit(req.kind, merged, mode, warnings);
        return current ? { ...admitted, status: current.status } : { ...admitted, status: {} };
      });
      return reply(created ? 201 : 200, dryRunAnswer(result.object, ctx.dryRun, storedRv), warnings);
    }
    const patchBody = parseBody(req.body, "json");
    checkDuplicateFields(req.body, "json", mode, warnings);
    let storedRv: string | undefined;
    const result = await this.store.update({ kind: req.kind.kind, namespace: req.namespace, name: req.name! }, ctx, status ? "patch-status" : "patch", (current) => {
      storedRv = current!.metadata.resourceVersion;
      const patched = applyPatchBody(type, current!, patchBody);
      const withIdentity = checkIdentity(req, patched);
      if (status) return { ...current!, metadata: { ...current!.metadata, resourceVersion: withIdentity.metadata.resourceVersion }, status: (withIdentity.status ?? {}) as Record<string, unknown> };
      const admitted = admit(req.kind, withIdentity, mode, warnings);
      return { ...current!, metadata: userMetadata(admitted.metadata, current!.metadata), spec: admitted.spec ?? {} };
    });
    return reply(200, dryRunAnswer(result.object, ctx.dryRun, storedRv), warnings);
  }

  async delete(req: ResourceRequest): Promise<Reply> {
    const opts = deleteOptionsOf(req);
    const result = await this.store.delete({ kind: req.kind.kind, namespace: req.namespace, name: req.name! }, { ...req.ctx, dryRun: opts.dryRun }, opts.preconditions);
    return reply(200, result.object);
  }

  /**
   * deletecollection: every object the selectors match goes in ONE transaction (the store's
   * batch), each re-checked under the write lock (same uid, labels still matching). The answer
   * is the list of what was deleted, as Kubernetes gives it: objects held by finalizers with
   * their deletionTimestamp, the others as they were last stored.
   */
  async deleteCollection(req: ResourceRequest): Promise<Reply> {
    const opts = deleteOptionsOf(req);
    const fs = parseFieldSelector(req.query.get("fieldSelector") ?? undefined);
    const labels = parseLabelSelector(req.query.get("labelSelector") ?? undefined);
    const { items } = await this.store.list(req.kind.kind, { namespace: req.namespace ?? fs.namespace, name: fs.name, labelSelector: labels });
    const chosen = new Set<number>();
    const ops: BatchOp[] = items.map((o, i) => ({
      kind: req.kind.kind,
      namespace: o.metadata.namespace,
      name: o.metadata.name,
      action: "delete",
      mutate: (cur) => {
        if (!cur || cur.metadata.uid !== o.metadata.uid || (labels && !labels(cur.metadata.labels ?? {}))) return "skip";
        chosen.add(i);
        return "delete";
      },
    }));
    const results = await this.runBatch(ops, { ...req.ctx, dryRun: opts.dryRun });
    const deleted = results.filter((_, i) => chosen.has(i)).map((r) => r.object);
    const rv = deleted.reduce((max, o) => Math.max(max, Number(o.metadata.resourceVersion ?? 0)), 0);
    return reply(200, { apiVersion: API_VERSION, kind: req.kind.listKind, metadata: { resourceVersion: String(rv || (await this.store.currentResourceVersion())) }, items: deleted });
  }

  /** A batch whose failure is the failing operation's own error (no index: the caller built the batch). */
  private async runBatch(ops: BatchOp[], ctx: RequestContext): Promise<WriteResult[]> {
    try {
      return await this.store.batch(ops, ctx);
    } catch (e) {
      throw e instanceof BatchError ? e.failure : e;
    }
  }

  /**
   * Berth's multi-document apply (POST /berth/v1/apply): every item is admitted and written in
   * one transaction, so one bad document means nothing is stored. A failure names the item
   * index in its causes (`items[3].spec.host`) so the CLI can point at file and line.
   */
  async batchApply(body: Buffer | undefined, query: URLSearchParams, ctx: RequestContext, contentType?: string): Promise<Reply> {
    if (objectFormat(contentType) !== "json") throw new ApiError(415, "UnsupportedMediaType", "a batch apply is JSON: application/json");
    const parsed = parseObject<{ items?: ResourceObject[] }>(body, "json");
    if (!Array.isArray(parsed.items)) throw badRequest("body must be {\"items\": [...]}");
    const warnings: string[] = [];
    const ops: BatchOp[] = applySetOps(parsed.items, { warnings });
    const dryRun = isDryRun(query);
    const prune = query.get("prune") === "true";
    const pruneOps = prune ? await this.pruneOps(ops) : [];
    let results;
    try {
      results = await this.store.batch([...ops, ...pruneOps], { ...ctx, dryRun });
    } catch (e) {
      if (!(e instanceof BatchError)) throw e;
      if (e.index >= ops.length) throw e.failure;
      throw withIndex(e.failure, e.index);
    }
    const items = results.slice(0, ops.length).map((r, i) => ({ action: !r.changed ? "unchanged" : ops[i].action === "create" ? "created" : "configured", object: r.object }));
    const pruned = results.slice(ops.length).filter((r) => r.changed).map((r) => r.object);
    return reply(200, { kind: "ApplyResult", apiVersion: "berth.dev/v1", dryRun, items, ...(prune ? { pruned } : {}) }, warnings);
  }

  /**
   * `apply --prune`: in every Project the batch touches (a Project document, or the namespace of
   * an object), delete the objects an earlier `berth apply` stored (APPLIED_BY annotation) that
   * this batch no longer contains. Objects created any other way, and Projects themselves, are
   * never pruned. The deletes run in the batch's transaction: all of it happens or none.
   */
  private async pruneOps(ops: BatchOp[]): Promise<BatchOp[]> {
    const scope = [...new Set(ops.map((o) => (o.kind === "Project" ? o.name : o.namespace)).filter((n): n is string => !!n))].sort();
    const applied = new Set(ops.map((o) => `${o.kind}/${o.namespace ?? ""}/${o.name}`));
    const prune: BatchOp[] = [];
    for (const kind of KINDS.filter((k) => k.namespaced)) {
      for (const namespace of scope) prune.push(...(await this.prunable(kind.kind, namespace, applied)));
    }
    return prune;
  }

  /** Objects of `kind` in `namespace` that an earlier `berth apply` stored and this one no longer has. */
  private async prunable(kind: string, namespace: string, applied: Set<string>): Promise<BatchOp[]> {
    const { items } = await this.store.list(kind, { namespace });
    const stale = items.filter((o) => o.metadata.annotations?.[APPLIED_BY] === APPLIED_BY_VALUE && !o.metadata.deletionTimestamp && !applied.has(`${kind}/${namespace}/${o.metadata.name}`));
    return stale.map((o) => {
      const uid = o.metadata.uid;
      // Re-checked under the write lock: only the object that was listed, still marked.
      return { kind, namespace, name: o.metadata.name, action: "prune", mutate: (cur) => (cur && cur.metadata.uid === uid && cur.metadata.annotations?.[APPLIED_BY] === APPLIED_BY_VALUE ? "delete" : "skip") };
    });
  }


  /** GET, PUT or PATCH of an Application's `/scale` (./scale.ts): only spec.replicas changes. */
  async scale(method: string, req: ResourceRequest): Promise<Reply> {
    const ref = { kind: req.kind.kind, namespace: req.namespace, name: req.name! };
    if (method === "GET") {
      const app = await this.store.get(ref.kind, ref.namespace, ref.name);
      if (!app) throw await this.notFoundFor(req);
      return reply(200, toScale(app));
    }
    const body = parseBody(req.body, method === "PUT" ? objectFormat(req.contentType) : "json");
    const warnings: string[] = [];
    const ctx = { ...req.ctx, dryRun: isDryRun(req.query) };
    let storedRv: string | undefined;
    const result = await this.store.update(ref, ctx, "scale", (current) => {
      storedRv = current!.metadata.resourceVersion;
      const replicas = scaledReplicas(current!, method, req.contentType, body);
      const admitted = admit(req.kind, { ...current!, spec: { ...(current!.spec ?? {}), replicas } }, "Ignore", warnings);
      return { ...current!, spec: admitted.spec ?? {} };
    });
    return reply(200, toScale(dryRunAnswer(result.object, ctx.dryRun, storedRv)), warnings);
  }

  /** A watch stream (./watch.ts). */
  async watch(req: ResourceRequest, res: ServerResponse): Promise<void> {
    await serveWatch({ store: this.store, feed: this.feed }, req, res);
  }
}

/**
 * A dry run stores nothing, so its answer keeps the stored resourceVersion (as Kubernetes does);
 * otherwise `kubectl diff` would show a version change that never happens.
 */
function dryRunAnswer(obj: ResourceObject, dryRun: boolean | undefined, storedRv: string | undefined): ResourceObject {
  if (!dryRun || !storedRv || obj.metadata.resourceVersion === storedRv) return obj;
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: storedRv } };
}

function applyPatchBody(type: string, current: ResourceObject, patch: unknown): ResourceObject {
  if (type === "application/merge-patch+json") return mergePatch(current, requireObject(patch, "a merge patch")) as ResourceObject;
  if (type === "application/json-patch+json") {
    if (!Array.isArray(patch)) throw badRequest("a json patch must be an array of operations");
    try {
      return jsonpatch.applyPatch(structuredClone(current), patch as jsonpatch.Operation[], true, false).newDocument;
    } catch (e) {
      throw new ApiError(422, "Invalid", `the json patch could not be applied: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  if (type === "application/strategic-merge-patch+json") {
    throw new ApiError(415, "UnsupportedMediaType", "strategic merge patch is not supported for custom resources: use --type=merge or --type=json");
  }
  throw new ApiError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
}


/**
 * Admission, as the API server does it for every write (create, replace, patch, apply, a
 * multi-document apply, and a Sync's revision): identity checks against the request, unknown
 * fields per fieldValidation, defaults, then schema validation.
 */
import { badRequest, invalid, type ValidationCause } from "../core/errors.js";
import { API_VERSION, type KindInfo } from "../core/kinds.js";
import type { ApplicationSpec } from "../core/specs.js";
import type { ResourceObject } from "../core/types.js";
import { CronExpressionParser } from "cron-parser";
import { ComposeError, loadCompose, parentSpecProblems, type ComposeSource } from "./compose.js";
import { applyDefaults, pruneUnknownFields, unknownFields, validateObject } from "./crds.js";

export type FieldValidation = "Strict" | "Warn" | "Ignore";

/** What a write addresses: the kind, and the namespace and name of its URL (if any). */
export interface AdmissionTarget {
  kind: KindInfo;
  namespace?: string;
  name?: string;
}

/** Admission: unknown fields per fieldValidation, defaults, then schema validation (422). */
export function admit(kind: KindInfo, obj: ResourceObject, mode: FieldValidation, warnings: string[]): ResourceObject {
  const unknown = unknownFields(kind.kind, obj);
  if (unknown.length && mode === "Strict") {
    throw badRequest(`strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(", ")}`);
  }
  if (unknown.length && mode === "Warn") warnings.push(...unknown.map((f) => `unknown field "${f}"`));
  const pruned = pruneUnknownFields(kind.kind, obj) as ResourceObject;
  const defaulted = applyDefaults(kind.kind, pruned) as ResourceObject;
  const causes = validateObject(kind.kind, defaulted);
  if (!causes.length && kind.kind === "Application") causes.push(...jobCauses(defaulted), ...composeCauses(defaulted));
  if (causes.length) throw invalid(kind.kind, obj.metadata?.name ?? "", causes);
  return defaulted;
}

/**
 * spec.jobs[].schedule and timeZone, parsed with cron-parser (the scheduler's own parser): the
 * CRD's pattern only counts fields, so "61 * * * *" is refused here, naming the field.
 */
export function jobCauses(app: ResourceObject): ValidationCause[] {
  const jobs = ((app.spec ?? {}) as ApplicationSpec).jobs ?? [];
  const causes: ValidationCause[] = [];
  jobs.forEach((job, i) => {
    if (job.timeZone && !validTimeZone(job.timeZone)) {
      causes.push({ field: `spec.jobs[${i}].timeZone`, reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(job.timeZone)}: not an IANA time zone` });
      return;
    }
    try {
      CronExpressionParser.parse(job.schedule, job.timeZone ? { tz: job.timeZone } : {}).next();
    } catch (e) {
      causes.push({ field: `spec.jobs[${i}].schedule`, reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(job.schedule)}: not a valid cron expression (${(e as Error).message})` });
    }
  });
  return causes;
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * A compose Application (docs/compose.md): the file is read, checked against the Compose
 * Specification and translated here, and every service's Application is validated as if it
 * were applied itself, so a file Berth cannot carry out is refused with nothing stored.
 */
function composeCauses(app: ResourceObject): ValidationCause[] {
  const spec = (app.spec ?? {}) as ApplicationSpec;
  const source = spec.source?.compose as ComposeSource | undefined;
  if (!source) return [];
  const causes: ValidationCause[] = parentSpecProblems(spec).map((c) => ({ ...c, reason: "FieldValueForbidden" }));
  // A file in git is read at its commit by the controller (admission fetches nothing): problems show as ComposeInvalid.
  if (source.git) return causes;
  const field = `spec.source.compose.${source.content !== undefined ? "content" : "file"}`;
  try {
    for (const child of loadCompose(source, { app: app.metadata.name, parent: spec })) {
      const obj = applyDefaults("Application", { apiVersion: API_VERSION, kind: "Application", metadata: { name: child.name, namespace: app.metadata.namespace }, spec: child.spec });
      for (const c of validateObject("Application", obj)) causes.push({ field, message: `services.${child.service}: as Application ${child.name}, ${c.field}: ${c.message}`, reason: c.reason });
    }
  } catch (e) {
    if (!(e instanceof ComposeError)) throw e;
    causes.push(...e.problems.map((message) => ({ field, message, reason: "FieldValueInvalid" as const })));
  }
  return causes;
}

function checkTypeMeta(req: AdmissionTarget, obj: ResourceObject): void {
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw badRequest("the body must be a JSON object");
  if (obj.kind !== undefined && obj.kind !== req.kind.kind) throw badRequest(`the kind of the provided object (${String(obj.kind)}) does not match the request (${req.kind.kind})`);
  if (obj.apiVersion !== undefined && obj.apiVersion !== API_VERSION) throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${API_VERSION})`);
}

/** The namespace: the URL's for a namespaced kind (the body may repeat it, not contradict it), none for a Project. */
function namespaceFor(req: AdmissionTarget, metadata: ResourceObject["metadata"]): string | undefined {
  if (!req.kind.namespaced) return undefined;
  if (metadata.namespace && req.namespace && metadata.namespace !== req.namespace) throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
  return req.namespace ?? metadata.namespace;
}

export function checkIdentity(req: AdmissionTarget, obj: ResourceObject): ResourceObject {
  checkTypeMeta(req, obj);
  const metadata = { ...(obj.metadata ?? {}) } as ResourceObject["metadata"];
  const namespace = namespaceFor(req, metadata);
  if (namespace === undefined) delete metadata.namespace;
  else metadata.namespace = namespace;
  if (req.name && metadata.name && metadata.name !== req.name) throw badRequest("the name of the object does not match the name on the URL");
  metadata.name ||= req.name ?? metadata.name;
  return { ...obj, apiVersion: API_VERSION, kind: req.kind.kind, metadata };
}

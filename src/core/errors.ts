/** One invalid field, as metav1.StatusCause reports it. */
export interface ValidationCause {
  /** Kubernetes field path: `spec.ports[0].containerPort`, `spec.env.lower_case`, `metadata.labels[app.kubernetes.io/name]`. */
  field: string;
  message: string;
  reason:
    | "FieldValueInvalid"
    | "FieldValueRequired"
    | "FieldValueNotSupported"
    | "FieldValueTypeInvalid"
    | "FieldValueDuplicate"
    | "FieldValueTooLong"
    | "FieldValueForbidden";
}

/** A metav1.Status failure: every API error a client sees has this shape. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: { name?: string; group?: string; kind?: string; causes?: ValidationCause[]; retryAfterSeconds?: number },
  ) {
    super(message);
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

const GROUP = "berth.dev";

export function notFound(plural: string, name: string): ApiError {
  return new ApiError(404, "NotFound", `${plural}.${GROUP} "${name}" not found`, { name, group: GROUP, kind: plural });
}

export function namespaceNotFound(ns: string): ApiError {
  return new ApiError(404, "NotFound", `namespaces "${ns}" not found`, { name: ns, kind: "namespaces" });
}

export function alreadyExists(plural: string, name: string): ApiError {
  return new ApiError(409, "AlreadyExists", `${plural}.${GROUP} "${name}" already exists`, { name, group: GROUP, kind: plural });
}

export function conflict(plural: string, name: string, why = "the object has been modified; please apply your changes to the latest version and try again"): ApiError {
  return new ApiError(409, "Conflict", `Operation cannot be fulfilled on ${plural}.${GROUP} "${name}": ${why}`, { name, group: GROUP, kind: plural });
}

export function invalid(kind: string, name: string, causes: ValidationCause[]): ApiError {
  const list = causes.map((c) => `${c.field}: ${c.message}`).join(", ");
  return new ApiError(422, "Invalid", `${kind}.${GROUP} "${name}" is invalid: ${list}`, { name, group: GROUP, kind, causes });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, "BadRequest", message);
}

export function forbidden(message: string): ApiError {
  return new ApiError(403, "Forbidden", message);
}

export function expired(message: string): ApiError {
  return new ApiError(410, "Expired", message);
}

/** How long a client should wait before retrying while the store is unavailable. */
export const STORE_RETRY_AFTER_SECONDS = 1;

/**
 * 503 while Postgres cannot be reached: retryable, and says so (details.retryAfterSeconds and
 * the Retry-After header, which client-go honours by retrying on its own). The message never
 * carries the socket error: that says nothing a client can act on.
 */
export function storeUnavailable(): ApiError {
  return new ApiError(503, "ServiceUnavailable", "the store (Postgres) is unavailable; retry shortly", { retryAfterSeconds: STORE_RETRY_AFTER_SECONDS });
}

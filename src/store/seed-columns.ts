import type { ResourceObject } from "../core/types.js";

/**
 * The seed's columns that mirror spec fields, written in the same transaction as the spec so
 * the seed's check constraints and indexes guard what the API accepts. The spec stays the truth.
 */
export function seedColumns(kind: string, obj: ResourceObject, ownerId: string | undefined): Record<string, unknown> {
  const spec = (obj.spec ?? {}) as Record<string, any>;
  const status = (obj.status ?? {}) as Record<string, any>;
  switch (kind) {
    case "Project":
      return {
        description: spec.description ?? null,
        metadata: JSON.stringify({ labels: obj.metadata.labels ?? {}, team: spec.team ?? null }),
        ...(ownerId ? { owner_id: ownerId } : {}),
      };
    case "Application":
      return {
        type: spec.source?.git ? "git" : spec.source?.compose ? "compose" : "docker",
        source_type: spec.source?.git ? (spec.source.git.provider ?? "github") : spec.source?.compose ? "docker_compose" : "docker",
        source_config: JSON.stringify(spec.source ?? {}),
        docker_config: JSON.stringify({ ports: spec.ports ?? [], resources: spec.resources ?? {}, healthcheck: spec.healthcheck ?? null, command: spec.command ?? null, strategy: spec.strategy ?? null }),
        env_vars: JSON.stringify(spec.env ?? {}),
        replicas: spec.replicas ?? 1,
        status: appStatus(status.phase),
      };
    case "Database":
      return {
        type: spec.engine,
        version: spec.version == null ? null : String(spec.version),
        config: JSON.stringify(spec.config ?? {}),
        status: dbStatus(status.phase),
      };
    case "Domain":
      return {
        domain: spec.host,
        path: spec.path ?? "/",
        target_type: "application",
        target_name: spec.target?.application ?? null,
        target_port: spec.target?.port ?? null,
        tls_enabled: spec.tls?.enabled ?? false,
        tls_issuer: spec.tls?.enabled ? (spec.tls?.issuer ?? "acme") : null,
      };
    default:
      return {};
  }
}

function appStatus(phase: unknown): string {
  const allowed = ["stopped", "deploying", "running", "failed", "scaling"];
  const p = String(phase ?? "").toLowerCase();
  return allowed.includes(p) ? p : "stopped";
}

function dbStatus(phase: unknown): string {
  const allowed = ["initializing", "running", "stopped", "failed"];
  const p = String(phase ?? "").toLowerCase();
  return allowed.includes(p) ? p : "initializing";
}

import type { ApplicationSpec, DatabaseSpec, DomainSpec } from "../core/specs.js";
import type { ResourceObject } from "../core/types.js";

type Columns = Record<string, unknown>;

function projectColumns(obj: ResourceObject, ownerId: string | undefined): Columns {
  const spec = (obj.spec ?? {}) as { description?: string; team?: string };
  return {
    description: spec.description ?? null,
    metadata: JSON.stringify({ labels: obj.metadata.labels ?? {}, team: spec.team ?? null }),
    ...(ownerId ? { owner_id: ownerId } : {}),
  };
}

function sourceType(source: ApplicationSpec["source"]): { type: string; source_type: string } {
  const git = source?.git as { provider?: string } | undefined;
  if (git) return { type: "git", source_type: git.provider ?? "github" };
  if (source?.compose) return { type: "compose", source_type: "docker_compose" };
  return { type: "docker", source_type: "docker" };
}

function applicationColumns(obj: ResourceObject): Columns {
  const spec = (obj.spec ?? {}) as ApplicationSpec;
  const phase = (obj.status as { phase?: unknown } | undefined)?.phase;
  return {
    ...sourceType(spec.source),
    source_config: JSON.stringify(spec.source ?? {}),
    docker_config: JSON.stringify({ ports: spec.ports ?? [], resources: spec.resources ?? {}, healthcheck: spec.healthcheck ?? null, command: spec.command ?? null, strategy: spec.strategy ?? null }),
    env_vars: JSON.stringify(spec.env ?? {}),
    replicas: spec.replicas ?? 1,
    status: allowedPhase(phase, ["stopped", "deploying", "running", "failed", "scaling"], "stopped"),
  };
}

function databaseColumns(obj: ResourceObject): Columns {
  const spec = (obj.spec ?? {}) as unknown as DatabaseSpec;
  const phase = (obj.status as { phase?: unknown } | undefined)?.phase;
  return {
    type: spec.engine,
    version: spec.version == null ? null : String(spec.version),
    config: JSON.stringify(spec.config ?? {}),
    status: allowedPhase(phase, ["initializing", "running", "stopped", "failed"], "initializing"),
  };
}

function domainColumns(obj: ResourceObject): Columns {
  const spec = (obj.spec ?? {}) as unknown as Partial<DomainSpec>;
  const tls = !!spec.tls?.enabled;
  return {
    domain: spec.host,
    path: spec.path ?? "/",
    target_type: "application",
    target_name: spec.target?.application ?? null,
    target_port: spec.target?.port ?? null,
    tls_enabled: tls,
    tls_issuer: tls ? (spec.tls?.issuer ?? "acme") : null,
  };
}

/**
 * The seed's columns that mirror spec fields, written in the same transaction as the spec so
 * the seed's check constraints and indexes guard what the API accepts. The spec stays the truth.
 */
export function seedColumns(kind: string, obj: ResourceObject, ownerId: string | undefined): Columns {
  switch (kind) {
    case "Project":
      return projectColumns(obj, ownerId);
    case "Application":
      return applicationColumns(obj);
    case "Database":
      return databaseColumns(obj);
    case "Domain":
      return domainColumns(obj);
    default:
      return {};
  }
}

/** The seed's phase column accepts only its own values; anything else is stored as `fallback`. */
function allowedPhase(phase: unknown, allowed: string[], fallback: string): string {
  const p = String(phase ?? "").toLowerCase();
  return allowed.includes(p) ? p : fallback;
}

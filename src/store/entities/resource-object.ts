import { Column } from "typeorm";

/** A JSON map as stored in labels, annotations, spec and status. */
export type JsonObject = Record<string, unknown>;

/**
 * The Kubernetes object columns shared by the tables of the four kinds (projects,
 * applications, databases, domains). The object's uid is the row's `id`.
 *
 * bigint columns come back from pg as strings (they may exceed 2^53), which is also the
 * form Kubernetes gives resourceVersion.
 */
export abstract class ResourceObjectColumns {
  @Column({ name: "resource_version", type: "bigint", default: () => "nextval('berth_resource_version')" })
  resourceVersion!: string;

  @Column({ type: "bigint", default: 1 })
  generation!: string;

  @Column({ type: "jsonb", default: () => "'{}'" })
  labels!: Record<string, string>;

  @Column({ type: "jsonb", default: () => "'{}'" })
  annotations!: Record<string, string>;

  @Column({ type: "jsonb", default: () => "'[]'" })
  finalizers!: string[];

  @Column({ name: "deletion_timestamp", type: "timestamptz", nullable: true })
  deletionTimestamp!: Date | null;

  @Column({ type: "jsonb", default: () => "'{}'" })
  spec!: JsonObject;

  /** The object's `.status`; the seed's varchar `status` (applications, databases) is the phase. */
  @Column({ name: "object_status", type: "jsonb", default: () => "'{}'" })
  objectStatus!: JsonObject;

  @Column({ name: "managed_fields", type: "jsonb", default: () => "'[]'" })
  managedFields!: unknown[];
}

/** The expression of each kind table's `check_<table>_object_shape` constraint. */
export const OBJECT_SHAPE_CHECK =
  "jsonb_typeof(labels) = 'object' AND jsonb_typeof(annotations) = 'object' " +
  "AND jsonb_typeof(finalizers) = 'array' AND jsonb_typeof(spec) = 'object' " +
  "AND jsonb_typeof(object_status) = 'object' AND jsonb_typeof(managed_fields) = 'array'";

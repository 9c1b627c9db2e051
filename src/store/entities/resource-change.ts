import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from "typeorm";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

/**
 * One entry of the change log that watches resume from. `rv` comes from the sequence
 * berth_resource_version (nextval) and equals the object's resource_version after the
 * change; the writer supplies it, there is no default.
 */
@Entity({ name: "resource_changes" })
@Check("check_resource_change_event_type", "event_type IN ('ADDED', 'MODIFIED', 'DELETED')")
@Index("idx_resource_changes_created_at", ["createdAt"])
@Index("idx_resource_changes_uid_rv", ["uid", "rv"])
export class ResourceChange {
  /** bigint; pg returns it as a string. */
  @PrimaryColumn({ type: "bigint", primaryKeyConstraintName: "pk_resource_changes" })
  rv!: string;

  @Column({ type: "varchar", length: 50 })
  kind!: string;

  /** NULL for cluster-scoped kinds (Project). */
  @Column({ type: "varchar", length: 255, nullable: true })
  namespace!: string | null;

  @Column({ type: "varchar", length: 255 })
  name!: string;

  @Column({ type: "uuid" })
  uid!: string;

  @Column({ name: "event_type", type: "varchar", length: 10 })
  eventType!: WatchEventType;

  /** The whole object as a watch event carries it (after the change; last state for DELETED). */
  @Column({ type: "jsonb" })
  object!: Record<string, unknown>;

  /** The change touched nothing but `.status` (see migration StatusOnlyChanges). */
  @Column({ name: "status_only", type: "boolean", default: false })
  statusOnly!: boolean;

  /** The labels before the change; NULL for an ADDED change and rows older than migration ChangePrevLabels. */
  @Column({ name: "prev_labels", type: "jsonb", nullable: true })
  prevLabels!: Record<string, string> | null;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;
}

import { Check, Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";

/**
 * A Kubernetes Event (what `kubectl describe` lists). Named KubeEvent because `Event` is
 * a global class in Node.
 */
@Entity({ name: "events" })
@Check("check_event_type", "type IN ('Normal', 'Warning')")
@Check("check_event_count_positive", "count >= 1")
@Index("idx_events_namespace_involved_uid", ["namespace", "involvedUid"])
@Index("idx_events_last_timestamp", ["lastTimestamp"])
export class KubeEvent {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_events" })
  id!: string;

  @Column({ type: "varchar", length: 255, nullable: true })
  namespace!: string | null;

  @Column({ name: "involved_kind", type: "varchar", length: 50 })
  involvedKind!: string;

  @Column({ name: "involved_name", type: "varchar", length: 255 })
  involvedName!: string;

  @Column({ name: "involved_uid", type: "uuid" })
  involvedUid!: string;

  @Column({ type: "varchar", length: 20, default: "Normal" })
  type!: "Normal" | "Warning";

  @Column({ type: "varchar", length: 100 })
  reason!: string;

  @Column({ type: "text", default: "" })
  message!: string;

  @Column({ type: "integer", default: 1 })
  count!: number;

  /** The component that reported it (e.g. "application-controller"). */
  @Column({ type: "varchar", length: 100, nullable: true })
  source!: string | null;

  @Column({ name: "first_timestamp", type: "timestamptz", default: () => "now()" })
  firstTimestamp!: Date;

  @Column({ name: "last_timestamp", type: "timestamptz", default: () => "now()" })
  lastTimestamp!: Date;

  /** bigint; pg returns it as a string. */
  @Column({ name: "resource_version", type: "bigint", default: 0 })
  resourceVersion!: string;
}

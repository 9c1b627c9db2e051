import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from "typeorm";
import { User } from "./user.js";

export const AUDIT_RESOURCE_TYPES = [
  "user", "team", "project", "application", "database", "deployment", "domain",
  "volume", "backup", "certificate", "event", "sync", "installation", "notification", "backupdestination",
] as const;
export type AuditResourceType = (typeof AUDIT_RESOURCE_TYPES)[number];

/** One API mutation: who, what, before/after (in details), from where. */
@Entity({ name: "audit_logs" })
@Check("check_audit_resource_type", `resource_type IN (${AUDIT_RESOURCE_TYPES.map((t) => `'${t}'`).join(", ")})`)
// A DESC key, which TypeORM cannot declare: the migration defines it.
@Index("idx_audit_logs_user_created", { synchronize: false })
@Index("idx_audit_logs_resource", ["resourceType", "resourceId"])
@Index("idx_audit_logs_action", ["action"])
// A DESC key, which TypeORM cannot declare: the migration defines it.
@Index("idx_audit_logs_created_at", { synchronize: false })
export class AuditLog {
  /** bigserial; pg returns it as a string. */
  @PrimaryGeneratedColumn("increment", { type: "bigint", primaryKeyConstraintName: "pk_audit_logs" })
  id!: string;

  /** NULL for anonymous or system actions, and once the user is deleted. */
  @Column({ name: "user_id", type: "uuid", nullable: true })
  userId!: string | null;

  @ManyToOne(() => User, { onDelete: "SET NULL", nullable: true })
  @JoinColumn({ name: "user_id", foreignKeyConstraintName: "fk_audit_logs_user" })
  user?: Relation<User> | null;

  @Column({ type: "varchar", length: 100 })
  action!: string;

  @Column({ name: "resource_type", type: "varchar", length: 50 })
  resourceType!: AuditResourceType;

  @Column({ name: "resource_id", type: "uuid", nullable: true })
  resourceId!: string | null;

  @Column({ type: "jsonb", default: () => "'{}'" })
  details!: Record<string, unknown>;

  @Column({ name: "ip_address", type: "inet", nullable: true })
  ipAddress!: string | null;

  @Column({ name: "user_agent", type: "text", nullable: true })
  userAgent!: string | null;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;
}

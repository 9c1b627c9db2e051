import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from "typeorm";
import { Application } from "./application.js";
import { User } from "./user.js";

export type DeploymentStatus = "pending" | "building" | "deploying" | "success" | "failed" | "rolled_back";

/** One rollout of an application. */
@Entity({ name: "deployments" })
@Check("check_deployment_status", "status IN ('pending', 'building', 'deploying', 'success', 'failed', 'rolled_back')")
// A DESC key, which TypeORM cannot declare: the migration defines it.
@Index("idx_deployments_application_started", { synchronize: false })
@Index("idx_deployments_status", ["status"])
@Index("idx_deployments_triggered_by", ["triggeredBy"])
export class Deployment {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_deployments" })
  id!: string;

  @Column({ name: "application_id", type: "uuid" })
  applicationId!: string;

  @ManyToOne(() => Application, { onDelete: "CASCADE" })
  @JoinColumn({ name: "application_id", foreignKeyConstraintName: "fk_deployments_application" })
  application?: Relation<Application>;

  /** NULL for a rollout the controller started, or once the user is deleted. */
  @Column({ name: "triggered_by", type: "uuid", nullable: true })
  triggeredBy!: string | null;

  @ManyToOne(() => User, { onDelete: "SET NULL", nullable: true })
  @JoinColumn({ name: "triggered_by", foreignKeyConstraintName: "fk_deployments_triggered_by" })
  triggeredByUser?: Relation<User> | null;

  @Column({ type: "varchar", length: 50, default: "pending" })
  status!: DeploymentStatus;

  @Column({ name: "commit_sha", type: "varchar", length: 40, nullable: true })
  commitSha!: string | null;

  @Column({ type: "text", nullable: true })
  logs!: string | null;

  @Column({ type: "jsonb", default: () => "'{}'" })
  metadata!: Record<string, unknown>;

  @Column({ name: "started_at", type: "timestamptz", default: () => "now()" })
  startedAt!: Date;

  @Column({ name: "completed_at", type: "timestamptz", nullable: true })
  completedAt!: Date | null;
}

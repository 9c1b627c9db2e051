import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from "typeorm";
import { Deployment } from "./deployment.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

@Entity({ name: "deployment_logs" })
@Check("check_deployment_log_level", "level IN ('debug', 'info', 'warn', 'error')")
// A DESC key, which TypeORM cannot declare: the migration defines it.
@Index("idx_deployment_logs_deployment_created", { synchronize: false })
@Index("idx_deployment_logs_level", ["level"])
export class DeploymentLog {
  /** bigserial; pg returns it as a string. */
  @PrimaryGeneratedColumn("increment", { type: "bigint", primaryKeyConstraintName: "pk_deployment_logs" })
  id!: string;

  @Column({ name: "deployment_id", type: "uuid" })
  deploymentId!: string;

  @ManyToOne(() => Deployment, { onDelete: "CASCADE" })
  @JoinColumn({ name: "deployment_id", foreignKeyConstraintName: "fk_deployment_logs_deployment" })
  deployment?: Relation<Deployment>;

  @Column({ type: "varchar", length: 20, default: "info" })
  level!: LogLevel;

  @Column({ type: "text" })
  message!: string;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;
}

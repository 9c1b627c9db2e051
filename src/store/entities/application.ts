import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, UpdateDateColumn, type Relation } from "typeorm";
import { Project } from "./project.js";
import { OBJECT_SHAPE_CHECK, ResourceObjectColumns } from "./resource-object.js";

export type ApplicationType = "docker" | "git" | "compose";
export type ApplicationPhase = "stopped" | "deploying" | "running" | "failed" | "scaling";
export type ApplicationSourceType = "github" | "gitlab" | "bitbucket" | "gitea" | "docker" | "docker_compose";

/** An Application object; type, source_type, replicas … mirror its spec. */
@Entity({ name: "applications" })
@Unique("uq_applications_project_name", ["projectId", "name"])
@Check("check_app_type", "type IN ('docker', 'git', 'compose')")
@Check("check_app_status", "status IN ('stopped', 'deploying', 'running', 'failed', 'scaling')")
@Check("check_app_source_type", "source_type IN ('github', 'gitlab', 'bitbucket', 'gitea', 'docker', 'docker_compose')")
@Check("check_replicas_non_negative", "replicas >= 0")
@Check("check_applications_object_shape", OBJECT_SHAPE_CHECK)
@Index("idx_applications_project_id", ["projectId"])
@Index("idx_applications_status", ["status"])
@Index("idx_applications_env_vars", ["envVars"], { type: "gin" })
@Index("idx_applications_docker_config", ["dockerConfig"], { type: "gin" })
@Index("idx_applications_labels", ["labels"], { type: "gin" })
export class Application extends ResourceObjectColumns {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_applications" })
  id!: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId!: string;

  @ManyToOne(() => Project, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "fk_applications_project" })
  project?: Relation<Project>;

  @Column({ type: "varchar", length: 255 })
  name!: string;

  @Column({ type: "varchar", length: 50, default: "docker" })
  type!: ApplicationType;

  /** The phase (status.phase); the whole status object is `objectStatus`. */
  @Column({ type: "varchar", length: 50, default: "stopped" })
  status!: ApplicationPhase;

  @Column({ name: "source_type", type: "varchar", length: 50, nullable: true })
  sourceType!: ApplicationSourceType | null;

  @Column({ name: "source_config", type: "jsonb", default: () => "'{}'" })
  sourceConfig!: Record<string, unknown>;

  @Column({ name: "docker_config", type: "jsonb", default: () => "'{}'" })
  dockerConfig!: Record<string, unknown>;

  /** Non-secret variables only; secrets are env_vars rows with ciphertext values. */
  @Column({ name: "env_vars", type: "jsonb", default: () => "'{}'" })
  envVars!: Record<string, string>;

  @Column({ type: "integer", default: 1 })
  replicas!: number;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;

  @UpdateDateColumn({ name: "updated_at", type: "timestamptz" })
  updatedAt!: Date;
}

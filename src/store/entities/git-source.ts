import { Check, Column, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, type Relation } from "typeorm";
import { Application } from "./application.js";

/** One-to-one with its application: uq_git_sources_application_id makes it so. */
@Entity({ name: "git_sources" })
@Unique("uq_git_sources_application_id", ["applicationId"])
@Check("check_git_source_provider", "provider IN ('github', 'gitlab', 'bitbucket', 'gitea')")
export class GitSource {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_git_sources" })
  id!: string;

  @Column({ name: "application_id", type: "uuid" })
  applicationId!: string;

  // ManyToOne rather than OneToOne: TypeORM would name its own unique key for a OneToOne.
  @ManyToOne(() => Application, { onDelete: "CASCADE" })
  @JoinColumn({ name: "application_id", foreignKeyConstraintName: "fk_git_sources_application" })
  application?: Relation<Application>;

  /** NULL for a repository on a host that is none of the known providers. */
  @Column({ type: "varchar", length: 50, nullable: true })
  provider!: "github" | "gitlab" | "bitbucket" | "gitea" | null;

  @Column({ type: "varchar", length: 500 })
  repository!: string;

  @Column({ type: "varchar", length: 255, nullable: true })
  branch!: string | null;

  @Column({ name: "commit_sha", type: "varchar", length: 40, nullable: true })
  commitSha!: string | null;

  @Column({ name: "webhook_config", type: "jsonb", default: () => "'{}'" })
  webhookConfig!: Record<string, unknown>;
}

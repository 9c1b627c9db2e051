import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, type Relation } from "typeorm";
import { Application } from "./application.js";
import { Database } from "./database.js";
import { Project } from "./project.js";

/**
 * A persistent volume. Its application and database references RESTRICT deletion: the
 * row must be deleted or detached (column set NULL) before its owner can go.
 */
@Entity({ name: "volumes" })
@Unique("uq_volumes_name", ["name"])
@Check("check_size_positive", "size_gb > 0")
@Check("check_volume_deletion_policy", "deletion_policy IN ('Retain', 'Delete')")
@Index("idx_volumes_application_id", ["applicationId"])
@Index("idx_volumes_database_id", ["databaseId"])
@Index("idx_volumes_project_id", ["projectId"])
export class Volume {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_volumes" })
  id!: string;

  /** The Docker volume name, which Docker keeps unique per host. */
  @Column({ type: "varchar", length: 255 })
  name!: string;

  @Column({ type: "varchar", length: 50, default: "docker_volume" })
  type!: string;

  @Column({ name: "mount_path", type: "varchar", length: 500, nullable: true })
  mountPath!: string | null;

  @Column({ name: "size_gb", type: "integer", nullable: true })
  sizeGb!: number | null;

  @Column({ name: "application_id", type: "uuid", nullable: true })
  applicationId!: string | null;

  @ManyToOne(() => Application, { onDelete: "RESTRICT", nullable: true })
  @JoinColumn({ name: "application_id", foreignKeyConstraintName: "fk_volumes_application" })
  application?: Relation<Application> | null;

  @Column({ name: "database_id", type: "uuid", nullable: true })
  databaseId!: string | null;

  @ManyToOne(() => Database, { onDelete: "RESTRICT", nullable: true })
  @JoinColumn({ name: "database_id", foreignKeyConstraintName: "fk_volumes_database" })
  database?: Relation<Database> | null;

  @Column({ name: "project_id", type: "uuid", nullable: true })
  projectId!: string | null;

  @ManyToOne(() => Project, { onDelete: "CASCADE", nullable: true })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "fk_volumes_project" })
  project?: Relation<Project> | null;

  @Column({ name: "deletion_policy", type: "varchar", length: 20, default: "Retain" })
  deletionPolicy!: "Retain" | "Delete";

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;
}

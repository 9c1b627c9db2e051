import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, UpdateDateColumn, type Relation } from "typeorm";
import { Project } from "./project.js";
import { OBJECT_SHAPE_CHECK, ResourceObjectColumns } from "./resource-object.js";

export type DatabaseEngine = "postgresql" | "mysql" | "mongodb" | "redis";
export type DatabasePhase = "initializing" | "running" | "stopped" | "failed";

/** A Database object; type (the engine) and version mirror its spec. */
@Entity({ name: "databases" })
@Unique("uq_databases_project_name", ["projectId", "name"])
@Check("check_db_type", "type IN ('postgresql', 'mysql', 'mongodb', 'redis')")
@Check("check_db_status", "status IN ('initializing', 'running', 'stopped', 'failed')")
@Check("check_databases_object_shape", OBJECT_SHAPE_CHECK)
// Ciphertext only (SecretBox's "enc:v1:" prefix): plaintext credentials cannot be stored by mistake.
@Check("check_databases_credentials_sealed", "credentials IS NULL OR credentials LIKE 'enc:v1:%'")
@Check("check_databases_connection_string_sealed", "connection_string IS NULL OR connection_string LIKE 'enc:v1:%'")
@Index("idx_databases_project_id", ["projectId"])
@Index("idx_databases_type", ["type"])
@Index("idx_databases_labels", ["labels"], { type: "gin" })
export class Database extends ResourceObjectColumns {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_databases" })
  id!: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId!: string;

  @ManyToOne(() => Project, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "fk_databases_project" })
  project?: Relation<Project>;

  @Column({ type: "varchar", length: 255 })
  name!: string;

  @Column({ type: "varchar", length: 50 })
  type!: DatabaseEngine;

  /** The phase (status.phase); the whole status object is `objectStatus`. */
  @Column({ type: "varchar", length: 50, default: "initializing" })
  status!: DatabasePhase;

  @Column({ type: "varchar", length: 50, nullable: true })
  version!: string | null;

  @Column({ type: "jsonb", default: () => "'{}'" })
  config!: Record<string, unknown>;

  /** Ciphertext; the application encrypts and decrypts it. */
  @Column({ name: "connection_string", type: "text", nullable: true })
  connectionString!: string | null;

  /** Ciphertext of the generated credentials. */
  @Column({ type: "text", nullable: true })
  credentials!: string | null;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;

  @UpdateDateColumn({ name: "updated_at", type: "timestamptz" })
  updatedAt!: Date;
}

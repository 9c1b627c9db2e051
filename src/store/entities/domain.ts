import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, UpdateDateColumn, type Relation } from "typeorm";
import { Project } from "./project.js";
import { OBJECT_SHAPE_CHECK, ResourceObjectColumns } from "./resource-object.js";

/** The expression of check_domain_format: lower-case host names, an optional leading "*.". */
const DOMAIN_FORMAT =
  "char_length(domain) <= 253 AND domain ~ " +
  String.raw`'^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'`;

/**
 * A Domain object: a route host + path → a target's port. `domain` is the host and is
 * unique across all projects; `name` is metadata.name, unique within the project.
 */
@Entity({ name: "domains" })
@Unique("uq_domains_domain", ["domain"])
@Unique("uq_domains_project_name", ["projectId", "name"])
@Check("check_domain_format", DOMAIN_FORMAT)
@Check("check_domain_target_type", "target_type IN ('application', 'database')")
@Check("check_domain_path", "path LIKE '/%'")
@Check("check_domain_target_port", "target_port BETWEEN 1 AND 65535")
@Check("check_domain_tls_issuer", "tls_issuer IN ('acme', 'internal')")
@Check("check_domains_object_shape", OBJECT_SHAPE_CHECK)
@Index("idx_domains_project_id", ["projectId"])
@Index("idx_domains_target", ["targetType", "targetId"])
@Index("idx_domains_target_name", ["projectId", "targetType", "targetName"])
@Index("idx_domains_labels", ["labels"], { type: "gin" })
export class Domain extends ResourceObjectColumns {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_domains" })
  id!: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId!: string;

  @ManyToOne(() => Project, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "fk_domains_project" })
  project?: Relation<Project>;

  @Column({ type: "varchar", length: 255 })
  name!: string;

  /** The host. */
  @Column({ type: "varchar", length: 255 })
  domain!: string;

  @Column({ type: "varchar", length: 500, default: "/" })
  path!: string;

  @Column({ name: "target_type", type: "varchar", length: 50, default: "application" })
  targetType!: "application" | "database";

  /** No foreign key: the target may be applied after the Domain, or be either kind. */
  @Column({ name: "target_id", type: "uuid", nullable: true })
  targetId!: string | null;

  /** The target's name as the manifest gives it (spec.target.application). */
  @Column({ name: "target_name", type: "varchar", length: 255, nullable: true })
  targetName!: string | null;

  @Column({ name: "target_port", type: "integer", nullable: true })
  targetPort!: number | null;

  @Column({ name: "tls_enabled", type: "boolean", default: false })
  tlsEnabled!: boolean;

  @Column({ name: "tls_issuer", type: "varchar", length: 50, nullable: true })
  tlsIssuer!: "acme" | "internal" | null;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;

  @UpdateDateColumn({ name: "updated_at", type: "timestamptz" })
  updatedAt!: Date;
}

import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, UpdateDateColumn, type Relation } from "typeorm";
import { OBJECT_SHAPE_CHECK, ResourceObjectColumns } from "./resource-object.js";
import { Team } from "./team.js";
import { User } from "./user.js";

/** A Project object (cluster-scoped; its name is the namespace of the other kinds). */
@Entity({ name: "projects" })
@Unique("uq_projects_owner_name", ["ownerId", "name"])
@Unique("uq_projects_name", ["name"])
@Check("check_project_name_length", "char_length(name) BETWEEN 1 AND 100")
@Check("check_projects_object_shape", OBJECT_SHAPE_CHECK)
@Index("idx_projects_owner_id", ["ownerId"])
@Index("idx_projects_team_id", ["teamId"])
@Index("idx_projects_metadata", ["metadata"], { type: "gin" })
@Index("idx_projects_labels", ["labels"], { type: "gin" })
export class Project extends ResourceObjectColumns {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_projects" })
  id!: string;

  @Column({ type: "varchar", length: 255 })
  name!: string;

  @Column({ type: "text", nullable: true })
  description!: string | null;

  /** NULL for a Project applied without a user (a manifest from the watched git dir). */
  @Column({ name: "owner_id", type: "uuid", nullable: true })
  ownerId!: string | null;

  @ManyToOne(() => User, { onDelete: "CASCADE", nullable: true })
  @JoinColumn({ name: "owner_id", foreignKeyConstraintName: "fk_projects_owner" })
  owner?: Relation<User> | null;

  @Column({ name: "team_id", type: "uuid", nullable: true })
  teamId!: string | null;

  @ManyToOne(() => Team, { onDelete: "SET NULL", nullable: true })
  @JoinColumn({ name: "team_id", foreignKeyConstraintName: "fk_projects_team" })
  team?: Relation<Team> | null;

  @Column({ type: "jsonb", default: () => "'{}'" })
  metadata!: Record<string, unknown>;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;

  @UpdateDateColumn({ name: "updated_at", type: "timestamptz" })
  updatedAt!: Date;
}

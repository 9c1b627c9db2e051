import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, UpdateDateColumn, type Relation } from "typeorm";
import { Project } from "./project.js";
import { OBJECT_SHAPE_CHECK, ResourceObjectColumns } from "./resource-object.js";

/**
 * A Notification object (namespaced in its Project, ADR 0021). Like Sync it has only the object
 * columns: the spec is the whole truth. Its deliveries are rows of notification_outbox
 * (migration 1732560000090), a table without an entity, like job_runs.
 */
@Entity({ name: "notifications" })
@Unique("uq_notifications_project_name", ["projectId", "name"])
@Check("check_notifications_object_shape", OBJECT_SHAPE_CHECK)
@Index("idx_notifications_project_id", ["projectId"])
@Index("idx_notifications_labels", ["labels"], { type: "gin" })
export class Notification extends ResourceObjectColumns {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_notifications" })
  id!: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId!: string;

  @ManyToOne(() => Project, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "fk_notifications_project" })
  project?: Relation<Project>;

  @Column({ type: "varchar", length: 255 })
  name!: string;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;

  @UpdateDateColumn({ name: "updated_at", type: "timestamptz" })
  updatedAt!: Date;
}

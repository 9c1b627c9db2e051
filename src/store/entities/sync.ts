import { Check, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, Column, Unique, UpdateDateColumn } from "typeorm";
import { OBJECT_SHAPE_CHECK, ResourceObjectColumns } from "./resource-object.js";

/**
 * A Sync object (cluster-scoped). It has no seed table of its own (Dokploy has no GitOps), so
 * the table holds only the object columns (ADR 0013): the spec is the whole truth.
 */
@Entity({ name: "syncs" })
@Unique("uq_syncs_name", ["name"])
@Check("check_syncs_object_shape", OBJECT_SHAPE_CHECK)
@Index("idx_syncs_labels", ["labels"], { type: "gin" })
export class Sync extends ResourceObjectColumns {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_syncs" })
  id!: string;

  @Column({ type: "varchar", length: 255 })
  name!: string;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;

  @UpdateDateColumn({ name: "updated_at", type: "timestamptz" })
  updatedAt!: Date;
}

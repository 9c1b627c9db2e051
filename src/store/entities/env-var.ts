import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, type Relation } from "typeorm";
import { Application } from "./application.js";

@Entity({ name: "env_vars" })
@Unique("uq_env_vars_application_key", ["applicationId", "key"])
@Check("check_env_var_key_format", "key ~ '^[A-Z_][A-Z0-9_]*$'")
@Index("idx_env_vars_application_id", ["applicationId"])
export class EnvVar {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_env_vars" })
  id!: string;

  @Column({ name: "application_id", type: "uuid" })
  applicationId!: string;

  @ManyToOne(() => Application, { onDelete: "CASCADE" })
  @JoinColumn({ name: "application_id", foreignKeyConstraintName: "fk_env_vars_application" })
  application?: Relation<Application>;

  @Column({ type: "varchar", length: 255 })
  key!: string;

  /** Ciphertext when isSecret; the application encrypts and decrypts it. */
  @Column({ type: "text" })
  value!: string;

  @Column({ name: "is_secret", type: "boolean", default: false })
  isSecret!: boolean;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;
}

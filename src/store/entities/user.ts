import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from "typeorm";

@Entity({ name: "users" })
@Unique("uq_users_username", ["username"])
@Unique("uq_users_email", ["email"])
@Check("check_username_format", "username ~ '^[a-z0-9_-]{3,50}$'")
@Check("check_email_format", String.raw`email ~ '^[^@]+@[^@]+\.[^@]+$'`)
@Check("check_user_role", "role IN ('super_admin', 'admin', 'developer', 'viewer')")
@Index("idx_users_role", ["role"])
export class User {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_users" })
  id!: string;

  @Column({ type: "varchar", length: 255 })
  username!: string;

  @Column({ type: "varchar", length: 255 })
  email!: string;

  /** NULL for accounts that sign in through SSO. */
  @Column({ name: "password_hash", type: "varchar", length: 255, nullable: true })
  passwordHash!: string | null;

  @Column({ type: "varchar", length: 50, default: "viewer" })
  role!: "super_admin" | "admin" | "developer" | "viewer";

  @Column({ type: "jsonb", default: () => "'{}'" })
  preferences!: Record<string, unknown>;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;

  @UpdateDateColumn({ name: "updated_at", type: "timestamptz" })
  updatedAt!: Date;
}

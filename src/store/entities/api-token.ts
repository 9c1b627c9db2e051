import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, type Relation } from "typeorm";
import { User } from "./user.js";

/** An API token of a user (issue 17): only its SHA-256 is kept; the token itself is shown once. */
@Entity({ name: "api_tokens" })
@Unique("uq_api_tokens_hash", ["tokenHash"])
@Check("check_api_token_name", "name ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'")
@Index("idx_api_tokens_user_id", ["userId"])
export class ApiToken {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_api_tokens" })
  id!: string;

  @Column({ name: "user_id", type: "uuid" })
  userId!: string;

  @ManyToOne(() => User, { onDelete: "CASCADE" })
  @JoinColumn({ name: "user_id", foreignKeyConstraintName: "fk_api_tokens_user" })
  user?: Relation<User>;

  @Column({ type: "varchar", length: 100 })
  name!: string;

  @Column({ type: "varchar", length: 16 })
  prefix!: string;

  @Column({ name: "token_hash", type: "char", length: 64 })
  tokenHash!: string;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;

  @Column({ name: "expires_at", type: "timestamptz", nullable: true })
  expiresAt!: Date | null;

  @Column({ name: "revoked_at", type: "timestamptz", nullable: true })
  revokedAt!: Date | null;

  @Column({ name: "last_used_at", type: "timestamptz", nullable: true })
  lastUsedAt!: Date | null;
}

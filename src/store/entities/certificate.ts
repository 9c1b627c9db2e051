import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from "typeorm";
import { Domain } from "./domain.js";

@Entity({ name: "certificates" })
@Check("check_expiry_after_creation", "expires_at > created_at")
@Index("idx_certificates_domain_id", ["domainId"])
@Index("idx_certificates_expires_at", ["expiresAt"])
export class Certificate {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_certificates" })
  id!: string;

  @Column({ name: "domain_id", type: "uuid" })
  domainId!: string;

  @ManyToOne(() => Domain, { onDelete: "CASCADE" })
  @JoinColumn({ name: "domain_id", foreignKeyConstraintName: "fk_certificates_domain" })
  domain?: Relation<Domain>;

  @Column({ type: "varchar", length: 255, nullable: true })
  issuer!: string | null;

  /** PEM. */
  @Column({ type: "text" })
  certificate!: string;

  /** Ciphertext of the PEM key; the application encrypts and decrypts it. */
  @Column({ name: "private_key", type: "text" })
  privateKey!: string;

  @Column({ name: "expires_at", type: "timestamptz" })
  expiresAt!: Date;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;
}

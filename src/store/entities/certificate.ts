import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, type Relation } from "typeorm";
import { Domain } from "./domain.js";

@Entity({ name: "certificates" })
@Check("check_expiry_after_creation", "expires_at > created_at")
@Index("idx_certificates_domain_id", ["domainId"])
@Index("idx_certificates_expires_at", ["expiresAt"])
@Unique("uq_certificates_domain_fingerprint", ["domainId", "fingerprint"])
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

  /** Ciphertext of the PEM key; NULL when the proxy (Caddy) holds the key and Berth only observes the certificate. */
  @Column({ name: "private_key", type: "text", nullable: true })
  privateKey!: string | null;

  @Column({ name: "expires_at", type: "timestamptz" })
  expiresAt!: Date;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;

  @Column({ name: "not_before", type: "timestamptz", nullable: true })
  notBefore!: Date | null;

  @Column({ name: "serial_number", type: "varchar", length: 128, nullable: true })
  serialNumber!: string | null;

  /** SHA-256 of the DER, hex. */
  @Column({ type: "varchar", length: 64, nullable: true })
  fingerprint!: string | null;

  /** When the Domain controller last saw Caddy serve it. */
  @Column({ name: "last_seen_at", type: "timestamptz", nullable: true })
  lastSeenAt!: Date | null;
}

import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from "typeorm";
import { Database } from "./database.js";

@Entity({ name: "backups" })
@Check("check_backup_type", "type IN ('full', 'incremental', 'snapshot')")
@Check("check_backup_status", "status IN ('pending', 'running', 'success', 'failed')")
// A DESC key, which TypeORM cannot declare: the migration defines it.
@Index("idx_backups_database_created", { synchronize: false })
@Index("idx_backups_status", ["status"])
@Check("check_backup_source", "source IN ('manual', 'schedule')")
@Index("idx_backups_database_source_created", { synchronize: false })
@Check("check_backup_sha256", "sha256 ~ '^[0-9a-f]{64}$'")
export class Backup {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_backups" })
  id!: string;

  @Column({ name: "database_id", type: "uuid" })
  databaseId!: string;

  @ManyToOne(() => Database, { onDelete: "CASCADE" })
  @JoinColumn({ name: "database_id", foreignKeyConstraintName: "fk_backups_database" })
  database?: Relation<Database>;

  @Column({ type: "varchar", length: 50, default: "full" })
  type!: "full" | "incremental" | "snapshot";

  @Column({ type: "varchar", length: 50, default: "pending" })
  status!: "pending" | "running" | "success" | "failed";

  @Column({ name: "storage_path", type: "varchar", length: 500, nullable: true })
  storagePath!: string | null;

  /** bigint; pg returns it as a string. */
  @Column({ name: "size_bytes", type: "bigint", nullable: true })
  sizeBytes!: string | null;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;

  @Column({ name: "completed_at", type: "timestamptz", nullable: true })
  completedAt!: Date | null;

  /** What started it: `berth db backup` (manual) or spec.backup.schedule. */
  @Column({ type: "varchar", length: 20, default: "manual" })
  source!: "manual" | "schedule";

  /** The BackupDestination it was written to; null for the local backup directory. */
  @Column({ type: "varchar", length: 63, nullable: true })
  destination!: string | null;

  /** SHA-256 of the dump (hex), checked before a restore loads it. */
  @Column({ type: "char", length: 64, nullable: true })
  sha256!: string | null;

  /** Why a failed backup failed (secrets scrubbed). */
  @Column({ type: "text", nullable: true })
  error!: string | null;
}

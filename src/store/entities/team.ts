import { Check, Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique } from "typeorm";

@Entity({ name: "teams" })
@Unique("uq_teams_name", ["name"])
@Check("check_team_name_length", "char_length(name) BETWEEN 3 AND 100")
export class Team {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_teams" })
  id!: string;

  @Column({ type: "varchar", length: 255 })
  name!: string;

  @Column({ type: "text", nullable: true })
  description!: string | null;

  @Column({ type: "jsonb", default: () => "'{}'" })
  settings!: Record<string, unknown>;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt!: Date;
}

import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, type Relation, CreateDateColumn } from "typeorm";
import { Team } from "./team.js";
import { User } from "./user.js";

@Entity({ name: "team_members" })
@Unique("uq_team_members_user_team", ["userId", "teamId"])
@Check("check_team_member_role", "role IN ('owner', 'admin', 'member', 'viewer')")
@Index("idx_team_members_team_id", ["teamId"])
export class TeamMember {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_team_members" })
  id!: string;

  @Column({ name: "user_id", type: "uuid" })
  userId!: string;

  @ManyToOne(() => User, { onDelete: "CASCADE" })
  @JoinColumn({ name: "user_id", foreignKeyConstraintName: "fk_team_members_user" })
  user?: Relation<User>;

  @Column({ name: "team_id", type: "uuid" })
  teamId!: string;

  @ManyToOne(() => Team, { onDelete: "CASCADE" })
  @JoinColumn({ name: "team_id", foreignKeyConstraintName: "fk_team_members_team" })
  team?: Relation<Team>;

  @Column({ type: "varchar", length: 50, default: "member" })
  role!: "owner" | "admin" | "member" | "viewer";

  @CreateDateColumn({ name: "joined_at", type: "timestamptz" })
  joinedAt!: Date;
}

import type { Sql } from "./sql.js";

export interface VolumeRecord {
  name: string;
  mountPath: string;
  sizeGb: number | null;
  type?: string;
  deletionPolicy: "Retain" | "Delete";
}

/**
 * The seed's volumes table: a row per named Docker volume Berth mounts, with its owner and its
 * deletion policy. Written by the Application and Database reconcilers only through here.
 */
export class VolumeStore {
  constructor(private readonly sql: Sql) {}

  /** Records (or re-points) a volume an Application mounts. */
  async recordForApplication(appUid: string, project: string, v: VolumeRecord): Promise<void> {
    await this.sql.query(
      `INSERT INTO volumes (name, type, mount_path, size_gb, application_id, project_id, deletion_policy) VALUES ($1, $2, $3, $4, $5, (SELECT id FROM projects WHERE name = $6), $7)
       ON CONFLICT (name) DO UPDATE SET mount_path = EXCLUDED.mount_path, size_gb = EXCLUDED.size_gb, application_id = EXCLUDED.application_id, deletion_policy = EXCLUDED.deletion_policy
       WHERE (volumes.mount_path, volumes.size_gb, volumes.application_id, volumes.deletion_policy) IS DISTINCT FROM (EXCLUDED.mount_path, EXCLUDED.size_gb, EXCLUDED.application_id, EXCLUDED.deletion_policy)`,
      [v.name, v.type ?? "docker_volume", v.mountPath, v.sizeGb, appUid, project, v.deletionPolicy],
    );
  }

  /** Records the data volume of a Database (size recorded; Docker's local driver does not enforce it). */
  async recordForDatabase(dbUid: string, v: VolumeRecord): Promise<void> {
    await this.sql.query(
      `INSERT INTO volumes (name, type, mount_path, size_gb, database_id, project_id, deletion_policy) VALUES ($1, 'docker_volume', $2, $3, $4, (SELECT project_id FROM databases WHERE id = $4), $5)
       ON CONFLICT (name) DO UPDATE SET mount_path = EXCLUDED.mount_path, size_gb = EXCLUDED.size_gb, database_id = EXCLUDED.database_id, project_id = EXCLUDED.project_id, deletion_policy = EXCLUDED.deletion_policy
       WHERE (volumes.mount_path, volumes.size_gb, volumes.database_id, volumes.project_id, volumes.deletion_policy) IS DISTINCT FROM (EXCLUDED.mount_path, EXCLUDED.size_gb, EXCLUDED.database_id, EXCLUDED.project_id, EXCLUDED.deletion_policy)`,
      [v.name, v.mountPath, v.sizeGb, dbUid, v.deletionPolicy],
    );
  }

  async ofApplication(appUid: string): Promise<{ name: string; deletionPolicy: "Retain" | "Delete" }[]> {
    const rows: { name: string; deletion_policy: "Retain" | "Delete" }[] = await this.sql.query(`SELECT name, deletion_policy FROM volumes WHERE application_id = $1 ORDER BY name`, [appUid]);
    return rows.map((r) => ({ name: r.name, deletionPolicy: r.deletion_policy }));
  }

  /** The volume is gone from Docker: its row goes. */
  async forget(name: string): Promise<void> {
    await this.sql.query(`DELETE FROM volumes WHERE name = $1`, [name]);
  }

  /** Retain: the data stays; the row no longer points at its Application, so that row can go. */
  async detachFromApplication(name: string): Promise<void> {
    await this.sql.query(`UPDATE volumes SET application_id = NULL WHERE name = $1`, [name]);
  }

  async detachFromDatabase(dbUid: string): Promise<void> {
    await this.sql.query(`UPDATE volumes SET database_id = NULL WHERE database_id = $1`, [dbUid]);
  }

  /** Every row of a Database's data volume (by name or by owner). */
  async forgetForDatabase(name: string, dbUid: string): Promise<void> {
    await this.sql.query(`DELETE FROM volumes WHERE name = $1 OR database_id = $2`, [name, dbUid]);
  }
}

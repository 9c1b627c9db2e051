import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The seed data model (seeds/000_21814f64ed2fdac4.txt) as tables: every entity, every
 * listed index, every relationship with its ON DELETE rule, every constraint by name.
 *
 * Deliberate differences from the seed text, each for a reason given where it is made:
 * project name length, certificate expiry, the audit resource types, deployment log levels,
 * nullable projects.owner_id, and the volume foreign keys (the seed draws the relationships
 * APPLICATION→VOLUME and DATABASE→VOLUME but gives VOLUME no column for them).
 *
 * Not carried over: row-level security (Berth authorizes in the API server, and the
 * policies need a per-session `app.user_id` that nothing sets), partitioning (needs the
 * partition key in every primary key; retention is a DELETE by created_at here), the
 * soft-delete column and the materialized view (Berth deletes through finalizers and
 * deletion_timestamp instead), "at least one owner per team" (a rule across rows, kept
 * by the code that changes membership).
 *
 * gen_random_uuid() is built into Postgres 13 and later, so no extension is needed.
 */
export class SeedSchema1732560000000 implements MigrationInterface {
  name = "SeedSchema1732560000000";

  public async up(q: QueryRunner): Promise<void> {
    for (const sql of UP) await q.query(sql);
  }

  public async down(q: QueryRunner): Promise<void> {
    for (const sql of DOWN) await q.query(sql);
  }
}

const UP: readonly string[] = [
  String.raw`CREATE TABLE users (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    username varchar(255) NOT NULL,
    email varchar(255) NOT NULL,
    -- NULL for accounts that sign in through SSO (the seed: "required unless using SSO").
    password_hash varchar(255),
    role varchar(50) NOT NULL DEFAULT 'viewer',
    preferences jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_users PRIMARY KEY (id),
    CONSTRAINT uq_users_username UNIQUE (username),
    CONSTRAINT uq_users_email UNIQUE (email),
    CONSTRAINT check_username_format CHECK (username ~ '^[a-z0-9_-]{3,50}$'),
    CONSTRAINT check_email_format CHECK (email ~ '^[^@]+@[^@]+\.[^@]+$'),
    CONSTRAINT check_user_role CHECK (role IN ('super_admin', 'admin', 'developer', 'viewer'))
  )`,
  `CREATE INDEX idx_users_role ON users (role)`,

  `CREATE TABLE teams (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name varchar(255) NOT NULL,
    description text,
    settings jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_teams PRIMARY KEY (id),
    CONSTRAINT uq_teams_name UNIQUE (name),
    CONSTRAINT check_team_name_length CHECK (char_length(name) BETWEEN 3 AND 100)
  )`,

  `CREATE TABLE team_members (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    team_id uuid NOT NULL,
    role varchar(50) NOT NULL DEFAULT 'member',
    joined_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_team_members PRIMARY KEY (id),
    CONSTRAINT uq_team_members_user_team UNIQUE (user_id, team_id),
    CONSTRAINT check_team_member_role CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    CONSTRAINT fk_team_members_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_team_members_team FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE CASCADE
  )`,
  `CREATE INDEX idx_team_members_team_id ON team_members (team_id)`,

  `CREATE TABLE projects (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name varchar(255) NOT NULL,
    description text,
    -- Nullable: a Project applied from a manifest (git watcher, a token without a user row)
    -- has no owning user. Deleting an owner still cascades to the projects it owns.
    owner_id uuid,
    team_id uuid,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_projects PRIMARY KEY (id),
    CONSTRAINT uq_projects_owner_name UNIQUE (owner_id, name),
    -- The seed says 3-100, but a Project's name is a namespace, i.e. a DNS-1123 label of
    -- 1-63 characters: "a" must be accepted. The format itself is checked by the API.
    CONSTRAINT check_project_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT fk_projects_owner FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_projects_team FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE SET NULL
  )`,
  `CREATE INDEX idx_projects_owner_id ON projects (owner_id)`,
  `CREATE INDEX idx_projects_team_id ON projects (team_id)`,
  `CREATE INDEX idx_projects_metadata ON projects USING gin (metadata)`,

  `CREATE TABLE applications (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL,
    name varchar(255) NOT NULL,
    type varchar(50) NOT NULL DEFAULT 'docker',
    status varchar(50) NOT NULL DEFAULT 'stopped',
    source_type varchar(50),
    source_config jsonb NOT NULL DEFAULT '{}',
    docker_config jsonb NOT NULL DEFAULT '{}',
    env_vars jsonb NOT NULL DEFAULT '{}',
    replicas integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_applications PRIMARY KEY (id),
    CONSTRAINT uq_applications_project_name UNIQUE (project_id, name),
    CONSTRAINT check_app_type CHECK (type IN ('docker', 'git', 'compose')),
    CONSTRAINT check_app_status CHECK (status IN ('stopped', 'deploying', 'running', 'failed', 'scaling')),
    CONSTRAINT check_app_source_type CHECK (source_type IN ('github', 'gitlab', 'bitbucket', 'gitea', 'docker', 'docker_compose')),
    CONSTRAINT check_replicas_non_negative CHECK (replicas >= 0),
    CONSTRAINT fk_applications_project FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE
  )`,
  `CREATE INDEX idx_applications_project_id ON applications (project_id)`,
  `CREATE INDEX idx_applications_status ON applications (status)`,
  `CREATE INDEX idx_applications_env_vars ON applications USING gin (env_vars)`,
  `CREATE INDEX idx_applications_docker_config ON applications USING gin (docker_config)`,

  `CREATE TABLE git_sources (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    application_id uuid NOT NULL,
    -- NULL for a repository on a host that is none of the known providers (a plain URL).
    provider varchar(50),
    repository varchar(500) NOT NULL,
    branch varchar(255),
    commit_sha varchar(40),
    webhook_config jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT pk_git_sources PRIMARY KEY (id),
    CONSTRAINT uq_git_sources_application_id UNIQUE (application_id),
    CONSTRAINT check_git_source_provider CHECK (provider IN ('github', 'gitlab', 'bitbucket', 'gitea')),
    CONSTRAINT fk_git_sources_application FOREIGN KEY (application_id) REFERENCES applications (id) ON DELETE CASCADE
  )`,

  `CREATE TABLE databases (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL,
    name varchar(255) NOT NULL,
    type varchar(50) NOT NULL,
    status varchar(50) NOT NULL DEFAULT 'initializing',
    version varchar(50),
    config jsonb NOT NULL DEFAULT '{}',
    -- Ciphertext: the application encrypts it (AES-256-GCM) before writing.
    connection_string text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_databases PRIMARY KEY (id),
    CONSTRAINT uq_databases_project_name UNIQUE (project_id, name),
    CONSTRAINT check_db_type CHECK (type IN ('postgresql', 'mysql', 'mongodb', 'redis')),
    CONSTRAINT check_db_status CHECK (status IN ('initializing', 'running', 'stopped', 'failed')),
    CONSTRAINT fk_databases_project FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE
  )`,
  `CREATE INDEX idx_databases_project_id ON databases (project_id)`,
  `CREATE INDEX idx_databases_type ON databases (type)`,

  `CREATE TABLE deployments (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    application_id uuid NOT NULL,
    triggered_by uuid,
    status varchar(50) NOT NULL DEFAULT 'pending',
    commit_sha varchar(40),
    logs text,
    metadata jsonb NOT NULL DEFAULT '{}',
    started_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    CONSTRAINT pk_deployments PRIMARY KEY (id),
    CONSTRAINT check_deployment_status CHECK (status IN ('pending', 'building', 'deploying', 'success', 'failed', 'rolled_back')),
    CONSTRAINT fk_deployments_application FOREIGN KEY (application_id) REFERENCES applications (id) ON DELETE CASCADE,
    CONSTRAINT fk_deployments_triggered_by FOREIGN KEY (triggered_by) REFERENCES users (id) ON DELETE SET NULL
  )`,
  `CREATE INDEX idx_deployments_application_started ON deployments (application_id, started_at DESC)`,
  `CREATE INDEX idx_deployments_status ON deployments (status)`,
  `CREATE INDEX idx_deployments_triggered_by ON deployments (triggered_by)`,

  `CREATE TABLE deployment_logs (
    id bigserial NOT NULL,
    deployment_id uuid NOT NULL,
    level varchar(20) NOT NULL DEFAULT 'info',
    message text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_deployment_logs PRIMARY KEY (id),
    -- The seed lists no values; these are the levels Berth's logger writes.
    CONSTRAINT check_deployment_log_level CHECK (level IN ('debug', 'info', 'warn', 'error')),
    CONSTRAINT fk_deployment_logs_deployment FOREIGN KEY (deployment_id) REFERENCES deployments (id) ON DELETE CASCADE
  )`,
  `CREATE INDEX idx_deployment_logs_deployment_created ON deployment_logs (deployment_id, created_at DESC)`,
  `CREATE INDEX idx_deployment_logs_level ON deployment_logs (level)`,

  `CREATE TABLE env_vars (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    application_id uuid NOT NULL,
    key varchar(255) NOT NULL,
    -- Ciphertext when is_secret: the application encrypts it before writing.
    value text NOT NULL,
    is_secret boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_env_vars PRIMARY KEY (id),
    CONSTRAINT uq_env_vars_application_key UNIQUE (application_id, key),
    CONSTRAINT check_env_var_key_format CHECK (key ~ '^[A-Z_][A-Z0-9_]*$'),
    CONSTRAINT fk_env_vars_application FOREIGN KEY (application_id) REFERENCES applications (id) ON DELETE CASCADE
  )`,
  `CREATE INDEX idx_env_vars_application_id ON env_vars (application_id)`,

  // RESTRICT, not NO ACTION: a volume holds data, so removing its owner must fail at once
  // until the volume row is dealt with (deleted, or detached by setting the column NULL).
  // The refusal is SQLSTATE 23001 on Postgres 18 and later, 23503 before.
  `CREATE TABLE volumes (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name varchar(255) NOT NULL,
    type varchar(50) NOT NULL DEFAULT 'docker_volume',
    mount_path varchar(500),
    -- NULL when the driver sets no size (a plain Docker volume).
    size_gb integer,
    application_id uuid,
    database_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_volumes PRIMARY KEY (id),
    CONSTRAINT uq_volumes_name UNIQUE (name),
    CONSTRAINT check_size_positive CHECK (size_gb > 0),
    CONSTRAINT fk_volumes_application FOREIGN KEY (application_id) REFERENCES applications (id) ON DELETE RESTRICT,
    CONSTRAINT fk_volumes_database FOREIGN KEY (database_id) REFERENCES databases (id) ON DELETE RESTRICT
  )`,
  `CREATE INDEX idx_volumes_application_id ON volumes (application_id)`,
  `CREATE INDEX idx_volumes_database_id ON volumes (database_id)`,

  // Lower case only, so that the unique key means one route per host.
  String.raw`CREATE TABLE domains (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL,
    domain varchar(255) NOT NULL,
    target_type varchar(50) NOT NULL DEFAULT 'application',
    target_id uuid,
    tls_enabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_domains PRIMARY KEY (id),
    CONSTRAINT uq_domains_domain UNIQUE (domain),
    CONSTRAINT check_domain_format CHECK (
      char_length(domain) <= 253
      AND domain ~ '^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'
    ),
    CONSTRAINT check_domain_target_type CHECK (target_type IN ('application', 'database')),
    CONSTRAINT fk_domains_project FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE
  )`,
  `CREATE INDEX idx_domains_project_id ON domains (project_id)`,
  `CREATE INDEX idx_domains_target ON domains (target_type, target_id)`,

  `CREATE TABLE certificates (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    domain_id uuid NOT NULL,
    issuer varchar(255),
    certificate text NOT NULL,
    -- Ciphertext: the application encrypts the PEM key before writing.
    private_key text NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_certificates PRIMARY KEY (id),
    -- The seed's CHECK (expires_at > NOW()) is not a row invariant: Postgres evaluates a
    -- CHECK only when the row is written, so an expired certificate would stay and every
    -- later UPDATE of it would fail, and a restore of a dump would reject expired rows.
    -- Expiry is watched by the renewal job (idx_certificates_expires_at) instead.
    CONSTRAINT check_expiry_after_creation CHECK (expires_at > created_at),
    CONSTRAINT fk_certificates_domain FOREIGN KEY (domain_id) REFERENCES domains (id) ON DELETE CASCADE
  )`,
  `CREATE INDEX idx_certificates_domain_id ON certificates (domain_id)`,
  `CREATE INDEX idx_certificates_expires_at ON certificates (expires_at)`,

  `CREATE TABLE backups (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    database_id uuid NOT NULL,
    type varchar(50) NOT NULL DEFAULT 'full',
    status varchar(50) NOT NULL DEFAULT 'pending',
    storage_path varchar(500),
    size_bytes bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    CONSTRAINT pk_backups PRIMARY KEY (id),
    CONSTRAINT check_backup_type CHECK (type IN ('full', 'incremental', 'snapshot')),
    CONSTRAINT check_backup_status CHECK (status IN ('pending', 'running', 'success', 'failed')),
    CONSTRAINT fk_backups_database FOREIGN KEY (database_id) REFERENCES databases (id) ON DELETE CASCADE
  )`,
  `CREATE INDEX idx_backups_database_created ON backups (database_id, created_at DESC)`,
  `CREATE INDEX idx_backups_status ON backups (status)`,

  `CREATE TABLE audit_logs (
    id bigserial NOT NULL,
    user_id uuid,
    action varchar(100) NOT NULL,
    resource_type varchar(50) NOT NULL,
    resource_id uuid,
    details jsonb NOT NULL DEFAULT '{}',
    ip_address inet,
    user_agent text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_audit_logs PRIMARY KEY (id),
    -- The seed's list plus the other things Berth's API changes.
    CONSTRAINT check_audit_resource_type CHECK (resource_type IN (
      'user', 'team', 'project', 'application', 'database', 'deployment', 'domain',
      'volume', 'backup', 'certificate', 'event'
    )),
    CONSTRAINT fk_audit_logs_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL
  )`,
  `CREATE INDEX idx_audit_logs_user_created ON audit_logs (user_id, created_at DESC)`,
  `CREATE INDEX idx_audit_logs_resource ON audit_logs (resource_type, resource_id)`,
  `CREATE INDEX idx_audit_logs_action ON audit_logs (action)`,
  `CREATE INDEX idx_audit_logs_created_at ON audit_logs (created_at DESC)`,
];

// Children before parents; dropping a table drops its indexes, constraints and serials.
const DOWN: readonly string[] = [
  `DROP TABLE audit_logs`,
  `DROP TABLE backups`,
  `DROP TABLE certificates`,
  `DROP TABLE domains`,
  `DROP TABLE volumes`,
  `DROP TABLE env_vars`,
  `DROP TABLE deployment_logs`,
  `DROP TABLE deployments`,
  `DROP TABLE databases`,
  `DROP TABLE git_sources`,
  `DROP TABLE applications`,
  `DROP TABLE projects`,
  `DROP TABLE team_members`,
  `DROP TABLE teams`,
  `DROP TABLE users`,
];

import { expect } from "chai";
import type { DataSource } from "typeorm";
import { createDataSource, MIGRATIONS_TABLE, migrate, revertAll } from "../src/store/data-source.js";
import { Application, Project, User } from "../src/store/entities/index.js";
import { SeedSchema1732560000000 } from "../src/store/migrations/index.js";
import { POSTGRES_SERVERS, type TestPostgres } from "./helpers/postgres.js";

const BERTH_TABLES = [
  "api_tokens", "applications", "audit_logs", "backup_destinations", "backups", "berth_installation", "berth_key_rotations", "berth_retained_credentials", "certificates", "databases", "deployment_logs", "deployments",
  "domains", "env_vars", "events", "git_sources", "job_runs", "notification_outbox", "notifications", "projects", "resource_changes", "restores", "syncs", "team_members", "teams",
  "users", "volume_backups", "volume_restores", "volumes",
];
const MIGRATION_NAMES = ["SeedSchema1732560000000", "ResourceObjects1732560000001", "Installation1732560000002", "DatabaseRuntime1732560000010", "DomainCertificates1732560000020", "StatusOnlyChanges1732560000030", "ChangePrevLabels1732560000040", "Syncs1732560000050", "PeopleAndTokens1732560000060", "KeyRotation1732560000070", "JobRuns1732560000080", "AccessNotify1732560000085", "Notifications1732560000090", "BackupDestinations1732560000110", "VolumeBackups1732560000120"];

const UNIQUE = "23505";
const CHECK = "23514";
const FOREIGN_KEY = "23503";
const NOT_NULL = "23502";

/**
 * The SQLSTATE of an ON DELETE RESTRICT refusal: Postgres 18 reports restrict_violation
 * (23001, commit 086c84b23); earlier versions report foreign_key_violation (23503).
 */
async function restrictViolation(ds: DataSource): Promise<string> {
  const version = Number((await one(ds, "SELECT current_setting('server_version_num') AS v")).v);
  return version >= 180000 ? "23001" : FOREIGN_KEY;
}

type Row = Record<string, any>;

async function rows(ds: DataSource, sql: string, params: unknown[] = []): Promise<Row[]> {
  return (await ds.query(sql, params)) as Row[];
}

async function one(ds: DataSource, sql: string, params: unknown[] = []): Promise<Row> {
  const [row] = await rows(ds, sql, params);
  return row;
}

async function count(ds: DataSource, table: string): Promise<number> {
  return Number((await one(ds, `SELECT count(*) AS n FROM ${table}`)).n);
}

/** The Postgres error a statement fails with: its SQLSTATE and the constraint it names. */
async function failure(ds: DataSource, sql: string, params: unknown[] = []): Promise<{ code: string; constraint?: string }> {
  try {
    await ds.query(sql, params);
  } catch (err) {
    const e = ((err as { driverError?: unknown }).driverError ?? err) as { code: string; constraint?: string };
    return { code: e.code, constraint: e.constraint };
  }
  throw new Error(`expected to fail: ${sql}`);
}

async function publicTables(ds: DataSource): Promise<string[]> {
  const r = await rows(ds, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
  return r.map((x) => x.tablename as string);
}

/** Everything the migrations can create in the public schema, as comparable lines. */
async function catalog(ds: DataSource): Promise<string[]> {
  const r = await rows(ds, `
    SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type
           || coalesce('(' || character_maximum_length || ')', '') || ' ' || is_nullable
           || ' ' || coalesce(column_default, '') AS line
      FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> $1
    UNION ALL
    SELECT 'constraint ' || conrelid::regclass || '.' || conname || ' ' || pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid <> $1::regclass
    UNION ALL
    SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> $1
    UNION ALL
    SELECT 'sequence ' || sequencename FROM pg_sequences WHERE schemaname = 'public' AND sequencename <> $1 || '_id_seq'
    ORDER BY 1`, [MIGRATIONS_TABLE]);
  return r.map((x) => x.line as string);
}

// Fixtures, in plain SQL so that each test reads as the rule it checks.

async function user(ds: DataSource, username: string): Promise<string> {
  const r = await one(ds, "INSERT INTO users (username, email) VALUES ($1, $2) RETURNING id", [username, `${username}@example.com`]);
  return r.id as string;
}

async function team(ds: DataSource, name: string): Promise<string> {
  return (await one(ds, "INSERT INTO teams (name) VALUES ($1) RETURNING id", [name])).id as string;
}

async function project(ds: DataSource, name: string, ownerId: string | null = null, teamId: string | null = null): Promise<string> {
  const sql = "INSERT INTO projects (name, owner_id, team_id) VALUES ($1, $2, $3) RETURNING id";
  return (await one(ds, sql, [name, ownerId, teamId])).id as string;
}

async function application(ds: DataSource, projectId: string, name: string): Promise<string> {
  return (await one(ds, "INSERT INTO applications (project_id, name) VALUES ($1, $2) RETURNING id", [projectId, name])).id as string;
}

async function database(ds: DataSource, projectId: string, name: string): Promise<string> {
  const sql = "INSERT INTO databases (project_id, name, type) VALUES ($1, $2, 'postgresql') RETURNING id";
  return (await one(ds, sql, [projectId, name])).id as string;
}

async function deployment(ds: DataSource, applicationId: string, triggeredBy: string | null = null): Promise<string> {
  const sql = "INSERT INTO deployments (application_id, triggered_by) VALUES ($1, $2) RETURNING id";
  return (await one(ds, sql, [applicationId, triggeredBy])).id as string;
}

async function domain(ds: DataSource, projectId: string, name: string, host: string): Promise<string> {
  const sql = "INSERT INTO domains (project_id, name, domain) VALUES ($1, $2, $3) RETURNING id";
  return (await one(ds, sql, [projectId, name, host])).id as string;
}

/** A project with one of everything below it. */
async function populatedProject(ds: DataSource, name: string): Promise<{ projectId: string; appId: string; dbId: string }> {
  const projectId = await project(ds, name);
  const appId = await application(ds, projectId, "api");
  const dbId = await database(ds, projectId, "db");
  const deploymentId = await deployment(ds, appId);
  await ds.query("INSERT INTO deployment_logs (deployment_id, message) VALUES ($1, 'built')", [deploymentId]);
  await ds.query("INSERT INTO env_vars (application_id, key, value) VALUES ($1, 'PORT', '8080')", [appId]);
  await ds.query("INSERT INTO git_sources (application_id, provider, repository) VALUES ($1, 'github', 'acme/api')", [appId]);
  await ds.query("INSERT INTO backups (database_id) VALUES ($1)", [dbId]);
  const domainId = await domain(ds, projectId, "api", `api.${name}.example.com`);
  const cert = "INSERT INTO certificates (domain_id, certificate, private_key, expires_at) VALUES ($1, 'PEM', 'ciphertext', now() + interval '90 days')";
  await ds.query(cert, [domainId]);
  return { projectId, appId, dbId };
}

for (const server of POSTGRES_SERVERS) {
  describe(`store schema on ${server.name}`, function () {
    this.timeout(120_000);
    let pg: TestPostgres;
    let ds: DataSource;

    before(async () => {
      pg = await server.start();
      ds = createDataSource(pg.url);
      await ds.initialize();
    });

    after(async () => {
      if (ds?.isInitialized) await ds.destroy();
      await pg?.stop();
    });

    describe("migrations", () => {
      it("two processes migrating an empty database at once apply each migration once", async () => {
        const other = createDataSource(pg.url);
        try {
          const results = await Promise.all([migrate(ds), migrate(other)]);
          const sorted = results.sort((a, b) => b.length - a.length);
          expect(sorted).to.deep.equal([MIGRATION_NAMES, []]);
        } finally {
          await other.destroy();
        }
        expect(await count(ds, MIGRATIONS_TABLE)).to.equal(MIGRATION_NAMES.length);
      });

      it("creates every Berth table and the resource version sequence", async () => {
        expect(await publicTables(ds)).to.deep.equal([MIGRATIONS_TABLE, ...BERTH_TABLES].sort());
        const seq = await rows(ds, "SELECT 1 FROM pg_sequences WHERE sequencename = 'berth_resource_version'");
        expect(seq).to.have.length(1);
      });

      it("running migrate again is a no-op", async () => {
        const before = await catalog(ds);
        expect(await migrate(ds)).to.deep.equal([]);
        expect(await catalog(ds)).to.deep.equal(before);
        expect(await count(ds, MIGRATIONS_TABLE)).to.equal(MIGRATION_NAMES.length);
      });

      it("the entities describe exactly the migrated schema", async () => {
        const diff = await ds.driver.createSchemaBuilder().log();
        expect(diff.upQueries.map((q) => q.query)).to.deep.equal([]);
      });

      it("revertAll removes every table, constraint, index and sequence the migrations made", async () => {
        await revertAll(ds);
        expect(await publicTables(ds)).to.deep.equal([MIGRATIONS_TABLE]);
        expect(await catalog(ds)).to.deep.equal([]);
        expect(await count(ds, MIGRATIONS_TABLE)).to.equal(0);
        const extensions = await rows(ds, "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'");
        expect(extensions).to.deep.equal([]);
      });

      it("the later migrations' downs restore exactly the schema the first made", async () => {
        const qr = ds.createQueryRunner();
        let seedOnly: string[];
        try {
          await new SeedSchema1732560000000().up(qr);
          seedOnly = await catalog(ds);
          await new SeedSchema1732560000000().down(qr);
        } finally {
          await qr.release();
        }
        expect(await catalog(ds)).to.deep.equal([]);
        await migrate(ds);
        for (let i = 1; i < MIGRATION_NAMES.length; i++) await ds.undoLastMigration();
        expect(await catalog(ds)).to.deep.equal(seedOnly);
        await revertAll(ds);
      });

      it("migrates up again after a full revert, then has nothing pending", async () => {
        expect(await migrate(ds)).to.deep.equal(MIGRATION_NAMES);
        expect(await migrate(ds)).to.deep.equal([]);
        expect(await publicTables(ds)).to.deep.equal([MIGRATIONS_TABLE, ...BERTH_TABLES].sort());
      });
    });

    describe("with the schema migrated", () => {
      before(async () => {
        await migrate(ds);
      });

      beforeEach(async () => {
        await ds.query(`TRUNCATE ${BERTH_TABLES.join(", ")} RESTART IDENTITY CASCADE`);
      });

      describe("seed constraints reject a bad row", () => {
        it("username not matching ^[a-z0-9_-]{3,50}$", async () => {
          const sql = "INSERT INTO users (username, email) VALUES ('John Doe', 'john@example.com')";
          expect(await failure(ds, sql)).to.deep.equal({ code: CHECK, constraint: "check_username_format" });
        });

        it("email without a domain", async () => {
          const sql = "INSERT INTO users (username, email) VALUES ('john', 'john@localhost')";
          expect(await failure(ds, sql)).to.deep.equal({ code: CHECK, constraint: "check_email_format" });
        });

        it("user role outside super_admin, admin, developer, viewer", async () => {
          const sql = "INSERT INTO users (username, email, role) VALUES ('john', 'john@example.com', 'root')";
          expect(await failure(ds, sql)).to.deep.equal({ code: CHECK, constraint: "check_user_role" });
        });

        it("duplicate username", async () => {
          await user(ds, "john");
          const sql = "INSERT INTO users (username, email) VALUES ('john', 'other@example.com')";
          expect(await failure(ds, sql)).to.deep.equal({ code: UNIQUE, constraint: "uq_users_username" });
        });

        it("duplicate email", async () => {
          await user(ds, "john");
          const sql = "INSERT INTO users (username, email) VALUES ('johnny', 'john@example.com')";
          expect(await failure(ds, sql)).to.deep.equal({ code: UNIQUE, constraint: "uq_users_email" });
        });

        it("the same user twice in a team", async () => {
          const u = await user(ds, "john");
          const t = await team(ds, "platform");
          await ds.query("INSERT INTO team_members (user_id, team_id, role) VALUES ($1, $2, 'owner')", [u, t]);
          const sql = "INSERT INTO team_members (user_id, team_id, role) VALUES ($1, $2, 'admin')";
          expect(await failure(ds, sql, [u, t])).to.deep.equal({ code: UNIQUE, constraint: "uq_team_members_user_team" });
        });

        it("team member role outside owner, admin, member, viewer", async () => {
          const u = await user(ds, "john");
          const t = await team(ds, "platform");
          const sql = "INSERT INTO team_members (user_id, team_id, role) VALUES ($1, $2, 'developer')";
          expect(await failure(ds, sql, [u, t])).to.deep.equal({ code: CHECK, constraint: "check_team_member_role" });
        });

        it("team name shorter than 3 characters", async () => {
          const sql = "INSERT INTO teams (name) VALUES ('ab')";
          expect(await failure(ds, sql)).to.deep.equal({ code: CHECK, constraint: "check_team_name_length" });
        });

        it("duplicate team name", async () => {
          await team(ds, "platform");
          const sql = "INSERT INTO teams (name) VALUES ('platform')";
          expect(await failure(ds, sql)).to.deep.equal({ code: UNIQUE, constraint: "uq_teams_name" });
        });

        it("project name empty (but a one-character DNS label is accepted)", async () => {
          await project(ds, "a");
          const sql = "INSERT INTO projects (name) VALUES ('')";
          expect(await failure(ds, sql)).to.deep.equal({ code: CHECK, constraint: "check_project_name_length" });
        });

        it("duplicate (owner, name) project", async () => {
          const owner = await user(ds, "john");
          await project(ds, "shop", owner);
          const sql = "INSERT INTO projects (name, owner_id) VALUES ('shop', $1)";
          expect(await failure(ds, sql, [owner])).to.deep.equal({ code: UNIQUE, constraint: "uq_projects_owner_name" });
        });

        it("duplicate project name under another owner (the name is the namespace)", async () => {
          await project(ds, "shop", await user(ds, "john"));
          const sql = "INSERT INTO projects (name, owner_id) VALUES ('shop', $1)";
          expect(await failure(ds, sql, [await user(ds, "jane")])).to.deep.equal({ code: UNIQUE, constraint: "uq_projects_name" });
        });

        it("replicas -1", async () => {
          const p = await project(ds, "shop");
          const sql = "INSERT INTO applications (project_id, name, replicas) VALUES ($1, 'api', -1)";
          expect(await failure(ds, sql, [p])).to.deep.equal({ code: CHECK, constraint: "check_replicas_non_negative" });
        });

        it("application type outside docker, git, compose", async () => {
          const p = await project(ds, "shop");
          const sql = "INSERT INTO applications (project_id, name, type) VALUES ($1, 'api', 'lambda')";
          expect(await failure(ds, sql, [p])).to.deep.equal({ code: CHECK, constraint: "check_app_type" });
        });

        it("application status outside the seed's values", async () => {
          const p = await project(ds, "shop");
          const sql = "INSERT INTO applications (project_id, name, status) VALUES ($1, 'api', 'archived')";
          expect(await failure(ds, sql, [p])).to.deep.equal({ code: CHECK, constraint: "check_app_status" });
        });

        it("application source type outside the known sources", async () => {
          const p = await project(ds, "shop");
          const sql = "INSERT INTO applications (project_id, name, source_type) VALUES ($1, 'api', 'svn')";
          expect(await failure(ds, sql, [p])).to.deep.equal({ code: CHECK, constraint: "check_app_source_type" });
        });

        it("duplicate application name in a project (the same name in another project is fine)", async () => {
          const p = await project(ds, "shop");
          await application(ds, p, "api");
          await application(ds, await project(ds, "blog"), "api");
          const sql = "INSERT INTO applications (project_id, name) VALUES ($1, 'api')";
          expect(await failure(ds, sql, [p])).to.deep.equal({ code: UNIQUE, constraint: "uq_applications_project_name" });
        });

        it("application in a project that does not exist", async () => {
          const sql = "INSERT INTO applications (project_id, name) VALUES (gen_random_uuid(), 'api')";
          expect(await failure(ds, sql)).to.deep.equal({ code: FOREIGN_KEY, constraint: "fk_applications_project" });
        });

        it("database type outside postgresql, mysql, mongodb, redis", async () => {
          const p = await project(ds, "shop");
          const sql = "INSERT INTO databases (project_id, name, type) VALUES ($1, 'db', 'oracle')";
          expect(await failure(ds, sql, [p])).to.deep.equal({ code: CHECK, constraint: "check_db_type" });
        });

        it("database status outside initializing, running, stopped, failed", async () => {
          const p = await project(ds, "shop");
          const sql = "INSERT INTO databases (project_id, name, type, status) VALUES ($1, 'db', 'redis', 'paused')";
          expect(await failure(ds, sql, [p])).to.deep.equal({ code: CHECK, constraint: "check_db_status" });
        });

        it("duplicate database name in a project", async () => {
          const p = await project(ds, "shop");
          await database(ds, p, "db");
          const sql = "INSERT INTO databases (project_id, name, type) VALUES ($1, 'db', 'redis')";
          expect(await failure(ds, sql, [p])).to.deep.equal({ code: UNIQUE, constraint: "uq_databases_project_name" });
        });

        it("deployment status outside the rollout states", async () => {
          const app = await application(ds, await project(ds, "shop"), "api");
          const sql = "INSERT INTO deployments (application_id, status) VALUES ($1, 'done')";
          expect(await failure(ds, sql, [app])).to.deep.equal({ code: CHECK, constraint: "check_deployment_status" });
        });

        it("backup status outside pending, running, success, failed", async () => {
          const db = await database(ds, await project(ds, "shop"), "db");
          const sql = "INSERT INTO backups (database_id, status) VALUES ($1, 'queued')";
          expect(await failure(ds, sql, [db])).to.deep.equal({ code: CHECK, constraint: "check_backup_status" });
        });

        it("backup type outside full, incremental, snapshot", async () => {
          const db = await database(ds, await project(ds, "shop"), "db");
          const sql = "INSERT INTO backups (database_id, type) VALUES ($1, 'differential')";
          expect(await failure(ds, sql, [db])).to.deep.equal({ code: CHECK, constraint: "check_backup_type" });
        });

        it("deployment log level outside debug, info, warn, error", async () => {
          const dep = await deployment(ds, await application(ds, await project(ds, "shop"), "api"));
          const sql = "INSERT INTO deployment_logs (deployment_id, level, message) VALUES ($1, 'fatal', 'x')";
          expect(await failure(ds, sql, [dep])).to.deep.equal({ code: CHECK, constraint: "check_deployment_log_level" });
        });

        it("env var key not matching ^[A-Z_][A-Z0-9_]*$", async () => {
          const app = await application(ds, await project(ds, "shop"), "api");
          const sql = "INSERT INTO env_vars (application_id, key, value) VALUES ($1, 'node-env', 'x')";
          expect(await failure(ds, sql, [app])).to.deep.equal({ code: CHECK, constraint: "check_env_var_key_format" });
        });

        it("duplicate env var key in an application", async () => {
          const app = await application(ds, await project(ds, "shop"), "api");
          await ds.query("INSERT INTO env_vars (application_id, key, value) VALUES ($1, 'PORT', '80')", [app]);
          const sql = "INSERT INTO env_vars (application_id, key, value) VALUES ($1, 'PORT', '8080')";
          expect(await failure(ds, sql, [app])).to.deep.equal({ code: UNIQUE, constraint: "uq_env_vars_application_key" });
        });

        it("volume of size 0", async () => {
          const sql = "INSERT INTO volumes (name, size_gb) VALUES ('data', 0)";
          expect(await failure(ds, sql)).to.deep.equal({ code: CHECK, constraint: "check_size_positive" });
        });

        it("duplicate volume name", async () => {
          await ds.query("INSERT INTO volumes (name) VALUES ('data')");
          const sql = "INSERT INTO volumes (name) VALUES ('data')";
          expect(await failure(ds, sql)).to.deep.equal({ code: UNIQUE, constraint: "uq_volumes_name" });
        });

        it("volume deletion policy outside Retain, Delete (Retain by default)", async () => {
          const r = await one(ds, "INSERT INTO volumes (name) VALUES ('data') RETURNING deletion_policy");
          expect(r.deletion_policy).to.equal("Retain");
          const sql = "INSERT INTO volumes (name, deletion_policy) VALUES ('logs', 'Forget')";
          expect(await failure(ds, sql)).to.deep.equal({ code: CHECK, constraint: "check_volume_deletion_policy" });
        });

        it("the same host in two projects", async () => {
          await domain(ds, await project(ds, "shop"), "web", "shop.example.com");
          const sql = "INSERT INTO domains (project_id, name, domain) VALUES ($1, 'web', 'shop.example.com')";
          expect(await failure(ds, sql, [await project(ds, "blog")])).to.deep.equal({ code: UNIQUE, constraint: "uq_domains_domain" });
        });

        it("duplicate Domain name in a project", async () => {
          const p = await project(ds, "shop");
          await domain(ds, p, "web", "shop.example.com");
          const sql = "INSERT INTO domains (project_id, name, domain) VALUES ($1, 'web', 'www.shop.example.com')";
          expect(await failure(ds, sql, [p])).to.deep.equal({ code: UNIQUE, constraint: "uq_domains_project_name" });
        });

        it("host that is not a lower-case domain name (a wildcard is fine)", async () => {
          const p = await project(ds, "shop");
          await domain(ds, p, "wild", "*.shop.example.com");
          for (const host of ["Shop.example.com", "shop..example.com", "-shop.example.com", "shop.example.com/x"]) {
            const sql = "INSERT INTO domains (project_id, name, domain) VALUES ($1, 'web', $2)";
            expect(await failure(ds, sql, [p, host]), host).to.deep.equal({ code: CHECK, constraint: "check_domain_format" });
          }
        });

        it("domain target type outside application, database", async () => {
          const p = await project(ds, "shop");
          const sql = "INSERT INTO domains (project_id, name, domain, target_type) VALUES ($1, 'web', 'a.example.com', 'volume')";
          expect(await failure(ds, sql, [p])).to.deep.equal({ code: CHECK, constraint: "check_domain_target_type" });
        });

        it("domain path not starting with /, port out of range, unknown TLS issuer", async () => {
          const p = await project(ds, "shop");
          const base = "INSERT INTO domains (project_id, name, domain, path, target_port, tls_issuer) VALUES ($1, 'web', 'a.example.com', $2, $3, $4)";
          expect(await failure(ds, base, [p, "api", 80, "acme"])).to.deep.equal({ code: CHECK, constraint: "check_domain_path" });
          expect(await failure(ds, base, [p, "/", 70000, "acme"])).to.deep.equal({ code: CHECK, constraint: "check_domain_target_port" });
          expect(await failure(ds, base, [p, "/", 80, "self"])).to.deep.equal({ code: CHECK, constraint: "check_domain_tls_issuer" });
        });

        it("audit resource type outside the list (volume, backup, certificate, event are in it)", async () => {
          for (const type of ["volume", "backup", "certificate", "event"]) {
            await ds.query("INSERT INTO audit_logs (action, resource_type, ip_address) VALUES ('x.create', $1, '10.0.0.1')", [type]);
          }
          const sql = "INSERT INTO audit_logs (action, resource_type) VALUES ('x.create', 'cluster')";
          expect(await failure(ds, sql)).to.deep.equal({ code: CHECK, constraint: "check_audit_resource_type" });
        });

        it("certificate that expires before it was created (an expired one stays storable)", async () => {
          const d = await domain(ds, await project(ds, "shop"), "web", "shop.example.com");
          const expired = "INSERT INTO certificates (domain_id, certificate, private_key, created_at, expires_at) VALUES ($1, 'PEM', 'c', now() - interval '2 years', now() - interval '1 year')";
          await ds.query(expired, [d]);
          const sql = "INSERT INTO certificates (domain_id, certificate, private_key, expires_at) VALUES ($1, 'PEM', 'c', now() - interval '1 day')";
          expect(await failure(ds, sql, [d])).to.deep.equal({ code: CHECK, constraint: "check_expiry_after_creation" });
        });

        it("git source provider outside github, gitlab, bitbucket, gitea", async () => {
          const app = await application(ds, await project(ds, "shop"), "api");
          const sql = "INSERT INTO git_sources (application_id, provider, repository) VALUES ($1, 'sourceforge', 'acme/api')";
          expect(await failure(ds, sql, [app])).to.deep.equal({ code: CHECK, constraint: "check_git_source_provider" });
        });

        it("a second git source for one application", async () => {
          const app = await application(ds, await project(ds, "shop"), "api");
          await ds.query("INSERT INTO git_sources (application_id, provider, repository) VALUES ($1, 'github', 'acme/api')", [app]);
          const sql = "INSERT INTO git_sources (application_id, provider, repository) VALUES ($1, 'gitlab', 'acme/api')";
          expect(await failure(ds, sql, [app])).to.deep.equal({ code: UNIQUE, constraint: "uq_git_sources_application_id" });
        });
      });

      describe("relationships", () => {
        it("deleting a user deletes their projects and memberships, keeps their deployments and audit entries", async () => {
          const alice = await user(ds, "alice");
          const bob = await user(ds, "bob");
          const t = await team(ds, "platform");
          await ds.query("INSERT INTO team_members (user_id, team_id, role) VALUES ($1, $2, 'owner')", [bob, t]);
          const bobsProject = await project(ds, "bobs", bob);
          await application(ds, bobsProject, "api");
          const alicesApp = await application(ds, await project(ds, "alices", alice), "api");
          const dep = await deployment(ds, alicesApp, bob);
          await ds.query("INSERT INTO audit_logs (user_id, action, resource_type) VALUES ($1, 'project.create', 'project')", [bob]);

          await ds.query("DELETE FROM users WHERE id = $1", [bob]);

          expect(await rows(ds, "SELECT name FROM projects")).to.deep.equal([{ name: "alices" }]);
          expect(await rows(ds, "SELECT project_id FROM applications")).to.have.length(1);
          expect(await rows(ds, "SELECT triggered_by FROM deployments WHERE id = $1", [dep])).to.deep.equal([{ triggered_by: null }]);
          expect(await rows(ds, "SELECT user_id FROM audit_logs")).to.deep.equal([{ user_id: null }]);
          expect(await count(ds, "team_members")).to.equal(0);
          expect(await count(ds, "teams")).to.equal(1);
        });

        it("deleting a team unlinks its projects and removes its memberships", async () => {
          const u = await user(ds, "alice");
          const t = await team(ds, "platform");
          await ds.query("INSERT INTO team_members (user_id, team_id, role) VALUES ($1, $2, 'owner')", [u, t]);
          const p = await project(ds, "shop", u, t);

          await ds.query("DELETE FROM teams WHERE id = $1", [t]);

          expect(await rows(ds, "SELECT id, team_id FROM projects")).to.deep.equal([{ id: p, team_id: null }]);
          expect(await count(ds, "team_members")).to.equal(0);
          expect(await count(ds, "users")).to.equal(1);
        });

        it("deleting a project deletes everything below it and nothing of other projects", async () => {
          const { projectId } = await populatedProject(ds, "shop");
          await populatedProject(ds, "blog");
          const below = ["applications", "databases", "domains", "deployments", "deployment_logs", "env_vars", "git_sources", "backups", "certificates"];
          for (const table of below) expect(await count(ds, table), table).to.equal(2);

          await ds.query("DELETE FROM projects WHERE id = $1", [projectId]);

          for (const table of below) expect(await count(ds, table), table).to.equal(1);
          expect(await one(ds, "SELECT name FROM projects")).to.deep.equal({ name: "blog" });
        });

        let restrictCode: string;
        before(async () => {
          restrictCode = await restrictViolation(ds);
        });

        it("an application with a volume cannot be deleted until the volume row is removed", async () => {
          const app = await application(ds, await project(ds, "shop"), "api");
          await deployment(ds, app);
          await ds.query("INSERT INTO volumes (name, application_id) VALUES ('shop-api-data', $1)", [app]);
          const del = "DELETE FROM applications WHERE id = $1";

          expect(await failure(ds, del, [app])).to.deep.equal({ code: restrictCode, constraint: "fk_volumes_application" });
          expect(await count(ds, "deployments")).to.equal(1);

          await ds.query("DELETE FROM volumes WHERE name = 'shop-api-data'");
          await ds.query(del, [app]);
          expect(await count(ds, "applications")).to.equal(0);
          expect(await count(ds, "deployments")).to.equal(0);
        });

        it("a database with a volume cannot be deleted until the volume row is removed", async () => {
          const db = await database(ds, await project(ds, "shop"), "db");
          await ds.query("INSERT INTO backups (database_id) VALUES ($1)", [db]);
          await ds.query("INSERT INTO volumes (name, database_id) VALUES ('shop-db-data', $1)", [db]);
          const del = "DELETE FROM databases WHERE id = $1";

          expect(await failure(ds, del, [db])).to.deep.equal({ code: restrictCode, constraint: "fk_volumes_database" });

          await ds.query("DELETE FROM volumes WHERE name = 'shop-db-data'");
          await ds.query(del, [db]);
          expect(await count(ds, "databases")).to.equal(0);
          expect(await count(ds, "backups")).to.equal(0);
        });

        it("a project's own volumes go with it; a volume outside it blocks its deletion", async () => {
          const { projectId, appId, dbId } = await populatedProject(ds, "shop");
          const vol = "INSERT INTO volumes (name, application_id, database_id, project_id) VALUES ($1, $2, $3, $4)";
          await ds.query(vol, ["shop-api-data", appId, null, projectId]);
          await ds.query(vol, ["shop-db-data", null, dbId, projectId]);
          await ds.query(vol, ["shared-cache", appId, null, null]);
          const del = "DELETE FROM projects WHERE id = $1";

          expect(await failure(ds, del, [projectId])).to.deep.equal({ code: restrictCode, constraint: "fk_volumes_application" });

          await ds.query("DELETE FROM volumes WHERE name = 'shared-cache'");
          await ds.query(del, [projectId]);
          expect(await count(ds, "volumes")).to.equal(0);
          expect(await count(ds, "applications")).to.equal(0);
        });
      });

      describe("resource objects", () => {
        it("a row written with seed columns only is a valid object with a fresh resource version", async () => {
          const p = await project(ds, "shop");
          const a = await one(ds, "INSERT INTO applications (project_id, name) VALUES ($1, 'api') RETURNING *", [p]);
          const b = await one(ds, "INSERT INTO applications (project_id, name) VALUES ($1, 'web') RETURNING *", [p]);
          expect(Number(b.resource_version)).to.be.greaterThan(Number(a.resource_version));
          expect(a).to.include({ type: "docker", status: "stopped", replicas: 1, generation: "1", deletion_timestamp: null });
          expect(a).to.deep.include({ labels: {}, annotations: {}, finalizers: [], spec: {}, object_status: {}, managed_fields: [] });
          const d = await one(ds, "INSERT INTO domains (project_id, name, domain) VALUES ($1, 'web', 'shop.example.com') RETURNING *", [p]);
          expect(d).to.include({ path: "/", target_type: "application", target_id: null, target_name: null, tls_enabled: false });
        });

        it("object metadata of the wrong JSON type is rejected", async () => {
          const p = await project(ds, "shop");
          const sql = "INSERT INTO applications (project_id, name, labels) VALUES ($1, 'api', '[]')";
          expect(await failure(ds, sql, [p])).to.deep.equal({ code: CHECK, constraint: "check_applications_object_shape" });
          const spec = "UPDATE projects SET spec = '\"text\"' WHERE id = $1";
          expect(await failure(ds, spec, [p])).to.deep.equal({ code: CHECK, constraint: "check_projects_object_shape" });
        });

        it("the change log takes its rv from berth_resource_version and only the three watch event types", async () => {
          const insert = "INSERT INTO resource_changes (rv, kind, name, uid, event_type, object) VALUES ($1, 'Project', 'shop', gen_random_uuid(), $2, '{}')";
          const rv = (await one(ds, "SELECT nextval('berth_resource_version') AS rv")).rv as string;
          await ds.query(insert, [rv, "ADDED"]);
          expect(await failure(ds, insert, [null, "MODIFIED"])).to.include({ code: NOT_NULL });
          expect(await failure(ds, insert, [rv, "MODIFIED"])).to.deep.equal({ code: UNIQUE, constraint: "pk_resource_changes" });
          expect(await failure(ds, insert, [Number(rv) + 1, "BOOKMARK"])).to.deep.equal({ code: CHECK, constraint: "check_resource_change_event_type" });
        });

        it("events are Normal or Warning and count from 1", async () => {
          const insert = "INSERT INTO events (involved_kind, involved_name, involved_uid, type, reason) VALUES ('Application', 'api', gen_random_uuid(), $1, 'Started') RETURNING count, resource_version, message";
          expect(await one(ds, insert, ["Normal"])).to.deep.equal({ count: 1, resource_version: "0", message: "" });
          expect(await failure(ds, insert, ["Error"])).to.deep.equal({ code: CHECK, constraint: "check_event_type" });
        });

        it("the entities read and write rows", async () => {
          const owner = await ds.getRepository(User).save({ username: "alice", email: "alice@example.com" });
          const p = await ds.getRepository(Project).save({ name: "shop", ownerId: owner.id, labels: { env: "prod" } });
          await ds.getRepository(Application).save({ projectId: p.id, name: "api", replicas: 3, spec: { replicas: 3 } });
          const app = await ds.getRepository(Application).findOneOrFail({ where: { name: "api" }, relations: { project: { owner: true } } });
          expect(app.project?.owner?.username).to.equal("alice");
          expect(app).to.include({ replicas: 3, status: "stopped", generation: "1" });
          expect(app.spec).to.deep.equal({ replicas: 3 });
          expect(app.resourceVersion).to.match(/^\d+$/);
        });
      });
    });
  });
}

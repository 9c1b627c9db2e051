import type { Command } from "commander";
import { processIo } from "../shared/io.js";
import { clientFromCommand } from "../shared/kubeconfig.js";

// As in objects/: each command's module is imported when it runs, so that --help loads none.

interface NamespaceFlag {
  namespace?: string;
}

function registerBackups(db: Command): void {
  db.command("backup")
    .argument("<name>", "the Database")
    .option("-n, --namespace <project>", "the Project")
    .option("--no-wait", "return at once; the backup runs in the background")
    .option("--timeout <duration>", "how long to wait for the backup", "10m")
    .description("take a backup now with the engine's own dump tool; exit 1 if it fails")
    .action(async (name: string, opts: NamespaceFlag & { wait: boolean; timeout: string }, cmd: Command) => {
      const { backupCommand } = await import("./backups.js");
      await backupCommand(clientFromCommand(cmd), { name, ...opts }, processIo);
    });
  db.command("backups")
    .argument("<name>", "the Database")
    .option("-n, --namespace <project>", "the Project")
    .option("-o, --output <format>", "table or json", "table")
    .description("list a Database's backups, newest first")
    .action(async (name: string, opts: NamespaceFlag & { output: string }, cmd: Command) => {
      const { backupsCommand } = await import("./backups.js");
      await backupsCommand(clientFromCommand(cmd), { name, ...opts }, processIo);
    });
}

function registerRestores(db: Command): void {
  db.command("restore")
    .argument("<name>", "the Database")
    .option("-n, --namespace <project>", "the Project")
    .requiredOption("--from <backup-id>", "the backup to restore (an id, or a unique prefix of one, from `berth db backups`)")
    .option("--timeout <duration>", "how long to wait for the restore", "30m")
    .description("restore a backup into the running Database; exit 1 if it fails")
    .action(async (name: string, opts: NamespaceFlag & { from: string; timeout: string }, cmd: Command) => {
      const { restoreCommand } = await import("./restores.js");
      await restoreCommand(clientFromCommand(cmd), { name, ...opts }, processIo);
    });
  db.command("restores")
    .argument("<name>", "the Database")
    .option("-n, --namespace <project>", "the Project")
    .description("list a Database's restores, newest first")
    .action(async (name: string, opts: NamespaceFlag, cmd: Command) => {
      const { restoresCommand } = await import("./restores.js");
      await restoresCommand(clientFromCommand(cmd), { name, ...opts }, processIo);
    });
}

/**
 * Adds `berth db credentials|backup|backups|restore|restores`: the operations on a Database
 * that are not desired state — revealing its credentials, taking a backup now, listing
 * backups, restoring one. Each is a call to the server's
 * /berth/v1/namespaces/NS/databases/NAME/… endpoints (src/api/databases.ts).
 */
export function registerDbCommands(program: Command): void {
  const db = program.command("db").description("database operations: credentials, backups, restore");
  db.command("credentials")
    .argument("<name>", "the Database")
    .option("-n, --namespace <project>", "the Project")
    .option("-o, --output <format>", "text, json, or env (DATABASE_URL= for this host)", "text")
    .description("reveal a Database's generated credentials (the reveal is audit-logged)")
    .action(async (name: string, opts: NamespaceFlag & { output: string }, cmd: Command) => {
      const { credentialsCommand } = await import("./credentials.js");
      await credentialsCommand(clientFromCommand(cmd), { name, ...opts }, processIo);
    });
  registerBackups(db);
  registerRestores(db);
}

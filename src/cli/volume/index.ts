import type { Command } from "commander";
import { processIo } from "../shared/io.js";
import { clientFromCommand } from "../shared/kubeconfig.js";

// As in job/: each command's module is imported when it runs, so that --help loads none.

interface CommonFlags {
  namespace?: string;
  wait: boolean;
  timeout: string;
}

/**
 * Adds `berth volume backup|backups|restore`: archives of an Application's named volumes
 * (spec.volumes[].backup, ADR 0024) taken now, listed, and restored into a new volume. Each is a
 * call to …/applications/NAME/volumebackups or …/volumerestores (src/api/volume-backups.ts).
 */
export function registerVolumeCommands(program: Command): void {
  const volume = program.command("volume").description("an Application's volume backups: take one now, list them, restore one into a new volume");
  volume
    .command("backup")
    .argument("<app/NAME>")
    .argument("<volume>", "a volume the Application declares in spec.volumes")
    .option("-n, --namespace <project>", "the Project")
    .option("--no-wait", "return at once; the backup goes on in the background")
    .option("--timeout <duration>", "how long to wait for the backup", "1h")
    .description("archive a volume now (to its spec's destination, else the local backup directory); exit 1 unless it succeeds")
    .action(async (target: string, name: string, opts: CommonFlags, cmd: Command) => {
      const { backupCommand } = await import("./commands.js");
      await backupCommand(clientFromCommand(cmd), { target, volume: name, ...opts }, processIo);
    });
  volume
    .command("backups")
    .argument("<app/NAME>")
    .argument("[volume]", "only this volume's backups")
    .option("-n, --namespace <project>", "the Project")
    .option("-o, --output <format>", "table or json", "table")
    .description("list an Application's volume backups, newest first")
    .action(async (target: string, name: string | undefined, opts: { namespace?: string; output: string }, cmd: Command) => {
      const { backupsCommand } = await import("./commands.js");
      await backupsCommand(clientFromCommand(cmd), { target, volume: name, ...opts }, processIo);
    });
  volume
    .command("restore")
    .argument("<app/NAME>")
    .argument("<backup-id>", "a backup's id or a unique prefix of it")
    .requiredOption("--to <volume>", "the NEW volume to restore into (a spec volume name; an existing one is refused)")
    .option("--overwrite", "write into the volume even if it exists (files not in the archive stay)", false)
    .option("-n, --namespace <project>", "the Project")
    .option("--no-wait", "return at once; the restore goes on in the background")
    .option("--timeout <duration>", "how long to wait for the restore", "1h")
    .description("restore a volume backup into a new volume; its SHA-256 is checked before anything is written")
    .action(async (target: string, id: string, opts: CommonFlags & { to: string; overwrite: boolean }, cmd: Command) => {
      const { restoreCommand } = await import("./commands.js");
      await restoreCommand(clientFromCommand(cmd), { target, backupId: id, ...opts }, processIo);
    });
}

import { Command } from "commander";
import { defaultDataDir } from "../core/config.js";
import { registerAuditCommand } from "./audit/index.js";
import { registerDbCommands } from "./db/index.js";
import { registerJobCommands } from "./job/index.js";
import { registerVolumeCommands } from "./volume/index.js";
import { registerKeyCommands } from "./keys/index.js";
import { registerObjectCommands } from "./objects/index.js";
import { registerPeopleCommands } from "./people/index.js";
import { registerRolloutCommands } from "./rollout/index.js";
import { registerServeCommand } from "./serve/index.js";
import { registerSyncCommands } from "./sync/index.js";
import { exitCodeFor } from "./shared/errors.js";
import { processIo } from "./shared/io.js";

/** The program and its global flags; each command group adds its own commands, in --help's order. */
function buildProgram(): Command {
  const program = new Command("berth")
    .description("Declarative, self-hosted application platform: manifests in git, converged onto Docker")
    .option("--kubeconfig <file>", "kubeconfig to use (default: $KUBECONFIG, then <data-dir>/kubeconfig.yaml)")
    .option("--data-dir <dir>", "Berth's data directory", defaultDataDir())
    .showHelpAfterError()
    // Usage errors become exit 2 in exitCodeFor instead of commander exiting with 1 itself.
    .exitOverride();
  registerServeCommand(program);
  registerObjectCommands(program);
  registerRolloutCommands(program);
  registerDbCommands(program);
  registerJobCommands(program);
  registerVolumeCommands(program);
  registerSyncCommands(program);
  registerPeopleCommands(program);
  registerAuditCommand(program);
  registerKeyCommands(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    process.exitCode = exitCodeFor(e, processIo.err);
  }
}

await main(process.argv);

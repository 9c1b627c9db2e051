import type { Command } from "commander";
import { parseDuration } from "../shared/common.js";
import { processIo } from "../shared/io.js";
import { clientFromCommand } from "../shared/kubeconfig.js";

// As in objects/: the commands' module is imported when one runs, so that --help loads none.

const READY_EXIT = "Exit status: 0 if the Sync is Ready=True, 1 otherwise (not ready, failed, suspended, not found).";

/** Adds `berth sync status|reconcile|suspend|resume NAME` (issue 15). */
export function registerSyncCommands(program: Command): void {
  const sync = program.command("sync").description("a Sync (GitOps): status, reconcile now, suspend, resume");
  sync
    .command("status")
    .argument("<name>")
    .option("-o, --output <format>", "yaml or json: the Sync's status as stored")
    .description("source, revisions, Ready (with the errors), Stalled, inventory; exit 1 unless Ready")
    .addHelpText("after", `\n${READY_EXIT}`)
    .action(async (name: string, opts: { output?: string }, cmd: Command) => {
      const { syncStatusCommand } = await import("./commands.js");
      process.exitCode = await syncStatusCommand(clientFromCommand(cmd), { name, output: opts.output }, processIo);
    });
  sync
    .command("reconcile")
    .argument("<name>")
    .option("--wait", "wait until the controller has handled the request, then print the status")
    .option("--timeout <duration>", "how long --wait waits", "2m")
    .description("fetch and apply now (sets berth.dev/reconcile-requested-at)")
    .addHelpText("after", "\nExit status: 0 (without --wait) once requested; with --wait, 0 if the Sync is Ready=True after the reconcile, 1 otherwise or on timeout.")
    .action(async (name: string, opts: { wait?: boolean; timeout: string }, cmd: Command) => {
      const timeoutMs = parseDuration(opts.timeout);
      const { syncReconcileCommand } = await import("./commands.js");
      process.exitCode = await syncReconcileCommand(clientFromCommand(cmd), { name, wait: opts.wait, timeoutMs }, processIo);
    });
  for (const [verb, suspend, what] of [
    ["suspend", true, "stop fetching and applying (spec.suspend: true); what was applied stays"],
    ["resume", false, "fetch and apply again (spec.suspend: false)"],
  ] as const) {
    sync
      .command(verb)
      .argument("<name>")
      .description(what)
      .action(async (name: string, _opts: unknown, cmd: Command) => {
        const { syncSuspendCommand } = await import("./commands.js");
        await syncSuspendCommand(clientFromCommand(cmd), { name, suspend }, processIo);
      });
  }
}

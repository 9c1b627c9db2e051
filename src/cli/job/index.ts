import type { Command } from "commander";
import { processIo } from "../shared/io.js";
import { clientFromCommand } from "../shared/kubeconfig.js";

// As in objects/: each command's module is imported when it runs, so that --help loads none.

interface NamespaceFlag {
  namespace?: string;
}

/**
 * Adds `berth job run|runs`: an Application's scheduled jobs (spec.jobs, ADR 0020) run now, and
 * their recorded runs. Each is a call to …/applications/NAME/jobruns (src/api/jobs.ts).
 */
export function registerJobCommands(program: Command): void {
  const job = program.command("job").description("an Application's jobs: run one now, list runs");
  job
    .command("run")
    .argument("<app/NAME>")
    .argument("<job>", "a job the Application declares in spec.jobs")
    .option("-n, --namespace <project>", "the Project")
    .option("--no-wait", "return at once; the run goes on in the background")
    .option("--timeout <duration>", "how long to wait for the run to end", "1h")
    .description("run a job now from the Application's current image; prints its output; exit 1 unless it succeeds")
    .action(async (target: string, name: string, opts: NamespaceFlag & { wait: boolean; timeout: string }, cmd: Command) => {
      const { runCommand } = await import("./runs.js");
      await runCommand(clientFromCommand(cmd), { target, job: name, ...opts }, processIo);
    });
  job
    .command("runs")
    .argument("<app/NAME>")
    .argument("[job]", "only this job's runs")
    .option("-n, --namespace <project>", "the Project")
    .option("--run <id>", "one run (an id or a unique prefix) with its output")
    .option("-o, --output <format>", "table or json", "table")
    .description("list an Application's job runs, newest first")
    .action(async (target: string, name: string | undefined, opts: NamespaceFlag & { run?: string; output: string }, cmd: Command) => {
      const { runsCommand } = await import("./runs.js");
      await runsCommand(clientFromCommand(cmd), { target, job: name, ...opts }, processIo);
    });
}

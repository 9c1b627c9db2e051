import type { Command } from "commander";
import { parseDuration } from "../shared/common.js";
import { processIo, processWaitIo, writeStdout } from "../shared/io.js";
import { clientFromCommand } from "../shared/kubeconfig.js";

// As in objects/: each command's module is imported when it runs, so that --help loads none.

interface NamespaceFlag {
  namespace?: string;
}

function registerRollout(program: Command): void {
  const rollout = program.command("rollout").description("revisions of an Application: history, undo, status, restart");
  rollout
    .command("history")
    .argument("<app/NAME>")
    .option("-n, --namespace <project>", "the Project")
    .description("list the revisions (deployments) of an Application")
    .action(async (target: string, opts: NamespaceFlag, cmd: Command) => {
      const { historyCommand } = await import("./revisions.js");
      await historyCommand(clientFromCommand(cmd), { target, namespace: opts.namespace }, processIo);
    });
  rollout
    .command("undo")
    .argument("<app/NAME>")
    .option("-n, --namespace <project>", "the Project")
    .option("--to-revision <n>", "the revision to return to (default: the previous good one)")
    .description("write an earlier revision's spec back as the desired state")
    .action(async (target: string, opts: NamespaceFlag & { toRevision?: string }, cmd: Command) => {
      const { undoCommand } = await import("./revisions.js");
      await undoCommand(clientFromCommand(cmd), { target, namespace: opts.namespace, toRevision: opts.toRevision ? Number(opts.toRevision) : undefined }, processIo);
    });
  rollout
    .command("status")
    .argument("<app/NAME>")
    .option("-n, --namespace <project>", "the Project")
    .option("--timeout <duration>", "give up after", "10m")
    .description("follow a rollout until it is done; exit 1 if it fails")
    .action(async (target: string, opts: NamespaceFlag & { timeout: string }, cmd: Command) => {
      const { statusCommand } = await import("./status.js");
      await statusCommand(clientFromCommand(cmd), { target, namespace: opts.namespace, timeoutMs: parseDuration(opts.timeout) }, processWaitIo());
    });
  rollout
    .command("restart")
    .argument("<app/NAME>")
    .option("-n, --namespace <project>", "the Project")
    .description("replace every replica with a fresh container, one by one")
    .action(async (target: string, opts: NamespaceFlag, cmd: Command) => {
      const { restartCommand } = await import("./annotate.js");
      await restartCommand(clientFromCommand(cmd), { target, namespace: opts.namespace }, processIo);
    });
}

function registerLogs(program: Command): void {
  program
    .command("logs")
    .argument("<app/NAME>")
    .option("-n, --namespace <project>", "the Project")
    .option("--replica <n>", "only this replica")
    .option("-f, --follow", "keep streaming new output")
    .option("--since <duration>", "only output newer than this, e.g. 10m")
    .option("--tail <n>", "only the last N lines of each replica")
    .option("--build", "the newest revision's build output (git sources) instead")
    .description("container logs of every replica, each line prefixed with its container")
    .action(async (target: string, opts: NamespaceFlag & { replica?: string; follow?: boolean; since?: string; tail?: string; build?: boolean }, cmd: Command) => {
      const { logsCommand } = await import("./logs.js");
      await logsCommand(clientFromCommand(cmd), { target, ...opts, since: opts.since ? parseDuration(opts.since) : undefined }, writeStdout);
    });
}

/** Adds `berth rollout history|undo|status|restart`, `logs`, `deployments` and `reconcile`, in that order (--help lists them so). */
export function registerRolloutCommands(program: Command): void {
  registerRollout(program);
  registerLogs(program);
  program
    .command("deployments")
    .argument("<app/NAME>")
    .option("-n, --namespace <project>", "the Project")
    .description("every rollout of an Application with its step-by-step log")
    .action(async (target: string, opts: NamespaceFlag, cmd: Command) => {
      const { deploymentsCommand } = await import("./revisions.js");
      await deploymentsCommand(clientFromCommand(cmd), { target, namespace: opts.namespace }, processIo);
    });
  program
    .command("reconcile")
    .argument("<kind>")
    .argument("<name>")
    .option("-n, --namespace <project>", "the Project")
    .description("ask the controller to reconcile an object now")
    .action(async (kind: string, name: string, opts: NamespaceFlag, cmd: Command) => {
      const { reconcileCommand } = await import("./annotate.js");
      await reconcileCommand(clientFromCommand(cmd), { kind, name, namespace: opts.namespace }, processIo);
    });
}

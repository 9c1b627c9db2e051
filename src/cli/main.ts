import { Command, CommanderError, Option } from "commander";
import { defaultDataDir } from "../core/config.js";
import { routerOptionsFromFlags, type CliRouterFlags } from "../router/settings.js";
import type { BerthClient } from "./client.js";
import { clientFromCommand, parseDuration } from "./common.js";
import { registerDbCommands } from "./db.js";
import { applyCommand, CommandError, deleteCommand, describeCommand, diffCommand, getCommand, type Io } from "./commands.js";
import { summary, waitFor, type Tracked, type WaitIo } from "./progress.js";
import { deploymentsCommand, historyCommand, logsCommand, reconcileCommand, restartCommand, statusCommand, undoCommand } from "./rollout.js";

const io: Io = {
  out: (t) => process.stdout.write(t + "\n"),
  err: (t) => process.stderr.write(t + "\n"),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  },
};

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function buildProgram(): Command {
  const program = new Command("berth")
    .description("Declarative, self-hosted application platform: manifests in git, converged onto Docker")
    .option("--kubeconfig <file>", "kubeconfig to use (default: $KUBECONFIG, then <data-dir>/kubeconfig.yaml)")
    .option("--data-dir <dir>", "Berth's data directory", defaultDataDir())
    .showHelpAfterError()
    .exitOverride();

  program
    .command("serve")
    .description("run the API server, the controllers and (without a database URL) an embedded Postgres")
    .option("--listen <host:port>", "HTTPS listen address", "127.0.0.1:7443")
    .addOption(new Option("--database-url <url>", "external Postgres (default: embedded)").env("DATABASE_URL"))
    .option("--no-controllers", "serve the API only; never run controllers (e.g. an API replica)")
    .addOption(new Option("--caddy-admin <url>", "admin API of the Caddy that serves Domains (e.g. http://127.0.0.1:2019)").env("BERTH_CADDY_ADMIN"))
    .option("--caddy-managed", "run and supervise a Caddy container (host network) instead; env BERTH_CADDY_MANAGED=true")
    .addOption(new Option("--caddy-image <image>", "image of the managed Caddy (scripts/build-caddy-image.sh)").env("BERTH_CADDY_IMAGE"))
    .addOption(new Option("--caddy-http-port <port>", "port Caddy serves HTTP on (default 80)").env("BERTH_CADDY_HTTP_PORT"))
    .addOption(new Option("--caddy-https-port <port>", "port Caddy serves HTTPS on (default 443)").env("BERTH_CADDY_HTTPS_PORT"))
    .addOption(new Option("--acme-directory <url>", "ACME directory for issuer acme (default Let's Encrypt)").env("BERTH_ACME_DIRECTORY"))
    .addOption(new Option("--acme-email <email>", "ACME account e-mail").env("BERTH_ACME_EMAIL"))
    .addOption(new Option("--acme-ca-root <file>", "PEM root(s) to trust for a private ACME CA, as Caddy sees the path").env("BERTH_ACME_CA_ROOT"))
    .action(async (opts: { listen: string; databaseUrl?: string; controllers: boolean } & CliRouterFlags, cmd: Command) => {
      const { dataDir } = cmd.optsWithGlobals() as { dataDir: string };
      // Loaded only for serve: the embedded Postgres package installs exit hooks that would
      // override the exit code of every other command.
      const { createLogger } = await import("../telemetry/logger.js");
      const logger = createLogger();
      const router = routerOptionsFromFlags(opts, process.env);
      // initdb and the server start in child processes while this one loads the server's modules.
      let embedded: Promise<import("../store/embedded.js").EmbeddedDatabase> | undefined;
      if (!opts.databaseUrl) {
        const { startEmbeddedPostgres } = await import("../store/embedded.js");
        embedded = startEmbeddedPostgres(dataDir, (m) => logger.debug("postgres", { message: m }));
        embedded.catch(() => undefined); // awaited (and reported) by startBerth
      }
      const { startBerth } = await import("../main.js");
      const berth = await startBerth({ dataDir, listen: opts.listen, databaseUrl: opts.databaseUrl, embedded, logger, controllers: opts.controllers && process.env.BERTH_CONTROLLERS !== "false", router });
      io.err(`berth is serving on ${berth.url}\n  KUBECONFIG=${berth.kubeconfigPath} kubectl get applications -A`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          resolve();
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      await berth.stop();
    });

  program
    .command("apply")
    .description("store every object of the manifests as desired state, all or nothing")
    .requiredOption("-f, --filename <path>", "file, directory or - for stdin (repeatable)", collect)
    .option("--dry-run", "validate on the server and show what would change, store nothing")
    .option("--wait", "follow every object until it is ready or failed; exit 1 if any failed")
    .option("--timeout <duration>", "how long --wait waits", "5m")
    .option("--prune", "also delete what an earlier `berth apply` stored in these Projects and the manifests no longer contain")
    .action(async (opts: { filename: string[]; dryRun?: boolean; wait?: boolean; timeout: string; prune?: boolean }, cmd: Command) => {
      const c = clientFromCommand(cmd);
      const { applied, pruned } = await applyCommand(c, opts.filename, { dryRun: opts.dryRun, prune: opts.prune }, io);
      if (!opts.wait || opts.dryRun) return;
      const deadline = Date.now() + parseDuration(opts.timeout);
      await waitAndSummarize(c, applied, false, deadline - Date.now());
      if (pruned.length) await waitAndSummarize(c, pruned, true, Math.max(1000, deadline - Date.now()));
    });

  program
    .command("diff")
    .description("show what apply would change; exit 0 if nothing, 1 if something, >1 on error")
    .requiredOption("-f, --filename <path>", "file, directory or - (repeatable)", collect)
    .option("--prune", "also show what apply --prune would delete")
    .action(async (opts: { filename: string[]; prune?: boolean }, cmd: Command) => {
      process.exitCode = await diffCommand(clientFromCommand(cmd), opts.filename, io, { prune: opts.prune });
    });

  program
    .command("get")
    .description("list objects of a kind, or show one")
    .argument("<kind>", "project, application (app), database (db) or domain (dom)")
    .argument("[name]")
    .option("-n, --namespace <project>", "the Project")
    .option("-A, --all-namespaces", "every Project")
    .option("-l, --selector <selector>", "label selector")
    .option("-o, --output <format>", "wide, yaml or json")
    .action(async (kind: string, name: string | undefined, opts: { namespace?: string; allNamespaces?: boolean; output?: string; selector?: string }, cmd: Command) => {
      await getCommand(clientFromCommand(cmd), kind, name, opts, io);
    });

  program
    .command("describe")
    .description("show an object with its conditions and events")
    .argument("<kind>")
    .argument("<name>")
    .option("-n, --namespace <project>", "the Project")
    .action(async (kind: string, name: string, opts: { namespace?: string }, cmd: Command) => {
      await describeCommand(clientFromCommand(cmd), kind, name, opts.namespace, io);
    });

  program
    .command("delete")
    .description("delete objects by kind and name, or every object of the manifests")
    .argument("[kind]")
    .argument("[name]")
    .option("-n, --namespace <project>", "the Project")
    .option("-f, --filename <path>", "file, directory or - (repeatable)", collect)
    .option("--wait", "wait until the objects are gone (finalizers done)")
    .option("--timeout <duration>", "how long --wait waits", "5m")
    .action(async (kind: string | undefined, name: string | undefined, opts: { namespace?: string; filename?: string[]; wait?: boolean; timeout: string }, cmd: Command) => {
      await deleteCommand(clientFromCommand(cmd), { kind, name, files: opts.filename, namespace: opts.namespace, wait: opts.wait, timeoutMs: parseDuration(opts.timeout) }, io);
    });

  const rollout = program.command("rollout").description("revisions of an Application: history, undo, status, restart");
  rollout
    .command("history")
    .argument("<app/NAME>")
    .option("-n, --namespace <project>", "the Project")
    .description("list the revisions (deployments) of an Application")
    .action(async (target: string, opts: { namespace?: string }, cmd: Command) => historyCommand(clientFromCommand(cmd), target, opts.namespace, io));
  rollout
    .command("undo")
    .argument("<app/NAME>")
    .option("-n, --namespace <project>", "the Project")
    .option("--to-revision <n>", "the revision to return to (default: the previous good one)")
    .description("write an earlier revision's spec back as the desired state")
    .action(async (target: string, opts: { namespace?: string; toRevision?: string }, cmd: Command) => undoCommand(clientFromCommand(cmd), target, opts.namespace, opts.toRevision ? Number(opts.toRevision) : undefined, io));
  rollout
    .command("status")
    .argument("<app/NAME>")
    .option("-n, --namespace <project>", "the Project")
    .option("--timeout <duration>", "give up after", "10m")
    .description("follow a rollout until it is done; exit 1 if it fails")
    .action(async (target: string, opts: { namespace?: string; timeout: string }, cmd: Command) => statusCommand(clientFromCommand(cmd), target, opts.namespace, parseDuration(opts.timeout), waitIo()));
  rollout
    .command("restart")
    .argument("<app/NAME>")
    .option("-n, --namespace <project>", "the Project")
    .description("replace every replica with a fresh container, one by one")
    .action(async (target: string, opts: { namespace?: string }, cmd: Command) => restartCommand(clientFromCommand(cmd), target, opts.namespace, io));

  program
    .command("logs")
    .argument("<app/NAME>")
    .option("-n, --namespace <project>", "the Project")
    .option("--replica <n>", "only this replica")
    .option("-f, --follow", "keep streaming new output")
    .option("--since <duration>", "only output newer than this, e.g. 10m")
    .option("--tail <n>", "only the last N lines of each replica")
    .description("container logs of every replica, each line prefixed with its container")
    .action(async (target: string, opts: { namespace?: string; replica?: string; follow?: boolean; since?: string; tail?: string }, cmd: Command) =>
      logsCommand(clientFromCommand(cmd), target, opts.namespace, { replica: opts.replica, follow: opts.follow, since: opts.since ? parseDuration(opts.since) : undefined, tail: opts.tail }, (t) => process.stdout.write(t)),
    );

  program
    .command("deployments")
    .argument("<app/NAME>")
    .option("-n, --namespace <project>", "the Project")
    .description("every rollout of an Application with its step-by-step log")
    .action(async (target: string, opts: { namespace?: string }, cmd: Command) => deploymentsCommand(clientFromCommand(cmd), target, opts.namespace, io));

  program
    .command("reconcile")
    .argument("<kind>")
    .argument("<name>")
    .option("-n, --namespace <project>", "the Project")
    .description("ask the controller to reconcile an object now")
    .action(async (kind: string, name: string, opts: { namespace?: string }, cmd: Command) => reconcileCommand(clientFromCommand(cmd), kind, name, opts.namespace, io));

  registerDbCommands(program, io);
  return program;
}

function waitIo(): WaitIo {
  return { isTTY: !!process.stdout.isTTY && process.env.CI !== "true", write: (t) => process.stdout.write(t) };
}

/** `--wait`: live progress, then a summary a person can act on; exit 1 if anything failed. */
async function waitAndSummarize(c: BerthClient, tracked: Tracked[], deleting: boolean, timeoutMs: number): Promise<void> {
  const verdicts = await waitFor(c, tracked, { deleting, timeoutMs, io: waitIo() });
  const s = summary(verdicts);
  io.err(s.text);
  if (s.failed) throw new CommandError(`${s.failed} object(s) ${deleting ? "were not deleted" : "did not become ready"}`);
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
    } else if (e instanceof CommandError) {
      io.err(e.message);
      process.exitCode = e.exitCode;
    } else {
      io.err(`error: ${(e as Error).message}`);
      process.exitCode = 1;
    }
  }
}

await main(process.argv);

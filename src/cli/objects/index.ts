import type { Command } from "commander";
import { collect, parseDuration } from "../shared/common.js";
import { processIo } from "../shared/io.js";
import { clientFromCommand } from "../shared/kubeconfig.js";
import { PEOPLE_KINDS } from "../people/index.js";
import type { ApplyFlags } from "./apply.js";

// Each command's module is imported when it runs: reading manifests loads yaml, ajv and the
// CRDs, which `berth --help` and the commands that read no manifests should not pay for.

function registerApplyAndDiff(program: Command): void {
  program
    .command("apply")
    .description("store every object of the manifests as desired state, all or nothing")
    .requiredOption("-f, --filename <path>", "file, directory or - for stdin (repeatable)", collect)
    .option("--dry-run", "validate on the server and show what would change, store nothing")
    .option("--wait", "follow every object until it is ready or failed; exit 1 if any failed")
    .option("--timeout <duration>", "how long --wait waits", "5m")
    .option("--prune", "also delete what an earlier `berth apply` stored in these Projects and the manifests no longer contain")
    .action(async (opts: ApplyFlags, cmd: Command) => {
      const { applyAndWait } = await import("./apply.js");
      await applyAndWait(clientFromCommand(cmd), opts, processIo);
    });

  program
    .command("diff")
    .description("show what apply -f, or the next revision of a Sync, would change; exit 0 if nothing, 1 if something, >1 on error")
    .option("-f, --filename <path>", "file, directory or - (repeatable)", collect)
    .option("--sync <name>", "what the Sync's next revision would change (fetched and dry-run on the server)")
    .option("--prune", "also show what apply --prune would delete (with -f)")
    .action(async (opts: { filename?: string[]; sync?: string; prune?: boolean }, cmd: Command) => {
      const { diffFromFlags } = await import("./diff.js");
      process.exitCode = await diffFromFlags(clientFromCommand(cmd), opts, processIo);
    });
}

function registerReads(program: Command): void {
  program
    .command("get")
    .description("list objects of a kind, or show one")
    .argument("<kind>", "project, application (app), database (db), domain (dom), users or teams")
    .argument("[name]")
    .option("-n, --namespace <project>", "the Project")
    .option("-A, --all-namespaces", "every Project")
    .option("-l, --selector <selector>", "label selector")
    .option("-o, --output <format>", "wide, yaml or json")
    .action(async (kind: string, name: string | undefined, opts: { namespace?: string; allNamespaces?: boolean; output?: string; selector?: string }, cmd: Command) => {
      const people = PEOPLE_KINDS[kind.toLowerCase()];
      if (people) {
        const { getPeopleCommand } = await import("../people/commands.js");
        await getPeopleCommand(clientFromCommand(cmd), { what: people, name, output: opts.output }, processIo);
        return;
      }
      const { getCommand } = await import("./get.js");
      await getCommand(clientFromCommand(cmd), { kind, name, ...opts }, processIo);
    });

  program
    .command("describe")
    .description("show an object with its conditions and events")
    .argument("<kind>")
    .argument("<name>")
    .option("-n, --namespace <project>", "the Project")
    .action(async (kind: string, name: string, opts: { namespace?: string }, cmd: Command) => {
      const { describeCommand } = await import("./describe.js");
      await describeCommand(clientFromCommand(cmd), { kind, name, namespace: opts.namespace }, processIo);
    });
}

function registerDelete(program: Command): void {
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
      const { deleteCommand } = await import("./delete.js");
      await deleteCommand(clientFromCommand(cmd), { kind, name, files: opts.filename, namespace: opts.namespace, wait: opts.wait, timeoutMs: parseDuration(opts.timeout) }, processIo);
    });
}

function registerExport(program: Command): void {
  program
    .command("export")
    .description("write live desired state as clean manifests that `berth apply -f` takes back (secrets sealed)")
    .option("-n, --namespace <project>", "one Project: its document and its objects")
    .option("-A, --all-namespaces", "every Project, and the Syncs")
    .option("-o, --output <dir>", "write one file per Project (and _syncs.yaml) into this directory instead of stdout")
    .option("--redact", "write <redacted> for every secret value instead of its sealed string")
    .action(async (opts: { namespace?: string; allNamespaces?: boolean; output?: string; redact?: boolean }, cmd: Command) => {
      const { exportCommand } = await import("./export.js");
      await exportCommand(clientFromCommand(cmd), opts, processIo);
    });
}

function registerSeal(program: Command): void {
  program
    .command("seal")
    .description("turn a secret value (read from stdin) into the sealed string for one object's field, for manifests in git")
    .argument("<kind/name>", "application/NAME or sync/NAME")
    .option("-n, --namespace <project>", "the Project (for an Application)")
    .option("--key <key>", "an Application's spec.secretEnv key")
    .option("--field <path>", "the secret field: spec.secretEnv.KEY, spec.source.git.auth.token, spec.webhook.secret")
    .action(async (target: string, opts: { namespace?: string; key?: string; field?: string }, cmd: Command) => {
      const { sealCommand } = await import("./seal.js");
      await sealCommand(clientFromCommand(cmd), { target, ...opts }, processIo);
    });
}

/** Adds apply, diff, get, describe, delete, export and seal, in that order (--help lists them so). */
export function registerObjectCommands(program: Command): void {
  registerApplyAndDiff(program);
  registerReads(program);
  registerDelete(program);
  registerExport(program);
  registerSeal(program);
}

import type { Command } from "commander";
import { processIo } from "../shared/io.js";
import { clientFromCommand } from "../shared/kubeconfig.js";
import type { RotateKeyFlags } from "./rotate-key.js";

/**
 * Adds `berth rotate-key` (issue 17, ADR 0016): re-encrypts every secret the store holds under
 * a new installation key while the server keeps serving, then retires the old key. Admins only.
 */
export function registerKeyCommands(program: Command): void {
  program
    .command("rotate-key")
    .description("re-encrypt every stored secret under a new installation key, then retire the old one (admins only)")
    .option("--batch-size <n>", "rows re-encrypted per transaction (default 100)")
    .option("-o, --output <format>", "text or json (the final state)", "text")
    .action(async (opts: RotateKeyFlags, cmd: Command) => {
      const { rotateKeyCommand } = await import("./rotate-key.js");
      await rotateKeyCommand(clientFromCommand(cmd), opts, processIo);
    });
}

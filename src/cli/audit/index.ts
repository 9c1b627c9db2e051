import type { Command } from "commander";
import { processIo } from "../shared/io.js";
import { clientFromCommand } from "../shared/kubeconfig.js";
import type { AuditFlags } from "./audit.js";

/**
 * Adds `berth audit`: the audit trail per person (issue 17), newest first, from
 * GET /berth/v1/audit (src/api/audit.ts). Admins only; the server answers 403 to anyone else.
 */
export function registerAuditCommand(program: Command): void {
  program
    .command("audit")
    .description("who changed what: the audit log, newest first (admins only)")
    .option("--user <username>", "rows of this user (or system:berth-controller)")
    .option("--project <project>", "rows about this Project and the objects in it")
    .option("--action <action>", "rows of this action (create, update, patch, delete, update-status, …)")
    .option("--since <time>", "rows since a duration ago (30m, 1h, 7d) or an RFC 3339 time")
    .option("--limit <n>", "at most this many rows (default: all, fetched page by page)")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (opts: AuditFlags, cmd: Command) => {
      const { auditCommand } = await import("./audit.js");
      await auditCommand(clientFromCommand(cmd), opts, processIo);
    });
}

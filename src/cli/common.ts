import type { Command } from "commander";
import { ApiCallError, BerthClient, resolveKubeconfig } from "./client.js";
import { CommandError } from "./commands.js";

/** The client for a command, from its global --kubeconfig / --data-dir. */
export function clientFromCommand(cmd: Command): BerthClient {
  const g = cmd.optsWithGlobals() as { kubeconfig?: string; dataDir?: string };
  try {
    return new BerthClient(resolveKubeconfig(g));
  } catch (e) {
    throw new CommandError(`error: ${(e as Error).message}`);
  }
}

export function needNamespace(ns: string | undefined): string {
  if (!ns) throw new CommandError("error: pass -n PROJECT", 2);
  return ns;
}

/** For `.catch()`: a server's Status becomes kubectl's "Error from server (Reason): message". */
export async function serverError(e: unknown): Promise<never> {
  if (e instanceof ApiCallError) throw new CommandError(`Error from server (${e.status.reason ?? e.code}): ${e.message}`);
  throw e;
}

/** `30s`, `5m`, `250ms`, `1h`, or bare seconds; milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(text);
  if (!m) throw new CommandError(`invalid duration "${text}" (e.g. 30s, 5m)`, 2);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"]!;
  return Number(m[1]) * mult;
}

import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { defaultDataDir } from "../../core/config.js";
import { BerthClient } from "./client.js";
import { CommandError } from "./errors.js";

export interface ClientOptions {
  kubeconfig?: string;
  dataDir?: string;
}

function candidates(opts: ClientOptions, env: NodeJS.ProcessEnv): (string | undefined)[] {
  return [opts.kubeconfig, env.KUBECONFIG?.split(path.delimiter)[0], path.join(opts.dataDir ?? defaultDataDir(env), "kubeconfig.yaml")];
}

/**
 * The kubeconfig `berth login` writes: the one the CLI would read (an existing file, in
 * resolveKubeconfig's order), else the first one named (--kubeconfig, KUBECONFIG, the data dir's).
 */
export function kubeconfigToWrite(opts: ClientOptions, env: NodeJS.ProcessEnv = process.env): string {
  const all = candidates(opts, env);
  return all.find((c): c is string => !!c && existsSync(c)) ?? all.find((c): c is string => !!c)!;
}

/** Where the CLI finds the server: --kubeconfig, then KUBECONFIG, then <data-dir>/kubeconfig.yaml. */
export function resolveKubeconfig(opts: ClientOptions, env: NodeJS.ProcessEnv = process.env): string {
  const tried = candidates(opts, env);
  const found = tried.find((c): c is string => !!c && existsSync(c));
  if (!found) throw new Error(`no kubeconfig found (tried ${tried.filter(Boolean).join(", ")}); is "berth serve" running? Pass --kubeconfig or set KUBECONFIG`);
  return found;
}

/** The client for a command, from its global --kubeconfig / --data-dir. */
export function clientFromCommand(cmd: Command): BerthClient {
  const g = cmd.optsWithGlobals() as ClientOptions;
  try {
    return new BerthClient(resolveKubeconfig(g));
  } catch (e) {
    throw new CommandError(`error: ${(e as Error).message}`);
  }
}

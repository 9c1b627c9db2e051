import { routerOptionsFromFlags, type CliRouterFlags } from "../../router/settings.js";
// Type-only: erased, so the module itself is still loaded by the import() below, and only by serve.
import type { RuntimeKind } from "../../core/specs.js";
import type { EmbeddedDatabase } from "../../store/embedded.js";
import { processIo } from "../shared/io.js";

/** The flags of `berth serve`, as commander parses them. */
export type ServeFlags = { listen: string; databaseUrl?: string; controllers: boolean; runtime?: string } & CliRouterFlags;

/**
 * initdb and the server start in child processes while this one loads the server's modules.
 * The start is returned wrapped: an async function returning the bare promise would wait for it.
 */
async function startEmbedded(dataDir: string, log: (message: string) => void): Promise<{ start: Promise<EmbeddedDatabase> }> {
  const { startEmbeddedPostgres } = await import("../../store/embedded.js");
  const start = startEmbeddedPostgres(dataDir, log);
  start.catch(() => undefined); // awaited (and reported) by startBerth
  return { start };
}

/** Resolves on the first SIGINT or SIGTERM, so that the caller can stop Berth cleanly. */
function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/**
 * Runs the API server and controllers until a signal. The server's modules, the logger and
 * embedded Postgres are imported here, not at the top: the embedded Postgres package installs
 * exit hooks that would override the exit code of every other command, and loading the server
 * would slow down every other command (and `--help`).
 */
export async function runServe(opts: ServeFlags, dataDir: string): Promise<void> {
  const { createLogger } = await import("../../telemetry/logger.js");
  const logger = createLogger();
  const router = routerOptionsFromFlags(opts, process.env);
  const embedded = opts.databaseUrl ? undefined : (await startEmbedded(dataDir, (m) => logger.debug("postgres", { message: m }))).start;
  const { startBerth } = await import("../../main.js");
  const controllers = opts.controllers && process.env.BERTH_CONTROLLERS !== "false";
  const berth = await startBerth({ dataDir, listen: opts.listen, databaseUrl: opts.databaseUrl, embedded, logger, controllers, router, runtime: opts.runtime as RuntimeKind | undefined });
  processIo.err(`berth is serving on ${berth.url}\n  KUBECONFIG=${berth.kubeconfigPath} kubectl get applications -A`);
  await untilSignal();
  await berth.stop();
}

import { type Command, Option } from "commander";
import type { ServeFlags } from "./run.js";

/** Adds `berth serve`; run.ts, and the server it loads, are imported only when it runs. */
export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("run the API server, the controllers and (without a database URL) an embedded Postgres")
    .option("--listen <host:port>", "HTTPS listen address", "127.0.0.1:7443")
    .addOption(new Option("--database-url <url>", "external Postgres (default: embedded)").env("DATABASE_URL"))
    .addOption(new Option("--runtime <runtime>", "where Projects without spec.runtime run Applications: docker (one engine) or swarm (services on the engine's swarm)").choices(["docker", "swarm"]).env("BERTH_RUNTIME"))
    .option("--no-controllers", "serve the API only; never run controllers (e.g. an API replica)")
    .addOption(new Option("--caddy-admin <url>", "admin API of the Caddy that serves Domains (e.g. http://127.0.0.1:2019)").env("BERTH_CADDY_ADMIN"))
    .option("--caddy-managed", "run and supervise a Caddy container (host network) instead; env BERTH_CADDY_MANAGED=true")
    .addOption(new Option("--caddy-image <image>", "image of the managed Caddy (scripts/build-caddy-image.sh)").env("BERTH_CADDY_IMAGE"))
    .addOption(new Option("--caddy-http-port <port>", "port Caddy serves HTTP on (default 80)").env("BERTH_CADDY_HTTP_PORT"))
    .addOption(new Option("--caddy-https-port <port>", "port Caddy serves HTTPS on (default 443)").env("BERTH_CADDY_HTTPS_PORT"))
    .addOption(new Option("--acme-directory <url>", "ACME directory for issuer acme (default Let's Encrypt)").env("BERTH_ACME_DIRECTORY"))
    .addOption(new Option("--acme-email <email>", "ACME account e-mail").env("BERTH_ACME_EMAIL"))
    .addOption(new Option("--acme-ca-root <file>", "PEM root(s) to trust for a private ACME CA, as Caddy sees the path").env("BERTH_ACME_CA_ROOT"))
    .action(async (opts: ServeFlags, cmd: Command) => {
      const { dataDir } = cmd.optsWithGlobals() as { dataDir: string };
      const { runServe } = await import("./run.js");
      await runServe(opts, dataDir);
    });
}

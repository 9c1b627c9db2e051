import type { Logger } from "winston";

/**
 * Logs a store outage once, not once per request: every request fails while Postgres is away
 * (clients retry each second), and one line per outage is what an operator can read. The
 * outage ends when a request that needed the store succeeds again.
 */
export class StoreOutageLog {
  private since: number | undefined;

  constructor(private readonly logger: Logger) {}

  /** A request failed because the store is unreachable; warns only for the first of an outage. */
  failed(e: unknown, request: { method?: string; path: string }): void {
    if (this.since !== undefined) return;
    this.since = Date.now();
    this.logger.warn("store unavailable: answering 503 with Retry-After until it returns", { method: request.method, path: request.path, cause: describeCause(e) });
  }

  /** A request that needed the store succeeded: the outage (if any) is over. */
  succeeded(): void {
    if (this.since === undefined) return;
    this.logger.info("store available again", { unavailableMs: Date.now() - this.since });
    this.since = undefined;
  }
}

/** The operator's view of why: the error code and first line, never a stack. */
function describeCause(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown; driverError?: { code?: unknown; message?: unknown } };
  const code = err.driverError?.code ?? err.code;
  const message = String(err.driverError?.message ?? err.message ?? e).split("\n")[0];
  return typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
}

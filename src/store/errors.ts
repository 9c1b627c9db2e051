const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);
// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now; class 08 is "connection exception".
const PG_UNAVAILABLE = /^(57P0[123]|08\w{3})$/;
const MESSAGES = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down|in recovery mode)|Connection ended unexpectedly/i;

/**
 * Raised by the store itself when it already knows Postgres is unreachable (the change feed's
 * LISTEN connection is down), so a caller fails fast instead of starting work that needs it.
 */
export class StoreUnavailableError extends Error {
  constructor(message = "the store (Postgres) is unavailable") {
    super(message);
    this.name = "StoreUnavailableError";
  }
}

type ErrorLike = { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown; failure?: unknown };

function meansUnavailable(cur: ErrorLike): boolean {
  if (cur instanceof StoreUnavailableError) return true;
  if (typeof cur.code === "string" && (NETWORK_CODES.has(cur.code) || PG_UNAVAILABLE.test(cur.code))) return true;
  return typeof cur.message === "string" && MESSAGES.test(cur.message);
}

/**
 * Whether an error means Postgres cannot be reached (down, restarting, network gone) rather
 * than that a query was wrong: the API answers 503 with Retry-After for those, and readiness
 * fails, instead of a 500 carrying a socket error. Follows TypeORM's QueryFailedError.driverError,
 * Error.cause and a BatchError's failure, since the socket error is often wrapped.
 */
export function isStoreUnavailable(e: unknown): boolean {
  let cur = e as ErrorLike | undefined;
  for (let depth = 0; cur && typeof cur === "object" && depth < 4; depth++) {
    if (meansUnavailable(cur)) return true;
    cur = (cur.driverError ?? cur.cause ?? cur.failure) as ErrorLike | undefined;
  }
  return false;
}

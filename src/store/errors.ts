const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);
// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now; class 08 is "connection exception".
const PG_UNAVAILABLE = /^(57P0[123]|08\w{3})$/;
const MESSAGES = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down|in recovery mode)|Connection ended unexpectedly/i;

/**
 * Whether an error means Postgres cannot be reached (down, restarting, network gone) rather
 * than that a query was wrong: the API answers 503 with Retry-After for those, and readiness
 * fails, instead of a 500 carrying a socket error.
 */
export function isStoreUnavailable(e: unknown): boolean {
  for (let cur = e as { code?: string; message?: string; driverError?: unknown; cause?: unknown } | undefined, depth = 0; cur && depth < 4; depth++) {
    if (cur.code && (NETWORK_CODES.has(cur.code) || PG_UNAVAILABLE.test(cur.code))) return true;
    if (cur.message && MESSAGES.test(cur.message)) return true;
    cur = (cur.driverError ?? cur.cause) as typeof cur;
  }
  return false;
}

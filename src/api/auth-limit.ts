import type { Logger } from "winston";
import { ApiError } from "../core/errors.js";

/** Failed authentications an address may make per window before it is answered 429. */
const BURST = 20;
const WINDOW_MS = 10_000;

/**
 * Counts failed authentications per client address in fixed windows. Past the burst, a failed
 * attempt is answered 429 with Retry-After (the end of the window) instead of 401, and the
 * address is logged once per window, never the token. A valid token is always served, so a
 * guesser on the same address cannot lock out the admin's kubectl; the token is 256 random
 * bits, so the limit is there to make guessing loud and cheap to answer, not to make it hard.
 */
export class AuthFailureLimit {
  private readonly windows = new Map<string, { start: number; failures: number; logged: boolean }>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** A failed authentication from `address`: the error to answer it with. */
  failed(address: string): ApiError {
    const w = this.window(address);
    w.failures++;
    if (w.failures <= BURST) return new ApiError(401, "Unauthorized", "Unauthorized");
    if (!w.logged) {
      w.logged = true;
      this.logger.warn("failed authentications from one address over the limit; answering 429", { address, failures: w.failures, windowSeconds: WINDOW_MS / 1000 });
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((w.start + WINDOW_MS - this.now()) / 1000));
    return new ApiError(429, "TooManyRequests", "too many failed authentications from this address; try again later", { retryAfterSeconds });
  }

  private window(address: string): { start: number; failures: number; logged: boolean } {
    const t = this.now();
    const w = this.windows.get(address);
    if (w && t - w.start < WINDOW_MS) return w;
    // Old windows of other addresses go too, so the map stays as small as the current window.
    for (const [a, x] of this.windows) if (t - x.start >= WINDOW_MS) this.windows.delete(a);
    const fresh = { start: t, failures: 0, logged: false };
    this.windows.set(address, fresh);
    return fresh;
  }
}

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
    private readonly limits: { burst: number; windowMs: number } = { burst: BURST, windowMs: WINDOW_MS },
  ) {}

  /** A failed authentication from `address`: the error to answer it with. */
  failed(address: string): ApiError {
    const w = this.window(address);
    w.failures++;
    if (w.failures <= this.limits.burst) return new ApiError(401, "Unauthorized", "Unauthorized");
    if (!w.logged) {
      w.logged = true;
      this.logger.warn("failed authentications from one address (or for one user) over the limit; answering 429", { address, failures: w.failures, windowSeconds: this.limits.windowMs / 1000 });
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((w.start + this.limits.windowMs - this.now()) / 1000));
    return new ApiError(429, "TooManyRequests", "too many failed authentications from this address; try again later", { retryAfterSeconds });
  }

  private window(address: string): { start: number; failures: number; logged: boolean } {
    const t = this.now();
    const w = this.windows.get(address);
    if (w && t - w.start < this.limits.windowMs) return w;
    // Old windows of other addresses go too, so the map stays as small as the current window.
    for (const [a, x] of this.windows) if (t - x.start >= this.limits.windowMs) this.windows.delete(a);
    const fresh = { start: t, failures: 0, logged: false };
    this.windows.set(address, fresh);
    return fresh;
  }

  /** Whether `key` is over the limit now (checked before a password is even compared). */
  blocked(key: string): ApiError | undefined {
    const w = this.windows.get(key);
    if (!w || this.now() - w.start >= this.limits.windowMs || w.failures < this.limits.burst) return undefined;
    const retryAfterSeconds = Math.max(1, Math.ceil((w.start + this.limits.windowMs - this.now()) / 1000));
    return new ApiError(429, "TooManyRequests", "too many failed logins; try again later", { retryAfterSeconds });
  }
}

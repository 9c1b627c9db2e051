import type { ServerResponse } from "node:http";
import { ApiError } from "../core/errors.js";

/**
 * Open watches per client address. Each holds a feed subscription and two timers, so one
 * client must not be able to open them without end; past the limit a new watch is answered
 * 429 with Retry-After, and the ones already open go on. Informers open one watch per kind and
 * namespace they follow, far below it.
 */
export class WatchLimit {
  private readonly open = new Map<string, number>();

  constructor(readonly perAddress = 256) {}

  /** Counts a watch of `address` until `res` closes, or refuses it. */
  admit(address: string, res: ServerResponse): void {
    const n = this.open.get(address) ?? 0;
    if (n >= this.perAddress) throw new ApiError(429, "TooManyRequests", `too many open watches from this address (${n}, at most ${this.perAddress}); close some or try again later`, { retryAfterSeconds: 1 });
    this.open.set(address, n + 1);
    res.once("close", () => {
      const left = (this.open.get(address) ?? 1) - 1;
      if (left > 0) this.open.set(address, left);
      else this.open.delete(address);
    });
  }
}

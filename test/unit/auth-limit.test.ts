import { expect } from "chai";
import winston from "winston";
import { AuthFailureLimit } from "../../src/api/auth-limit.js";

describe("failed authentication limit", () => {
  it("per address and per 10 s window: 401 for the burst, then 429 until the window ends, then 401 again", () => {
    let now = 1_000_000;
    const limit = new AuthFailureLimit(winston.createLogger({ silent: true }), () => now);
    const codes = (address: string, n: number): number[] => Array.from({ length: n }, () => limit.failed(address).code);
    expect(codes("10.0.0.1", 21)).to.deep.equal([...Array(20).fill(401), 429]);
    expect(codes("10.0.0.2", 1), "another address has its own count").to.deep.equal([401]);
    now += 4000;
    expect(limit.failed("10.0.0.1").details?.retryAfterSeconds, "Retry-After: what is left of the window").to.equal(6);
    now += 6000;
    expect(codes("10.0.0.1", 1), "a new window").to.deep.equal([401]);
  });
});

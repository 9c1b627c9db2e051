import { expect } from "chai";
import type { IncomingMessage } from "node:http";
import { ApiError } from "../../src/core/errors.js";
import { cookies, CONTENT_SECURITY_POLICY, UiEndpoints } from "../../src/api/ui.js";

const req = (method: string, headers: Record<string, string>): IncomingMessage => ({ method, headers }) as unknown as IncomingMessage;

describe("dashboard session cookie and CSRF (src/api/ui.ts)", () => {
  const ui = new UiEndpoints({ identify: async () => undefined, csrfKey: Buffer.from("k".repeat(32)), unauthorized: () => new ApiError(401, "Unauthorized", "Unauthorized") });
  const other = new UiEndpoints({ identify: async () => undefined, csrfKey: Buffer.from("o".repeat(32)), unauthorized: () => new ApiError(401, "Unauthorized", "Unauthorized") });

  it("parses cookies, the first of a name winning", () => {
    const c = cookies(req("GET", { cookie: "a=1; berth_session=tok%3D; a=2; junk" }));
    expect(c.get("a")).to.equal("1");
    expect(c.get("berth_session")).to.equal("tok=");
  });

  it("a GET with the cookie needs no CSRF header; anything else needs the server's HMAC of that token", () => {
    expect(ui.sessionToken(req("GET", { cookie: "berth_session=t1" }))).to.equal("t1");
    expect(ui.sessionToken(req("GET", {}))).to.equal(undefined);
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      expect(() => ui.sessionToken(req(method, { cookie: "berth_session=t1" })), method).to.throw(/CSRF/);
      expect(() => ui.sessionToken(req(method, { cookie: "berth_session=t1", "x-berth-csrf": ui.csrfOf("t2") })), "another token's").to.throw(/CSRF/);
      expect(() => ui.sessionToken(req(method, { cookie: "berth_session=t1", "x-berth-csrf": other.csrfOf("t1") })), "another key's").to.throw(/CSRF/);
      expect(ui.sessionToken(req(method, { cookie: "berth_session=t1", "x-berth-csrf": ui.csrfOf("t1") }))).to.equal("t1");
    }
  });

  it("the policy allows this origin only, and no inline code", () => {
    expect(CONTENT_SECURITY_POLICY).to.match(/^default-src 'none'/);
    expect(CONTENT_SECURITY_POLICY).to.not.match(/unsafe|https?:|\*/);
  });
});

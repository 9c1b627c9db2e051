/**
 * Webhook signatures (POST /hooks/sync/NAME): GitHub's and Gitea's HMAC-SHA256 of the raw body,
 * GitLab's token; valid, forged, missing and malformed for each, with no exception on any input.
 */
import { expect } from "chai";
import { createHmac } from "node:crypto";
import { verifyWebhookSignature, type Headers } from "../../src/api/webhook-signature.js";

const SECRET = "s3cret-webhook-value";
const BODY = Buffer.from(JSON.stringify({ ref: "refs/heads/main", after: "0123456789abcdef0123456789abcdef01234567" }));
const hmac = (body: Buffer, secret = SECRET): string => createHmac("sha256", secret).update(body).digest("hex");

describe("webhook signatures", () => {
  describe("GitHub: X-Hub-Signature-256: sha256=<hex HMAC>", () => {
    it("accepts the HMAC of the raw body, in either hex case", () => {
      expect(verifyWebhookSignature({ "x-hub-signature-256": `sha256=${hmac(BODY)}` }, BODY, SECRET)).to.equal("github");
      expect(verifyWebhookSignature({ "x-hub-signature-256": `sha256=${hmac(BODY).toUpperCase()}` }, BODY, SECRET)).to.equal("github");
    });

    it("refuses a forged signature: another secret, another body, one digit changed", () => {
      const good = hmac(BODY);
      const flipped = (good[0] === "0" ? "1" : "0") + good.slice(1);
      for (const sig of [hmac(BODY, "guess"), hmac(Buffer.from(BODY.toString() + " ")), flipped]) expect(verifyWebhookSignature({ "x-hub-signature-256": `sha256=${sig}` }, BODY, SECRET), sig).to.equal(undefined);
    });

    it("refuses a malformed one without throwing: wrong length, no prefix, sha1, not hex, empty", () => {
      const good = hmac(BODY);
      for (const v of [`sha256=${good.slice(0, 62)}`, `sha256=${good}00`, `sha256=`, good, `sha1=${good.slice(0, 40)}`, `sha256=${"z".repeat(64)}`, "", `sha256=${good}, sha256=${good}`]) {
        expect(verifyWebhookSignature({ "x-hub-signature-256": v }, BODY, SECRET), JSON.stringify(v)).to.equal(undefined);
      }
    });

    it("a wrong X-Hub-Signature-256 is not rescued by another provider's valid header", () => {
      expect(verifyWebhookSignature({ "x-hub-signature-256": `sha256=${hmac(BODY, "x")}`, "x-gitea-signature": hmac(BODY), "x-gitlab-token": SECRET }, BODY, SECRET)).to.equal(undefined);
    });
  });

  describe("Gitea: X-Gitea-Signature: <hex HMAC>", () => {
    it("accepts the HMAC of the raw body", () => {
      expect(verifyWebhookSignature({ "x-gitea-signature": hmac(BODY) }, BODY, SECRET)).to.equal("gitea");
    });

    it("refuses a forged or malformed one", () => {
      for (const v of [hmac(BODY, "guess"), hmac(BODY).slice(2), `sha256=${hmac(BODY)}`, "", "nothex"]) expect(verifyWebhookSignature({ "x-gitea-signature": v }, BODY, SECRET), v).to.equal(undefined);
    });
  });

  describe("GitLab: X-Gitlab-Token: <secret>", () => {
    it("accepts the secret itself, whatever the body", () => {
      expect(verifyWebhookSignature({ "x-gitlab-token": SECRET }, BODY, SECRET)).to.equal("gitlab");
      expect(verifyWebhookSignature({ "x-gitlab-token": SECRET }, Buffer.alloc(0), SECRET)).to.equal("gitlab");
    });

    it("refuses another token, a prefix, a longer one, an empty one", () => {
      for (const v of ["guess", SECRET.slice(0, -1), SECRET + "x", "", ` ${SECRET}`]) expect(verifyWebhookSignature({ "x-gitlab-token": v }, BODY, SECRET), v).to.equal(undefined);
    });
  });

  it("refuses a request with no signature header, a repeated header, or any header when the secret is empty", () => {
    expect(verifyWebhookSignature({}, BODY, SECRET)).to.equal(undefined);
    expect(verifyWebhookSignature({ authorization: `Bearer ${SECRET}` }, BODY, SECRET)).to.equal(undefined);
    expect(verifyWebhookSignature({ "x-gitlab-token": [SECRET, SECRET] } as Headers, BODY, SECRET)).to.equal(undefined);
    expect(verifyWebhookSignature({ "x-hub-signature-256": `sha256=${hmac(BODY, "")}` }, BODY, "")).to.equal(undefined);
    expect(verifyWebhookSignature({ "x-gitlab-token": "" }, BODY, "")).to.equal(undefined);
  });
});

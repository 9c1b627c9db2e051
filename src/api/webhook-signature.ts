import { createHash, createHmac, timingSafeEqual } from "node:crypto";
/**
 * Who may call POST /hooks/sync/NAME: a git provider that signs the delivery with the Sync's
 * spec.webhook.secret (docs/sync.md#webhooks). Pure: headers, raw body and secret in, the
 * provider out (or undefined). Every comparison is constant-time over equal-length buffers.
 *
 * - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`
 * - Gitea (and Forgejo): `X-Gitea-Signature: <hex HMAC-SHA256(secret, raw body)>`
 * - GitLab: `X-Gitlab-Token: <secret>` (GitLab sends the secret itself, no signature)
 * - Bitbucket: `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>` (Bitbucket Cloud and Server)
 *
 * The first of these headers present decides; a request that carries one of them with a wrong
 * value is refused even if another would match. Gitea also sends X-Hub-Signature-256 in recent
 * versions, with the same HMAC, so it verifies as "github": only the answer's label differs.
 */

export type WebhookProvider = "github" | "gitea" | "gitlab" | "bitbucket";

/** Request headers as Node gives them (lower-case names; a repeated header is joined or an array). */
export type Headers = Record<string, string | string[] | undefined>;

const HEX_SHA256 = /^[0-9a-f]{64}$/i;

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  // A repeated signature header is not ours to choose from: refused (an array, or Node's "a, b").
  if (Array.isArray(v)) return "";
  return v;
}

/** hex of HMAC-SHA256 against the expected digest: only a 64-digit hex string can match. */
function hmacMatches(hex: string, body: Buffer, secret: string): boolean {
  if (!HEX_SHA256.test(hex)) return false;
  const expected = createHmac("sha256", secret).update(body).digest();
  return timingSafeEqual(Buffer.from(hex, "hex"), expected);
}

/** The token GitLab sends is the secret itself: compared as SHA-256 digests, so lengths are equal and not revealed. */
function tokenMatches(token: string, secret: string): boolean {
  const a = createHash("sha256").update(token, "utf8").digest();
  const b = createHash("sha256").update(secret, "utf8").digest();
  return timingSafeEqual(a, b);
}

function githubSignature(value: string): string {
  return value.startsWith("sha256=") ? value.slice("sha256=".length) : "";
}

/**
 * The provider whose signature `headers` carry for `body` under `secret`, or undefined when
 * none does: no signature header, a wrong one, a malformed one, or an empty secret.
 */
export function verifyWebhookSignature(headers: Headers, body: Buffer, secret: string): WebhookProvider | undefined {
  if (!secret) return undefined;
  const github = header(headers, "x-hub-signature-256");
  if (github !== undefined) return hmacMatches(githubSignature(github), body, secret) ? "github" : undefined;
  const gitea = header(headers, "x-gitea-signature");
  if (gitea !== undefined) return hmacMatches(gitea, body, secret) ? "gitea" : undefined;
  const gitlab = header(headers, "x-gitlab-token");
  if (gitlab !== undefined) return gitlab !== "" && tokenMatches(gitlab, secret) ? "gitlab" : undefined;
  const bitbucket = header(headers, "x-hub-signature");
  if (bitbucket !== undefined) return hmacMatches(githubSignature(bitbucket), body, secret) ? "bitbucket" : undefined;
  return undefined;
}

import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import S3rver from "s3rver";

/**
 * A real S3-compatible server for tests and benchmarks: s3rver (the npm package) on 127.0.0.1
 * at a free port, storing objects in a temporary directory.
 *
 * s3rver checks that an access key id exists but does not verify SigV4 signatures ("Signature
 * version 4 calculation is unimplemented" in its authentication middleware), so a wrong secret
 * key would pass. `verifySignatures` adds the check S3 makes — the request's SigV4 signature
 * recomputed with the account's secret — in front of s3rver's routes, answering
 * SignatureDoesNotMatch in S3's own XML error format as s3rver renders it.
 */
export interface TestS3 {
  endpoint: string;
  port: number;
  directory: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Requests seen, method and path (for tests that count multipart parts). */
  requests: string[];
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

type Ctx = { method: string; path: string; querystring: string; headers: Record<string, string | string[] | undefined> };

const enc = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function canonicalQuery(qs: string): string {
  if (!qs) return "";
  return qs
    .split("&")
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf("=");
      const [k, v] = i < 0 ? [p, ""] : [p.slice(0, i), p.slice(i + 1)];
      return [enc(decodeURIComponent(k)), enc(decodeURIComponent(v.replace(/\+/g, " ")))];
    })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

const hmac = (key: Buffer | string, data: string): Buffer => createHmac("sha256", key).update(data).digest();

/** The SigV4 signature of a request (header-signed, as the AWS SDK sends them), or undefined when it is not one. */
function expectedSignature(ctx: Ctx, secrets: Map<string, string>): { provided: string; expected: string } | undefined {
  const auth = String(ctx.headers.authorization ?? "");
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/.exec(auth);
  if (!m) return undefined;
  const [, accessKeyId, date, region, service, signedHeaders, provided] = m;
  const secret = secrets.get(accessKeyId);
  if (secret === undefined) return undefined;
  const headers = signedHeaders.split(";").map((h) => `${h}:${String(ctx.headers[h] ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  const payload = String(ctx.headers["x-amz-content-sha256"] ?? "UNSIGNED-PAYLOAD");
  const canonical = [ctx.method, ctx.path.split("/").map((s) => enc(decodeURIComponent(s))).join("/"), canonicalQuery(ctx.querystring), headers, signedHeaders, payload].join("\n");
  const amzDate = String(ctx.headers["x-amz-date"] ?? "");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonical).digest("hex")].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
  return { provided, expected: createHmac("sha256", key).update(toSign).digest("hex") };
}

export async function startTestS3(opts: { buckets?: string[]; verifySignatures?: boolean } = {}): Promise<TestS3> {
  const directory = mkdtempSync(path.join(os.tmpdir(), "berth-s3rver-"));
  const accessKeyId = "S3RVER";
  // s3rver knows the key id only; the secret is the verifier's, distinctive so a test can find any leak.
  const secretAccessKey = `berth-test-secret-${randomBytes(12).toString("hex")}`;
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: (opts.buckets ?? []).map((name) => ({ name })) } as never) as unknown as {
    middleware: ((ctx: Ctx, next: () => Promise<void>) => Promise<void>)[];
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  };
  const requests: string[] = [];
  const S3Error = require("s3rver/lib/models/error");
  const secrets = new Map([[accessKeyId, secretAccessKey]]);
  const check = async (ctx: Ctx, next: () => Promise<void>): Promise<void> => {
    requests.push(`${ctx.method} ${ctx.path}${ctx.querystring ? `?${ctx.querystring}` : ""}`);
    if (opts.verifySignatures !== false) {
      const sig = expectedSignature(ctx, secrets);
      if (sig && sig.expected !== sig.provided) throw new S3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.");
    }
    await next();
  };
  // Just before the router: after s3rver's logging, XML encoding and vhost handling.
  server.middleware.splice(server.middleware.length - 1, 0, check);
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    directory,
    accessKeyId,
    secretAccessKey,
    requests,
    async stop() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/**
 * POST /berth/v1/rotate-key (`berth rotate-key`, ADR 0016): starts a rotation of the
 * installation key, or picks up the one running, and answers 202 with its state as soon as the
 * new key is in force; the re-encryption goes on in the server. GET answers the state of the
 * running rotation, else of the last one. Admins only (core/access.ts: "keyrotations"). The
 * answer carries key ids and counts, never a key or a plaintext.
 */
import { ApiError, badRequest } from "../core/errors.js";
import type { RequestContext } from "../core/types.js";
import type { KeyRotation, KeyRotator } from "../store/key-rotation.js";
import { requireObject } from "./body-limits.js";
import type { Reply } from "./request.js";

export const ROTATE_KEY_PATH = /^\/berth\/v1\/rotate-key$/;

/** The state, and whether this server is driving it now (a running rotation nobody drives says why it stopped). */
function view(r: KeyRotation, rotator: KeyRotator): Record<string, unknown> {
  const stopped = r.status === "running" && !rotator.active;
  return { kind: "KeyRotation", apiVersion: "berth.dev/v1", ...r, active: rotator.active, ...(stopped && rotator.lastError ? { error: rotator.lastError } : {}) };
}

function batchSizeOf(body: Buffer | undefined): number | undefined {
  const text = body?.toString("utf8").trim();
  if (!text) return undefined;
  let parsed: { batchSize?: unknown };
  try {
    parsed = requireObject<{ batchSize?: unknown }>(JSON.parse(text));
  } catch {
    throw badRequest('body must be JSON: {"batchSize": N} or empty');
  }
  const n = parsed.batchSize;
  if (n === undefined) return undefined;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 10_000) throw badRequest("batchSize: an integer from 1 to 10000");
  return n;
}

export class RotateKeyEndpoint {
  constructor(private readonly rotator: KeyRotator | undefined) {}

  async handle(method: string, body: () => Promise<Buffer | undefined>, ctx: RequestContext): Promise<Reply> {
    if (!this.rotator) throw new ApiError(503, "ServiceUnavailable", "key rotation is not available on this server");
    if (method === "GET") {
      const r = await this.rotator.status();
      if (!r) throw new ApiError(404, "NotFound", "no key rotation has run on this installation");
      return { status: 200, body: view(r, this.rotator) };
    }
    if (method !== "POST") throw new ApiError(405, "MethodNotAllowed", `${method} is not supported on /berth/v1/rotate-key`);
    const { rotation } = await this.rotator.start(ctx, { batchSize: batchSizeOf(await body()) });
    return { status: 202, body: view(rotation, this.rotator) };
  }
}

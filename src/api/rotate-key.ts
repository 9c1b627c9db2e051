/**
 * POST /berth/v1/rotate-key (`berth rotate-key`, ADR 0016): starts a rotation of the
 * installation key, or picks up the one running, and answers 202 with its state as soon as the
 * new key is in force; the re-encryption goes on in the server. GET answers the state of the
 * running rotation, else of the last one. Admins only (core/access.ts: "keyrotations"). The
 * answer carries key ids and counts, never a key or a plaintext.
 */
import { ApiError, badRequest } from "../core/errors.js";
import type { RequestContext } from "../core/types.js";
import type { KeyRotator } from "../store/key-rotation.js";
import { requireObject } from "./body-limits.js";
import type { Reply } from "./request.js";

export const ROTATE_KEY_PATH = /^\/berth\/v1\/rotate-key$/;

/**
 * The state, and whether this server is driving it now (a running rotation nobody drives says
 * why it stopped). `active` is read before the state: a run that ends in between shows its end
 * as active, never a running rotation as stopped.
 */
async function current(rotator: KeyRotator): Promise<Record<string, unknown> | undefined> {
  const active = rotator.active;
  const error = rotator.lastError;
  const r = await rotator.status();
  if (!r) return undefined;
  const stopped = r.status === "running" && !active;
  return { kind: "KeyRotation", apiVersion: "berth.dev/v1", ...r, active, ...(stopped && error ? { error } : {}) };
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
      const body = await current(this.rotator);
      if (!body) throw new ApiError(404, "NotFound", "no key rotation has run on this installation");
      return { status: 200, body };
    }
    if (method !== "POST") throw new ApiError(405, "MethodNotAllowed", `${method} is not supported on /berth/v1/rotate-key`);
    const { rotation } = await this.rotator.start(ctx, { batchSize: batchSizeOf(await body()) });
    return { status: 202, body: (await current(this.rotator)) ?? { kind: "KeyRotation", apiVersion: "berth.dev/v1", ...rotation } };
  }
}

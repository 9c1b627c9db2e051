import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { ApiError } from "../core/errors.js";
import { RECONCILE_REQUESTED } from "../core/kinds.js";
import type { RequestContext } from "../core/types.js";
import type { ResourceStore } from "../store/resources.js";
import type { Reply } from "./request.js";
import { verifyWebhookSignature } from "./webhook-signature.js";

/**
 * POST /hooks/sync/NAME (issue 15, docs/sync.md#webhooks): a git provider tells Berth that the
 * repository of Sync NAME changed. The request carries no bearer token (providers cannot send
 * one); it is authenticated by the provider's signature with the Sync's spec.webhook.secret
 * (./webhook-signature.ts). A valid one writes `berth.dev/reconcile-requested-at` on the Sync,
 * as `berth reconcile` does, and the Sync controller fetches on that change.
 */
export const SYNC_HOOK_PATH = /^\/hooks\/sync\/([^/]+)$/;

/**
 * The largest delivery read. It is read before it is authenticated, so it is kept small: push
 * payloads list at most 20 commits (GitHub, GitLab, Gitea) and stay far below this.
 */
export const WEBHOOK_MAX_BODY = 1024 * 1024;

/** Checked when there is no object or no secret, so that answer takes as long as a wrong signature. */
export const NOBODY_KNOWS = randomBytes(32).toString("hex");

/**
 * What a valid delivery does, for a Sync or a git-source Application alike: writes
 * berth.dev/reconcile-requested-at (as `berth reconcile` does) as `webhook:<provider>`, and
 * nothing else. An object deleted since its secret was read gets the same 401 as an unknown one.
 */
export async function requestReconcile(
  d: { store: Pick<ResourceStore, "update">; unauthorized: (address: string) => ApiError },
  req: IncomingMessage,
  key: { kind: "Sync" | "Application"; namespace: string | undefined; name: string },
  provider: string,
): Promise<string> {
  const address = req.socket.remoteAddress ?? "unknown";
  const at = new Date().toISOString();
  const ctx: RequestContext = { user: `webhook:${provider}`, ip: address, userAgent: req.headers["user-agent"] };
  try {
    await d.store.update(key, ctx, "patch", (cur) => ({
      ...cur!,
      metadata: { ...cur!.metadata, annotations: { ...(cur!.metadata.annotations ?? {}), [RECONCILE_REQUESTED]: at } },
    }));
  } catch (e) {
    if (e instanceof ApiError && e.code === 404) throw d.unauthorized(address);
    throw e;
  }
  return at;
}

export interface SyncWebhookDeps {
  store: Pick<ResourceStore, "syncWebhookSecret" | "update">;
  /** The answer to a failed authentication from an address: 401 (429 past the limit, as for tokens). */
  unauthorized: (address: string) => ApiError;
}

export class SyncWebhooks {
  constructor(private readonly d: SyncWebhookDeps) {}

  /**
   * One delivery. Unknown Sync, a Sync without spec.webhook.secret, and a missing or wrong
   * signature all get the same 401, and nothing is written.
   */
  async handle(req: IncomingMessage, name: string, body: Buffer): Promise<Reply> {
    const address = req.socket.remoteAddress ?? "unknown";
    const secret = await this.d.store.syncWebhookSecret(name);
    const provider = verifyWebhookSignature(req.headers, body, secret ?? NOBODY_KNOWS);
    if (!secret || !provider) throw this.d.unauthorized(address);
    const at = await requestReconcile(this.d, req, { kind: "Sync", namespace: undefined, name }, provider);
    return { status: 202, body: { kind: "SyncWebhook", sync: name, provider, reconcileRequestedAt: at } };
  }
}

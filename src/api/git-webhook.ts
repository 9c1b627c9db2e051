import type { IncomingMessage } from "node:http";
import type { ApiError } from "../core/errors.js";
import type { ResourceStore } from "../store/resources.js";
import type { Reply } from "./request.js";
import { NOBODY_KNOWS, requestReconcile } from "./sync-webhook.js";
import { verifyWebhookSignature, type WebhookProvider } from "./webhook-signature.js";

/**
 * POST /hooks/git/PROJECT/NAME (issue 16, docs/git-builds.md#webhooks): a git provider reports a
 * push to the repository of a git-source Application. Authenticated like the Sync webhook, by
 * the provider's signature with the Application's spec.source.git.webhook.secret; unknown
 * Application, no secret, and a wrong signature all get the same 401 and nothing is written. A
 * push to the followed branch (or tag) writes `berth.dev/reconcile-requested-at`, which makes
 * the controller resolve the ref again and build; any other push is answered 202 and ignored.
 */
export const GIT_HOOK_PATH = /^\/hooks\/git\/([^/]+)\/([^/]+)$/;

export interface PushedRef {
  /** refs/heads/<branch> or refs/tags/<tag>, as pushed. */
  ref?: string;
  /** The repository's default branch, when the payload says (GitHub, Gitea, GitLab). */
  defaultBranch?: string;
  /** The commit the ref now points at. */
  after?: string;
}

type Json = Record<string, unknown>;
const rec = (v: unknown): Json => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** What a push payload says was pushed, per provider's payload shape. Pure. */
export function pushedRef(provider: WebhookProvider, payload: unknown): PushedRef {
  const p = rec(payload);
  if (provider === "bitbucket") {
    const change = rec((rec(p.push).changes as unknown[] | undefined)?.[0]);
    const next = rec(change.new);
    const name = str(next.name);
    const kind = next.type === "tag" ? "tags" : "heads";
    return { ...(name ? { ref: `refs/${kind}/${name}` } : {}), ...(str(rec(next.target).hash) ? { after: str(rec(next.target).hash) } : {}) };
  }
  const defaultBranch = str(rec(p.repository).default_branch) ?? str(rec(p.project).default_branch);
  return { ...(str(p.ref) ? { ref: str(p.ref) } : {}), ...(defaultBranch ? { defaultBranch } : {}), ...(str(p.after) ? { after: str(p.after) } : {}) };
}

/**
 * Whether a push of `pushed` concerns a source following `branch` or `tag` (neither set: the
 * default branch, which the payload names; a payload without it is taken as concerning it).
 */
export function pushConcerns(pushed: PushedRef, follows: { branch?: string; tag?: string }): boolean {
  if (!pushed.ref) return true;
  if (follows.tag) return pushed.ref === `refs/tags/${follows.tag}`;
  const branch = follows.branch ?? pushed.defaultBranch;
  return branch === undefined ? pushed.ref.startsWith("refs/heads/") : pushed.ref === `refs/heads/${branch}`;
}

export interface GitWebhookDeps {
  store: Pick<ResourceStore, "gitWebhookTarget" | "update">;
  unauthorized: (address: string) => ApiError;
}

export class GitWebhooks {
  constructor(private readonly d: GitWebhookDeps) {}

  async handle(req: IncomingMessage, project: string, name: string, body: Buffer): Promise<Reply> {
    const address = req.socket.remoteAddress ?? "unknown";
    const target = await this.d.store.gitWebhookTarget(project, name);
    const provider = verifyWebhookSignature(req.headers, body, target?.secret ?? NOBODY_KNOWS);
    if (!target || !provider) throw this.d.unauthorized(address);
    const pushed = pushedRef(provider, parse(body));
    const base = { kind: "GitWebhook", application: `${project}/${name}`, provider, ...(pushed.ref ? { ref: pushed.ref } : {}) };
    if (!pushConcerns(pushed, target)) return { status: 202, body: { ...base, ignored: true, reason: `the Application follows ${followed(target)}` } };
    const at = await requestReconcile(this.d, req, { kind: "Application", namespace: project, name }, provider);
    return { status: 202, body: { ...base, reconcileRequestedAt: at } };
  }
}

function followed(t: { branch?: string; tag?: string }): string {
  return t.tag ? `tag ${t.tag}` : `branch ${t.branch ?? "(default)"}`;
}

/** A signed body that is not JSON (a ping in another format) still counts: it concerns the followed ref. */
function parse(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return {};
  }
}

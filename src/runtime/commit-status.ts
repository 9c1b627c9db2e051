/**
 * Commit status back to the git provider (issue 16): GitHub's statuses API and GitLab's commit
 * status API. Pure request building plus one send with fetch; retries live in the reporter
 * (src/controller/commit-status-reporter.ts). The token goes only into the Authorization (or
 * PRIVATE-TOKEN) header, never into a URL, log or error.
 */

export type CommitState = "pending" | "success" | "failure";

export interface CommitStatusTarget {
  provider: "github" | "gitlab";
  /** API base, e.g. https://api.github.com or https://gitlab.example.com/api/v4. */
  apiUrl: string;
  /** owner/repo (GitHub) or group/project path (GitLab). */
  repository: string;
  token: string;
  targetUrl?: string;
  /** The status's name on the provider. */
  context: string;
}

export interface StatusRequest {
  method: "POST";
  url: string;
  headers: Record<string, string>;
  body: Record<string, string>;
}

const GITLAB_STATE: Record<CommitState, string> = { pending: "running", success: "success", failure: "failed" };

/** The HTTP request that reports `state` of `sha`. Pure. */
export function statusRequest(t: CommitStatusTarget, sha: string, state: CommitState, description: string): StatusRequest {
  const base = t.apiUrl.replace(/\/+$/, "");
  const link: Record<string, string> = t.targetUrl ? { target_url: t.targetUrl } : {};
  if (t.provider === "github") {
    return {
      method: "POST",
      url: `${base}/repos/${t.repository}/statuses/${sha}`,
      headers: { authorization: `Bearer ${t.token}`, accept: "application/vnd.github+json", "content-type": "application/json", "user-agent": "berth" },
      body: { state, context: t.context, description: description.slice(0, 140), ...link },
    };
  }
  return {
    method: "POST",
    url: `${base}/projects/${encodeURIComponent(t.repository)}/statuses/${sha}`,
    headers: { "private-token": t.token, "content-type": "application/json", "user-agent": "berth" },
    body: { state: GITLAB_STATE[state], name: t.context, description: description.slice(0, 255), ...link },
  };
}

/** The provider's answer to a status it did not take: status code and its first words, never the token. */
export class CommitStatusError extends Error {}

export async function sendStatus(req: StatusRequest, timeoutMs = 10_000): Promise<void> {
  let res: Response;
  try {
    res = await fetch(req.url, { method: req.method, headers: req.headers, body: JSON.stringify(req.body), signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new CommitStatusError(`${new URL(req.url).host} did not answer: ${(e as Error).message}`);
  }
  if (res.ok) {
    await res.arrayBuffer().catch(() => undefined);
    return;
  }
  const text = (await res.text().catch(() => "")).slice(0, 200);
  throw new CommitStatusError(`${new URL(req.url).host} answered ${res.status}${text ? `: ${text}` : ""}`);
}

/**
 * Where statuses for a repository URL go: provider from spec or the URL's host, repository path
 * from the URL, API base from spec or the provider's public default. Undefined when the provider
 * has no status API Berth speaks (Gitea, Bitbucket: documented as not reported).
 */
export function statusTargetOf(url: string, opts: { provider?: string; apiUrl?: string }): Omit<CommitStatusTarget, "token" | "context" | "targetUrl"> | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const provider = opts.provider ?? (parsed.hostname === "github.com" ? "github" : /gitlab/.test(parsed.hostname) ? "gitlab" : undefined);
  if (provider !== "github" && provider !== "gitlab") return undefined;
  const repository = parsed.pathname.replace(/^\/+|\/+$/g, "").replace(/\.git$/, "");
  const apiUrl = opts.apiUrl ?? (provider === "github" ? "https://api.github.com" : `${parsed.protocol}//${parsed.host}/api/v4`);
  return { provider, apiUrl, repository };
}

import { RuntimeError, type RuntimeReason } from "./driver.js";
import { DOCKER_HUB, registryHost, repositoryPath, type RegistryAuth } from "./registry-auth.js";

/**
 * A small client of the registry HTTP API v2 (the distribution spec), for image automation
 * (ADR 0022): the tags of a repository and the digest a tag points at, asked with the same login
 * a pull sends. Basic and Bearer (token service) challenges are both answered, as the engine does.
 * Failures are RuntimeErrors with the pull's reasons, naming the registry and its answer; the
 * password never goes into one.
 */

/** What a HEAD of a manifest accepts: indexes first, so the digest is the one `docker pull` resolves. */
const MANIFEST_TYPES = [
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
].join(", ");
const MAX_TAG_PAGES = 20;

/** The engine's rule for 127.0.0.0/8 and localhost registries (insecure by default): plain HTTP there, HTTPS elsewhere. */
export function registryBaseUrl(host: string): string {
  if (host === DOCKER_HUB) return "https://registry-1.docker.io";
  const name = host.replace(/:\d+$/, "");
  return /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(name) ? `http://${host}` : `https://${host}`;
}

/** `Bearer realm="…",service="…",scope="…"` → its parameters. */
function challengeOf(header: string): { scheme: string; params: Record<string, string> } {
  const [scheme, ...rest] = header.split(" ");
  const params: Record<string, string> = {};
  for (const m of rest.join(" ").matchAll(/(\w+)="([^"]*)"/g)) params[m[1]] = m[2];
  return { scheme: scheme.toLowerCase(), params };
}

function basic(auth: RegistryAuth): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
}

/** The registry's own words from an error body (`{"errors":[{"code","message"}]}`), else the status line. */
async function answerOf(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const e = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors?.[0];
    if (e) return `${e.code ?? res.status}: ${e.message ?? ""}`.trim();
  } catch {
    // not JSON
  }
  return `HTTP ${res.status} ${res.statusText}`.trim();
}

/** What image automation asks a registry (RegistryClient; unit tests stand in for it). */
export interface RegistryApi {
  tags(repository: string, auth?: RegistryAuth): Promise<string[]>;
  digest(repository: string, tag: string, auth?: RegistryAuth): Promise<string>;
}

export class RegistryClient implements RegistryApi {
  constructor(private readonly opts: { timeoutMs?: number } = {}) {}

  /** Every tag of `repository` (`127.0.0.1:5000/team/web`), following the API's pages. */
  async tags(repository: string, auth?: RegistryAuth): Promise<string[]> {
    const host = registryHost(repository);
    const out: string[] = [];
    let next: string | undefined = `/v2/${repositoryPath(repository)}/tags/list?n=1000`;
    for (let page = 0; next && page < MAX_TAG_PAGES; page++) {
      const res = await this.request(host, { method: "GET", path: next }, auth);
      out.push(...(((await res.json()) as { tags?: string[] | null }).tags ?? []));
      next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get("link") ?? "")?.[1];
    }
    return out;
  }

  /** The digest `tag` of `repository` points at now (the Docker-Content-Digest of its manifest). */
  async digest(repository: string, tag: string, auth?: RegistryAuth): Promise<string> {
    const host = registryHost(repository);
    const res = await this.request(host, { method: "HEAD", path: `/v2/${repositoryPath(repository)}/manifests/${encodeURIComponent(tag)}`, headers: { accept: MANIFEST_TYPES } }, auth);
    const digest = res.headers.get("docker-content-digest");
    if (!digest) throw new RuntimeError("ImagePullFailed", `registry ${host} answered no digest for "${repository}:${tag}"`);
    return digest;
  }

  /** One request, answering a 401's challenge once; anything but 2xx is a RuntimeError. */
  private async request(host: string, req: { method: string; path: string; headers?: Record<string, string> }, auth: RegistryAuth | undefined): Promise<Response> {
    const { method, path, headers = {} } = req;
    const url = path.startsWith("http") ? path : `${registryBaseUrl(host)}${path}`;
    let res = await this.send(host, url, method, headers);
    if (res.status === 401) {
      const authorization = await this.authorize(host, res.headers.get("www-authenticate") ?? "", auth);
      res = await this.send(host, url, method, { ...headers, authorization });
    }
    if (res.ok) return res;
    const as = auth ? `as user "${auth.username}"` : "without credentials";
    const reason: RuntimeReason = res.status === 401 || res.status === 403 ? "RegistryAuthFailed" : res.status === 404 ? "ImageNotFound" : "ImagePullFailed";
    throw new RuntimeError(reason, `registry ${host} answered ${method} ${path.replace(/\?.*$/, "")} (${as}): ${method === "HEAD" ? `HTTP ${res.status}` : await answerOf(res)}`);
  }

  private async send(host: string, url: string, method: string, headers: Record<string, string>): Promise<Response> {
    try {
      return await fetch(url, { method, headers, redirect: "follow", signal: AbortSignal.timeout(this.opts.timeoutMs ?? 15_000) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new RuntimeError("ImagePullFailed", `registry ${host} did not answer: ${cause?.message ?? (e as Error).message}`);
    }
  }

  /** The Authorization header a challenge asks for: Basic with the login, or a token from the Bearer realm. */
  private async authorize(host: string, header: string, auth: RegistryAuth | undefined): Promise<string> {
    const { scheme, params } = challengeOf(header);
    if (scheme === "basic") {
      if (!auth) throw new RuntimeError("RegistryAuthFailed", `registry ${host} asked for credentials (without credentials): no login for ${host} in the Project's spec.registries`);
      return basic(auth);
    }
    if (scheme !== "bearer" || !params.realm) throw new RuntimeError("ImagePullFailed", `registry ${host} asked for an authentication scheme this client does not speak: ${scheme}`);
    return this.bearer(host, params, auth);
  }

  /** A token from the registry's token service (Docker Hub, GHCR, GitLab …), asked with the login when there is one. */
  private async bearer(host: string, params: Record<string, string>, auth: RegistryAuth | undefined): Promise<string> {
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set("service", params.service);
    if (params.scope) url.searchParams.set("scope", params.scope);
    const res = await this.send(host, url.toString(), "GET", auth ? { authorization: basic(auth) } : {});
    if (!res.ok) throw new RuntimeError("RegistryAuthFailed", `registry ${host}'s token service refused ${auth ? `user "${auth.username}"` : "an anonymous token"}: ${await answerOf(res)}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    return `Bearer ${body.token ?? body.access_token ?? ""}`;
  }
}

import type { CaddyConfig } from "./caddy-config.js";

export class CaddyError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * Caddy's admin API, the three calls Berth makes: read the whole config, replace the whole
 * config atomically (POST /load), and read the local CA's root. Berth never edits a part of the
 * live config in place (no PATCH/PUT of paths), so a partial update can never be half-applied.
 */
function causeOf(e: unknown): Error {
  const err = e as Error;
  return err.cause instanceof Error ? err.cause : err;
}

/** A kept-alive connection the admin endpoint closed before answering (undici's words, or the socket's). */
function closedUnderUs(e: unknown): boolean {
  const c = causeOf(e) as NodeJS.ErrnoException;
  return c.code === "UND_ERR_SOCKET" || c.code === "ECONNRESET" || /other side closed|socket hang up/.test(c.message);
}

function unreachable(url: string, e: unknown): CaddyError {
  return new CaddyError(`Caddy admin API at ${url} is unreachable: ${causeOf(e).message}`);
}

export class CaddyAdmin {
  constructor(
    readonly url: string,
    private readonly timeoutMs = 15_000,
  ) {}

  /**
   * Caddy restarts its admin endpoint on every config load, closing kept-alive connections; a
   * call sent on one of those just then fails before Caddy read it. Every call Berth makes is
   * idempotent (reads, and a /load of a whole config), so such a failure is tried once more.
   */
  private async request(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    try {
      return await this.once(method, path, body);
    } catch (e) {
      if (!closedUnderUs(e)) throw unreachable(this.url, e);
      try {
        return await this.once(method, path, body);
      } catch (again) {
        throw unreachable(this.url, again);
      }
    }
  }

  private async once(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const res = await fetch(this.url + path, {
      method,
      // Caddy's admin API checks the Origin/Host of requests; a plain request without Origin passes.
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    return { status: res.status, text: await res.text() };
  }

  /** The live config; {} when Caddy runs without one (GET answers null). */
  async getConfig(): Promise<CaddyConfig> {
    const r = await this.request("GET", "/config/");
    if (r.status !== 200) throw new CaddyError(`GET /config/ answered ${r.status}: ${r.text.trim()}`, r.status);
    const parsed = JSON.parse(r.text || "null") as CaddyConfig | null;
    return parsed ?? {};
  }

  /** Replaces the whole config at once; Caddy applies it completely or keeps the old one. */
  async load(config: CaddyConfig): Promise<void> {
    const r = await this.request("POST", "/load", config);
    if (r.status !== 200) throw new CaddyError(`POST /load answered ${r.status}: ${errorText(r.text)}`, r.status);
  }

  /**
   * Requests Caddy has in flight to any of `addresses` (GET /reverse_proxy/upstreams, Caddy's
   * global upstream pool); an address Caddy no longer has counts 0.
   */
  async upstreamRequests(addresses: string[]): Promise<number> {
    const r = await this.request("GET", "/reverse_proxy/upstreams");
    if (r.status !== 200) throw new CaddyError(`GET /reverse_proxy/upstreams answered ${r.status}: ${errorText(r.text)}`, r.status);
    const list = (JSON.parse(r.text || "[]") as { address: string; num_requests?: number }[] | null) ?? [];
    const wanted = new Set(addresses);
    return list.filter((u) => wanted.has(u.address)).reduce((n, u) => n + (u.num_requests ?? 0), 0);
  }

  /** The root certificate (PEM) of Caddy's local CA, which signs issuer "internal" certificates. */
  async localCaRoot(): Promise<string> {
    const r = await this.request("GET", "/pki/ca/local");
    if (r.status !== 200) throw new CaddyError(`GET /pki/ca/local answered ${r.status}: ${errorText(r.text)}`, r.status);
    return (JSON.parse(r.text) as { root_certificate: string }).root_certificate;
  }
}

function errorText(text: string): string {
  try {
    return (JSON.parse(text) as { error?: string }).error ?? text.trim();
  } catch {
    return text.trim();
  }
}

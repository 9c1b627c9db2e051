/**
 * The web dashboard (issue 19, ADR 0019, docs/ui.md): its built files under /ui/ on the API's
 * own listener, and the cookie session. The dashboard reads and writes only through the public
 * API; all this module adds is how a browser carries a token:
 *
 * - `POST /ui/session {token}`: the token (a user's, from `POST /berth/v1/login` or pasted) is
 *   checked as a bearer token would be and put in `berth_session` (HttpOnly, Secure,
 *   SameSite=Strict). A second cookie, `berth_csrf` (readable by the page), holds an HMAC of
 *   that token under a key only the server has.
 * - Every API request authenticated by the cookie that is not GET or HEAD must send that value
 *   in `X-Berth-CSRF` (server.ts `authenticate`); without it, 403. A page of another origin can
 *   neither read the cookie nor set the header.
 * - `DELETE /ui/session` clears both cookies (with the CSRF header too).
 *
 * Static files: every reply has a strict Content-Security-Policy (nothing but this origin, no
 * inline script or style, no framing); hashed assets are cached for a year, index.html never.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ApiError, badRequest, forbidden } from "../core/errors.js";
import type { Identity } from "../core/access.js";

export const UI_PREFIX = "/ui";
export const SESSION_COOKIE = "berth_session";
export const CSRF_COOKIE = "berth_csrf";
export const CSRF_HEADER = "x-berth-csrf";

/** The one policy of every /ui reply: this origin only, no inline code, never framed. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".map": "application/json",
};

/** The session lasts as long as a login token does (30 days); the token's own expiry still applies. */
const SESSION_SECONDS = 30 * 86_400;

/** dist/ui beside the bundle (dist/*.js), or the repository's dist/ui when run from src/ by tsx. */
export function uiDirectory(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return [path.join(here, "ui"), path.resolve(here, "../../dist/ui")].find((d) => existsSync(path.join(d, "index.html")));
}

/** The cookies of a request, by name (the first of a name wins). */
export function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, decodeURIComponent(part.slice(eq + 1).trim()));
  }
  return out;
}

export interface UiSessionDeps {
  /** The caller of a bearer token, as the API's authenticate decides it; undefined if none. */
  identify(token: string): Promise<Identity | undefined>;
  /** The key CSRF values are made with (never sent anywhere). */
  csrfKey: Buffer;
  /** A wrong token from this address: the API's own 401 (429 past its per-address limit). */
  unauthorized(address: string): ApiError;
}

const SAFE = new Set(["GET", "HEAD"]);

export class UiEndpoints {
  private readonly files = new Map<string, { body: Buffer; type: string; immutable: boolean }>();
  private readonly dir: string | undefined;

  constructor(private readonly deps: UiSessionDeps) {
    this.dir = uiDirectory();
    if (this.dir) this.load(this.dir, "");
  }

  private load(dir: string, rel: string): void {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const file = path.posix.join(rel, e.name);
      if (e.isDirectory()) this.load(dir, file);
      else this.files.set(`/${file}`, { body: readFileSync(path.join(dir, file)), type: TYPES[path.extname(e.name)] ?? "application/octet-stream", immutable: file.startsWith("assets/") });
    }
  }

  /** The CSRF value of a session token: an HMAC under the server's key, so it cannot be made elsewhere. */
  csrfOf(token: string): string {
    return createHmac("sha256", this.deps.csrfKey).update(`berth-ui-csrf:${token}`).digest("base64url");
  }

  /**
   * The session token of a request without an Authorization header, or undefined. A request
   * that may change something must carry the CSRF value of that token in X-Berth-CSRF.
   */
  sessionToken(req: IncomingMessage): string | undefined {
    const token = cookies(req).get(SESSION_COOKIE);
    if (!token) return undefined;
    if (SAFE.has(req.method ?? "GET")) return token;
    const sent = Buffer.from(String(req.headers[CSRF_HEADER] ?? ""));
    const want = Buffer.from(this.csrfOf(token));
    if (sent.length !== want.length || !timingSafeEqual(sent, want)) throw forbidden(`a request with the dashboard's session cookie must send its CSRF token in X-Berth-CSRF (docs/ui.md)`);
    return token;
  }

  /** Everything under /ui: the session endpoint and the built files (index.html for every page). */
  async handle(req: IncomingMessage, res: ServerResponse, pathname: string, body: () => Promise<Buffer>): Promise<void> {
    if (pathname === "/ui") return redirect(res, "/ui/");
    const rel = pathname.slice(UI_PREFIX.length);
    if (rel === "/session") return this.session(req, res, body);
    if (req.method !== "GET" && req.method !== "HEAD") throw new ApiError(405, "MethodNotAllowed", "the dashboard's files are only read");
    const file = this.files.get(rel) ?? (rel.startsWith("/assets/") ? undefined : this.files.get("/index.html"));
    if (!file) return this.notFound(res);
    const cache = file.immutable ? "public, max-age=31536000, immutable" : "no-cache";
    res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": file.type, "Content-Length": file.body.length, "Cache-Control": cache });
    res.end(req.method === "HEAD" ? undefined : file.body);
  }

  private notFound(res: ServerResponse): void {
    const text = this.dir ? "not found" : "the dashboard is not built: run `npm run build` (docs/ui.md)";
    res.writeHead(404, { ...SECURITY_HEADERS, "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache" });
    res.end(text);
  }

  private async session(req: IncomingMessage, res: ServerResponse, body: () => Promise<Buffer>): Promise<void> {
    if (req.method !== "GET") sameOrigin(req);
    if (req.method === "DELETE") {
      this.sessionToken(req);
      return this.reply(res, 200, { kind: "Session", loggedIn: false }, [clear(SESSION_COOKIE, true), clear(CSRF_COOKIE, false)]);
    }
    if (req.method === "GET") return this.whoami(req, res);
    if (req.method !== "POST") throw new ApiError(405, "MethodNotAllowed", "POST {token} to log in, GET who is logged in, DELETE to log out");
    const token = parseToken(await body());
    const who = await this.deps.identify(token);
    if (!who) throw this.deps.unauthorized(req.socket.remoteAddress ?? "unknown");
    const csrf = this.csrfOf(token);
    const set = [cookie(SESSION_COOKIE, token, true), cookie(CSRF_COOKIE, csrf, false)];
    return this.reply(res, 201, { kind: "Session", user: who.user, role: who.role }, set);
  }

  /** Who the session cookie is of: 401 without a (valid) one, so the page shows its login form. */
  private async whoami(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = this.sessionToken(req);
    const who = token ? await this.deps.identify(token) : undefined;
    if (!who) return this.reply(res, 401, new ApiError(401, "Unauthorized", "Unauthorized").toStatus(), []);
    return this.reply(res, 200, { kind: "Session", user: who.user, role: who.role }, []);
  }

  private reply(res: ServerResponse, status: number, body: unknown, setCookies: string[]): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-store", "Set-Cookie": setCookies });
    res.end(text);
  }
}

/**
 * Logging in or out is the page's own doing: JSON (which no cross-site form can send without a
 * CORS preflight, never answered here) from this origin (Origin, when the browser sends it).
 * So another site cannot log a browser in as someone else (login CSRF).
 */
function sameOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `https://${req.headers.host}`) throw forbidden(`the dashboard's session is set only from its own origin, not ${origin.slice(0, 200)}`);
  if (req.headers["sec-fetch-site"] === "cross-site") throw forbidden("the dashboard's session is set only from its own origin");
  if (req.method === "POST" && !/^application\/json\b/i.test(req.headers["content-type"] ?? "")) throw new ApiError(415, "UnsupportedMediaType", "POST /ui/session takes application/json {token}");
}

function parseToken(raw: Buffer): string {
  let b: unknown;
  try {
    b = JSON.parse(raw.toString("utf8"));
  } catch {
    throw badRequest("body must be a JSON object {token}");
  }
  const token = (b as { token?: unknown } | null)?.token;
  if (typeof token !== "string" || !token.trim() || token.length > 1024 || /[\s;,]/.test(token.trim())) throw badRequest("token: a non-empty token is required");
  return token.trim();
}

function cookie(name: string, value: string, httpOnly: boolean): string {
  return `${name}=${encodeURIComponent(value)}; Path=/; Max-Age=${SESSION_SECONDS}; Secure; SameSite=Strict${httpOnly ? "; HttpOnly" : ""}`;
}

function clear(name: string, httpOnly: boolean): string {
  return `${name}=; Path=/; Max-Age=0; Secure; SameSite=Strict${httpOnly ? "; HttpOnly" : ""}`;
}

function redirect(res: ServerResponse, to: string): void {
  res.writeHead(308, { ...SECURITY_HEADERS, Location: to, "Content-Length": 0 });
  res.end();
}

/**
 * The dashboard's only way to the server: the public API, same origin, with the session cookie
 * (docs/ui.md). Every request that is not GET carries the CSRF value from the `berth_csrf` cookie.
 */
export const GROUP_PATH = "/apis/berth.dev/v1alpha1";

export interface Meta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  generation?: number;
  annotations?: Record<string, string>;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface Obj {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  spec?: any;
  status?: any;
  [k: string]: any;
}

/** Told when the API answers 401 to the session (expired or revoked token): the page shows its login form. */
const expiredListeners = new Set<() => void>();

export function onSessionExpired(l: () => void): () => void {
  expiredListeners.add(l);
  return () => expiredListeners.delete(l);
}

export function sessionExpired(): void {
  for (const l of expiredListeners) l();
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function csrfToken(): string {
  const m = /(?:^|;\s*)berth_csrf=([^;]*)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]) : "";
}

export async function api<T = any>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-Berth-CSRF"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = contentType;
  const res = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (res.status === 401 && !path.startsWith("/ui/session") && path !== "/berth/v1/login") sessionExpired();
  if (!res.ok) throw new ApiFailure(res.status, json?.message ?? (text || res.statusText));
  return json as T;
}

export interface Session {
  user: string;
  role: string;
}

export const session = (): Promise<Session> => api<Session>("GET", "/ui/session");
/** Where the name of a token this page's login made is kept, so logging out revokes it. */
const LOGIN_TOKEN = "berth.loginToken";

/**
 * Logs out: a token made by this page's password login is revoked through the API
 * (`DELETE /berth/v1/tokens/NAME`); a pasted one is the user's and stays. Then the cookies go.
 */
export async function logout(): Promise<void> {
  const name = localStorage.getItem(LOGIN_TOKEN);
  if (name) await api("DELETE", `/berth/v1/tokens/${encodeURIComponent(name)}`).catch(() => undefined);
  localStorage.removeItem(LOGIN_TOKEN);
  await api("DELETE", "/ui/session");
}

/** Username and password through the API's own login (a 30-day token), or a pasted token; then the cookie. */
export async function login(form: { username?: string; password?: string; token?: string }): Promise<Session> {
  const pasted = form.token?.trim();
  const made = pasted ? undefined : await api<{ token: string; name: string }>("POST", "/berth/v1/login", { username: form.username, password: form.password });
  const s = await api<Session>("POST", "/ui/session", { token: pasted || made!.token });
  if (made) localStorage.setItem(LOGIN_TOKEN, made.name);
  else localStorage.removeItem(LOGIN_TOKEN);
  return s;
}

/** The path of a kind's collection (all namespaces, or one) and of one object. */
export function collection(plural: string, namespace?: string): string {
  return namespace ? `${GROUP_PATH}/namespaces/${encodeURIComponent(namespace)}/${plural}` : `${GROUP_PATH}/${plural}`;
}

export function itemPath(plural: string, namespace: string | undefined, name: string): string {
  return `${collection(plural, namespace)}/${encodeURIComponent(name)}`;
}

export const mergePatch = (path: string, patch: unknown): Promise<Obj> => api<Obj>("PATCH", path, patch, "application/merge-patch+json");

/** Waits before each retry of a question that got no answer (a dropped connection, a 5xx, a 429). */
export const CAN_RETRY_MS = [250, 500, 1000, 2000];

/**
 * What the API would decide for this request, asked as `kubectl auth can-i` asks. Only an answer
 * counts: a request that failed on the way is asked again, so a passing network error does not
 * hide a page's write buttons until the next reload. A 401/403, or no answer after the retries,
 * is "no".
 */
export async function can(verb: string, resource: string, namespace?: string, group = "berth.dev"): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await api<any>("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SelfSubjectAccessReview",
        spec: { resourceAttributes: { verb, group, resource, ...(namespace ? { namespace } : {}) } },
      });
      return r?.status?.allowed === true;
    } catch (e) {
      const status = (e as { status?: number }).status;
      if (status === 401 || status === 403 || attempt >= CAN_RETRY_MS.length) return false;
      await new Promise((r) => setTimeout(r, CAN_RETRY_MS[attempt]));
    }
  }
}

import https from "node:https";
import { GROUP, VERSION, type KindInfo } from "../../core/kinds.js";
import { ApiCallError } from "./errors.js";
import { type Connection, readConnection } from "./kubeconfig-file.js";

/** The answer of GET /berth/v1/syncs/NAME/diff (src/api/sync-diff.ts). */
export interface SyncDiffAnswer {
  kind: "SyncDiff";
  sync: string;
  revision?: string;
  items: { action: string; object: Record<string, any> }[];
  prune: { kind: string; namespace?: string; name: string }[];
  blocked?: string;
  error?: { reason: string; message: string };
}

/** The parts of a request besides method and path; JSON in and out unless told otherwise. */
export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  accept?: string;
}

/**
 * Talks to `berth serve` over HTTPS with the kubeconfig's CA and token, exactly as kubectl
 * would talk to a Kubernetes API server. One keep-alive agent, so a command's requests share
 * one TLS handshake.
 */
export class BerthClient {
  private conn: Promise<Connection> | undefined;
  private server = "";
  private agent: https.Agent | undefined;

  /** A kubeconfig's path, or a connection already made (`berth login` before it has a token). */
  constructor(private readonly source: string | Connection) {}

  /** The kubeconfig, read on first use (`berth --help` never needs it). */
  private connection(): Promise<Connection> {
    this.conn ??= (typeof this.source === "string" ? readConnection(this.source) : Promise.resolve(this.source)).then((c) => {
      this.server = c.server;
      return c;
    });
    return this.conn;
  }

  private async prepare(urlPath: string, opts: https.RequestOptions): Promise<URL> {
    const c = await this.connection();
    this.agent ??= new https.Agent({ keepAlive: true, ca: c.ca, cert: c.cert, key: c.key, rejectUnauthorized: !c.insecure, servername: c.servername });
    opts.agent = this.agent;
    if (c.token) (opts.headers as Record<string, string>).Authorization = `Bearer ${c.token}`;
    return new URL(urlPath, c.server);
  }

  /** Lets the process exit at once instead of waiting for idle keep-alive sockets to time out. */
  close(): void {
    this.agent?.destroy();
  }

  async request<T = unknown>(method: string, urlPath: string, { body, contentType = "application/json", accept = "application/json" }: RequestOptions = {}): Promise<T> {
    const opts: https.RequestOptions = { method, headers: { Accept: accept } };
    const url = await this.prepare(urlPath, opts);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload) Object.assign(opts.headers as Record<string, string>, { "Content-Type": contentType, "Content-Length": String(Buffer.byteLength(payload)) });
    return await new Promise<T>((resolve, reject) => {
      const req = https.request(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            // plain-text bodies (e.g. /healthz) stay strings
          }
          if ((res.statusCode ?? 500) >= 400) reject(new ApiCallError(res.statusCode ?? 500, typeof parsed === "object" ? (parsed as object) : { message: text }));
          else resolve(parsed as T);
        });
      });
      req.on("error", (e) => reject(new Error(`cannot reach the Berth API at ${this.server}: ${e.message}`)));
      if (payload) req.write(payload);
      req.end();
    });
  }

  /**
   * A streamed GET (logs, watches): chunks go to `onData` as they arrive, until the server
   * ends it or `signal` aborts it (which resolves: the caller asked to stop).
   */
  async stream(urlPath: string, onData: (text: string) => void, { accept = "text/plain", signal }: { accept?: string; signal?: AbortSignal } = {}): Promise<void> {
    const opts: https.RequestOptions = { method: "GET", headers: { Accept: accept } };
    const url = await this.prepare(urlPath, opts);
    if (signal?.aborted) return;
    await new Promise<void>((resolve, reject) => {
      const req = https.request(url, opts, (res) => {
        if ((res.statusCode ?? 500) >= 400) {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            let body: object = {};
            try {
              body = JSON.parse(Buffer.concat(chunks).toString());
            } catch {
              // not a Status
            }
            reject(new ApiCallError(res.statusCode ?? 500, body));
          });
          return;
        }
        res.setEncoding("utf8");
        res.on("data", (t: string) => onData(t));
        res.on("end", () => resolve());
        res.on("error", reject);
      });
      req.on("error", (e) => (signal?.aborted ? resolve() : reject(new Error(`cannot reach the Berth API at ${this.server}: ${e.message}`))));
      signal?.addEventListener("abort", () => {
        req.destroy();
        resolve();
      }, { once: true });
      req.end();
    });
  }

  static itemPath(kind: KindInfo, namespace: string | undefined, name?: string): string {
    const base = kind.namespaced && namespace ? `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${kind.plural}` : `/apis/${GROUP}/${VERSION}/${kind.plural}`;
    return name ? `${base}/${encodeURIComponent(name)}` : base;
  }

  async get(kind: KindInfo, namespace: string | undefined, name: string): Promise<Record<string, any> | undefined> {
    try {
      return await this.request("GET", BerthClient.itemPath(kind, namespace, name));
    } catch (e) {
      if (e instanceof ApiCallError && e.code === 404) return undefined;
      throw e;
    }
  }

  /** A list with its resourceVersion, where a watch of the same objects starts. */
  async listWithVersion(kind: KindInfo, namespace: string | undefined, fieldSelector?: string): Promise<{ items: Record<string, any>[]; resourceVersion: string }> {
    const q = fieldSelector ? `?fieldSelector=${encodeURIComponent(fieldSelector)}` : "";
    const list = await this.request<{ items: Record<string, any>[]; metadata?: { resourceVersion?: string } }>("GET", BerthClient.itemPath(kind, namespace) + q);
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? "" };
  }

  async list(kind: KindInfo, namespace: string | undefined, labelSelector?: string): Promise<Record<string, any>[]> {
    const q = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : "";
    const list = await this.request<{ items: Record<string, any>[] }>("GET", BerthClient.itemPath(kind, namespace) + q);
    return list.items;
  }

  async applyBatch(items: unknown[], dryRun: boolean, prune = false): Promise<{ items: { action: string; object: Record<string, any> }[]; pruned?: Record<string, any>[] }> {
    const q = new URLSearchParams();
    if (dryRun) q.set("dryRun", "All");
    if (prune) q.set("prune", "true");
    return this.request("POST", `/berth/v1/apply${q.size ? `?${q}` : ""}`, { body: { items } });
  }

  /** What the next revision of Sync `name` would change (GET /berth/v1/syncs/NAME/diff: a dry run, nothing stored). */
  async syncDiff(name: string): Promise<SyncDiffAnswer> {
    return this.request("GET", `/berth/v1/syncs/${encodeURIComponent(name)}/diff`);
  }

  async delete(kind: KindInfo, namespace: string | undefined, name: string): Promise<Record<string, any>> {
    return this.request("DELETE", BerthClient.itemPath(kind, namespace, name), { body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background" } });
  }

  async events(namespace: string | undefined, uid: string): Promise<Record<string, any>[]> {
    const base = namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/events` : `/api/v1/events`;
    const list = await this.request<{ items: Record<string, any>[] }>("GET", `${base}?fieldSelector=${encodeURIComponent(`involvedObject.uid=${uid}`)}`);
    return list.items;
  }
}

import http from "node:http";

/** One request's outcome. */
export interface Sample {
  at: number;
  ms: number;
  status: number;
  error?: string;
  /** Sent again once because its reused keep-alive connection was closed before any answer. */
  retried?: boolean;
}

export interface LoadResult {
  samples: Sample[];
  sent: number;
  ok: number;
  failed: number;
  /** The first few failures, for the assertion message. */
  failures: string[];
  p50: number;
  p99: number;
  rate: number;
  /** Requests retried on a fresh connection after a reused one closed under them (see startLoad). */
  retried: number;
  /** Times the generator's own process stalled (see startLoad): when, how long, slots not sent. */
  stalls: string[];
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function summarize(samples: Sample[], seconds: number, stalls: string[] = []): LoadResult {
  const bad = samples.filter((s) => s.status !== 200);
  const ms = samples.filter((s) => s.status === 200).map((s) => s.ms).sort((a, b) => a - b);
  return {
    samples,
    sent: samples.length,
    ok: samples.length - bad.length,
    failed: bad.length,
    failures: bad.slice(0, 5).map((s) => `${new Date(s.at).toISOString()} ${s.status} ${s.error ?? ""}`.trim()),
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    rate: samples.length / Math.max(seconds, 0.001),
    retried: samples.filter((s) => s.retried).length,
    stalls,
  };
}

/**
 * An open-loop load generator on 127.0.0.1 only: a GET every 1/rate seconds whatever the
 * answers take (at most `maxInFlight` at once), keep-alive connections as a browser or an
 * upstream proxy would hold them. Runs until stop() and always stops by itself after `maxMs`.
 */
export interface LoadOptions {
  port: number;
  host: string;
  path?: string;
  /** GET (default; idempotent, retried once after a keep-alive close) or POST (never retried). */
  method?: "GET" | "POST";
  /** Keep-alive connections (default), or a new connection per request. */
  keepAlive?: boolean;
  rate: number;
  maxInFlight?: number;
  maxMs?: number;
}

/** A tick this late (ms) is the generator's own process stalling, not the server. */
const STALL_MS = 250;

export function startLoad(opts: LoadOptions): { stop: () => Promise<LoadResult> } {
  const keepAlive = opts.keepAlive ?? true;
  const agent = new http.Agent({ keepAlive, maxSockets: opts.maxInFlight ?? 32 });
  const method = opts.method ?? "GET";
  const samples: Sample[] = [];
  const pending = new Set<Promise<void>>();
  const t0 = Date.now();
  let running = true;
  /**
   * One GET. A request sent on a reused keep-alive connection that the server closed before any
   * answer (the keep-alive race every HTTP/1.1 server has when it closes idle connections, e.g.
   * on a config reload) is retried once on a new connection, as browsers, curl and Go's client
   * do for idempotent requests (RFC 9112 §9.3.1; Node's http docs describe req.reusedSocket for
   * this). Anything else — any answer other than 200, any error on a fresh connection, a second
   * failure — is a failed request.
   */
  const attempt = (at: number, retried: boolean, done: (s: Sample) => void): void => {
    let answered = false;
    const finish = (status: number, error?: string): void => done({ at, ms: Date.now() - at, status, ...(error ? { error } : {}), ...(retried ? { retried } : {}) });
    // The retry opens a new connection: every idle one may be closing at the same moment.
    const req = http.request({ method, host: "127.0.0.1", port: opts.port, path: opts.path ?? "/", headers: { Host: opts.host, ...(method === "POST" ? { "Content-Type": "text/plain" } : {}) }, agent: retried ? false : agent, timeout: 10_000 }, (res) => {
      answered = true;
      res.resume();
      res.on("end", () => finish(res.statusCode ?? 0));
      res.on("error", (e) => finish(0, e.message));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e: NodeJS.ErrnoException) => {
      const closedUnderUs = method === "GET" && req.reusedSocket && !answered && (e.code === "ECONNRESET" || e.message === "socket hang up");
      if (closedUnderUs && !retried) attempt(at, true, done);
      else finish(0, `${method} ${e.message} (${req.reusedSocket ? "reused" : "new"} connection${retried ? ", on the retry" : ""})`);
    });
    req.end(method === "POST" ? "ping" : undefined);
  };
  const one = (): Promise<void> => new Promise((resolve) => attempt(Date.now(), false, (s) => (samples.push(s), resolve())));
  const interval = 1000 / opts.rate;
  const stalls: string[] = [];
  let next = Date.now();
  const tick = (): void => {
    if (!running || Date.now() - t0 > (opts.maxMs ?? 300_000)) return;
    // After a stall, this turn's timers run before its poll phase reads the answers that came
    // in meanwhile: sending now would find them still "in flight". Next tick, then.
    if (skipStall()) return void setTimeout(tick, interval);
    while (next <= Date.now()) {
      next += interval;
      // A stalled server fills the in-flight limit: the request that cannot be sent is a failure too.
      if (pending.size >= (opts.maxInFlight ?? 32)) {
        samples.push({ at: Date.now(), ms: 0, status: 0, error: `not sent: ${pending.size} requests still in flight` });
        continue;
      }
      const p = one().finally(() => pending.delete(p));
      pending.add(p);
    }
    setTimeout(tick, Math.max(1, next - Date.now()));
  };
  /**
   * A tick far behind its slot means this process did not run (GC, CPU starvation, or the
   * in-process server's own work): the slots it missed were never sent, so sending them all at
   * once would be a burst the server never saw at that rate, and the burst beyond the in-flight
   * limit would be counted as "not sent" failures of the server. They are skipped and the
   * stall is reported. A stalled server still shows: on-time ticks find the in-flight limit full.
   */
  const skipStall = (): boolean => {
    const late = Date.now() - next;
    if (late < STALL_MS) return false;
    stalls.push(`${new Date(next).toISOString()} generator stalled ${late} ms, ${Math.floor(late / interval)} slots not sent`);
    next = Date.now() + interval;
    return true;
  };
  tick();
  return {
    stop: async () => {
      running = false;
      await Promise.all(pending);
      agent.destroy();
      return summarize(samples, (Date.now() - t0) / 1000, stalls);
    },
  };
}

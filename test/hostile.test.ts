import { expect } from "chai";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import https from "node:https";
import tls from "node:tls";
import { Writable } from "node:stream";
import winston from "winston";
import { call, startTestBerth } from "./helpers/berth.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;

const G = "/apis/berth.dev/v1alpha1";

/** One sample of a prom-client gauge with the given label set, from the server's /metrics. */
async function gauge(berth: TestBerth, name: string, labels: string): Promise<number> {
  const text = (await call(berth, "GET", "/metrics")).text;
  const line = text.split("\n").find((l) => l.startsWith(labels ? `${name}{${labels}} ` : `${name} `));
  return line ? Number(line.split(" ").pop()) : 0;
}

/**
 * A watch request whose client goes away while the server is still reading the initial list:
 * the socket is destroyed once the request has been written, and the promise settles when it
 * is closed (the server answers nothing it could still send).
 */
function dropDuringList(berth: TestBerth, urlPath: string, afterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const req = https.request(new URL(urlPath, berth.url), { headers: { Authorization: `Bearer ${berth.token}` }, ca: berth.caPem, agent: false });
    req.on("error", () => undefined);
    req.on("close", () => resolve());
    req.on("response", (res) => {
      res.resume();
      req.destroy();
    });
    req.end(() => setTimeout(() => req.destroy(), afterMs));
  });
}

describe("the API under hostile input and load", function () {
  this.timeout(120_000);
  let berth: TestBerth;
  const logLines: string[] = [];

  before(async () => {
    // Read once at start: a short wait for the first request, so the silent-connection test is quick.
    const saved = process.env.BERTH_FIRST_REQUEST_TIMEOUT_SECONDS;
    process.env.BERTH_FIRST_REQUEST_TIMEOUT_SECONDS = "2";
    try {
      const sink = new Writable({ write: (chunk: Buffer, _enc, done): void => (logLines.push(chunk.toString()), done()) });
      berth = await startTestBerth({ logger: winston.createLogger({ level: "info", format: winston.format.json(), transports: [new winston.transports.Stream({ stream: sink })] }) });
    } finally {
      if (saved === undefined) delete process.env.BERTH_FIRST_REQUEST_TIMEOUT_SECONDS;
      else process.env.BERTH_FIRST_REQUEST_TIMEOUT_SECONDS = saved;
    }
  });

  after(async () => {
    await berth?.cleanup();
  });

  it("200 watch clients that leave during the initial list leave no timer or subscription behind", async () => {
    // A list that takes a few milliseconds, so a client can leave in the middle of it.
    const filler = "x".repeat(50_000);
    for (let i = 0; i < 40; i++) {
      const r = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: `fill-${i}`, annotations: { filler } }, spec: {} });
      expect(r.status, r.text).to.equal(201);
    }
    const timersBefore = await gauge(berth, "nodejs_active_resources", 'type="Timeout"');
    const subscribersBefore = await gauge(berth, "berth_change_feed_subscribers", "");
    for (let round = 0; round < 10; round++) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => dropDuringList(berth, `${G}/projects?watch=true&allowWatchBookmarks=true`, i % 5)));
    }
    // Postgres connections opened for the concurrent lists each hold an idle timer (10 s)
    // until the pool closes them; a leaked watch holds its two timers forever.
    let timersAfter = Infinity;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline && timersAfter > timersBefore + 2; ) {
      await new Promise((r) => setTimeout(r, 500));
      timersAfter = await gauge(berth, "nodejs_active_resources", 'type="Timeout"');
    }
    const subscribersAfter = await gauge(berth, "berth_change_feed_subscribers", "");
    console.log(`      Timeout resources ${timersBefore} → ${timersAfter}; feed subscribers ${subscribersBefore} → ${subscribersAfter}`);
    expect(subscribersAfter, "feed subscriptions left by clients that went away").to.equal(subscribersBefore);
    expect(timersAfter, "timers left by clients that went away").to.be.at.most(timersBefore + 2);
  });

  it("a body nested 2,000 deep is 400 on every write route, stores nothing, and the object stays writable", async () => {
    const deep = (n: number): unknown => {
      let v: unknown = "bottom";
      for (let i = 0; i < n; i++) v = { a: v };
      return v;
    };
    const ok = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "deep" }, spec: {} });
    expect(ok.status, ok.text).to.equal(201);
    const deepJson = JSON.stringify({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "deep" }, spec: {}, status: deep(2000) });
    const deepYaml = `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: deep}\nspec: {description: ${"[".repeat(2000)}${"]".repeat(2000)}}\n`;
    const attempts: [string, string, string, string][] = [
      ["POST", `${G}/projects`, deepJson.replace('"name":"deep"', '"name":"deep2"'), "application/json"],
      ["PUT", `${G}/projects/deep/status`, deepJson, "application/json"],
      ["PUT", `${G}/projects/deep`, deepJson, "application/json"],
      ["PATCH", `${G}/projects/deep`, JSON.stringify({ metadata: { labels: { x: "y" } }, spec: deep(2000) }), "application/merge-patch+json"],
      ["PATCH", `${G}/projects/deep/status`, JSON.stringify({ status: deep(2000) }), "application/merge-patch+json"],
      ["PATCH", `${G}/projects/deep?fieldManager=t`, deepYaml, "application/apply-patch+yaml"],
      ["POST", "/berth/v1/apply", JSON.stringify({ items: [JSON.parse(deepJson)] }), "application/json"],
    ];
    for (const [method, url, body, contentType] of attempts) {
      const r = await call(berth, method, url, body, { contentType });
      expect(r.status, `${method} ${url} (${contentType}): ${r.text.slice(0, 200)}`).to.equal(400);
      expect(r.text, `${method} ${url}`).to.not.match(/Maximum call stack|at [A-Za-z]+ \(/);
    }
    expect((await call(berth, "GET", `${G}/projects/deep2`)).status, "nothing was created").to.equal(404);
    const after = await call(berth, "PATCH", `${G}/projects/deep`, { metadata: { labels: { still: "writable" } } }, { contentType: "application/merge-patch+json" });
    expect(after.status, after.text).to.equal(200);
    expect(JSON.parse(after.text).status ?? {}).to.not.have.property("a");
    const nested = await call(berth, "PATCH", `${G}/projects/deep`, { metadata: { annotations: { depth: "fine" } }, spec: { description: "a body well inside the limit" } }, { contentType: "application/merge-patch+json" });
    expect(nested.status, nested.text).to.equal(200);
  });

  it("finalizers that no controller could ever remove are 422 naming the field, and nothing is stored", async () => {
    for (const [finalizers, field] of [
      [[{ a: 1 }], "metadata.finalizers[0]"],
      [["example.com/ok", 1, "", "../../x", "a b"], "metadata.finalizers[1]"],
      [Array.from({ length: 65 }, (_, i) => `example.com/f${i}`), "metadata.finalizers"],
    ] as [unknown[], string][]) {
      const r = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "fin-bad", finalizers }, spec: {} });
      expect(r.status, r.text).to.equal(422);
      expect(JSON.parse(r.text).details.causes.map((c: { field: string }) => c.field)).to.include(field);
      expect((await call(berth, "GET", `${G}/projects/fin-bad`)).status).to.equal(404);
    }
    const good = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "fin-good", finalizers: ["example.com/hold"] }, spec: {} });
    expect(good.status, good.text).to.equal(201);
    const bad = await call(berth, "PATCH", `${G}/projects/fin-good`, { metadata: { finalizers: ["a b"] } }, { contentType: "application/merge-patch+json" });
    expect(bad.status, bad.text).to.equal(422);
    expect(JSON.parse((await call(berth, "GET", `${G}/projects/fin-good`)).text).metadata.finalizers).to.deep.equal(["example.com/hold"]);
  });

  it("NUL, malformed escapes and null bodies are 4xx naming what is wrong, never 500, and change nothing", async () => {
    const ok = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "nul" }, spec: {} });
    expect(ok.status, ok.text).to.equal(201);
    const rv = JSON.parse(ok.text).metadata.resourceVersion;
    const nulProject = (where: string): string =>
      where === "key"
        ? '{"apiVersion":"berth.dev/v1alpha1","kind":"Project","metadata":{"name":"nul2","labels":{"a\\u0000b":"x"}},"spec":{}}'
        : '{"apiVersion":"berth.dev/v1alpha1","kind":"Project","metadata":{"name":"nul2","annotations":{"note":"a\\u0000b"}},"spec":{"description":"x"}}';
    const cases: { method: string; url: string; body?: string; contentType?: string; status: number; field?: string }[] = [
      { method: "POST", url: `${G}/projects`, body: nulProject("value"), status: 422, field: "metadata.annotations.note" },
      { method: "POST", url: `${G}/projects`, body: nulProject("key"), status: 422, field: "metadata.labels.a\u0000b" },
      { method: "PATCH", url: `${G}/projects/nul`, body: '{"spec":{"description":"x\\u0000"}}', contentType: "application/merge-patch+json", status: 422, field: "spec.description" },
      { method: "PATCH", url: `${G}/projects/nul/status`, body: '{"status":{"x":["ok","\\u0000"]}}', contentType: "application/merge-patch+json", status: 422, field: "status.x[1]" },
      { method: "GET", url: `${G}/projects/nu%00l`, status: 400 },
      { method: "GET", url: `${G}/projects?fieldSelector=metadata.name%3Dx%00`, status: 400 },
      { method: "GET", url: `${G}/projects?labelSelector=a%3D%00`, status: 400 },
      { method: "GET", url: `${G}/projects/%E0%A4%A`, status: 400 },
      { method: "DELETE", url: `${G}/projects/%ZZ`, status: 400 },
      { method: "POST", url: "/berth/v1/apply", body: "null", status: 400 },
      { method: "POST", url: "/berth/v1/apply", body: "[]", status: 400 },
      { method: "DELETE", url: `${G}/projects/nul`, body: "null", status: 400 },
      { method: "PUT", url: `${G}/projects/nul`, body: "null", status: 400 },
      { method: "PATCH", url: `${G}/projects/nul`, body: "null", contentType: "application/merge-patch+json", status: 400 },
      { method: "PATCH", url: `${G}/projects/nul?fieldManager=t`, body: "null", contentType: "application/apply-patch+yaml", status: 400 },
    ];
    for (const c of cases) {
      const r = await call(berth, c.method, c.url, c.body, { contentType: c.contentType });
      const what = `${c.method} ${c.url} ${c.body ?? ""}: ${r.text.slice(0, 200)}`;
      expect(r.status, what).to.equal(c.status);
      const status = JSON.parse(r.text);
      expect(status.kind, what).to.equal("Status");
      if (c.field) expect(status.details.causes.map((x: { field: string }) => x.field), what).to.deep.equal([c.field]);
    }
    expect((await call(berth, "GET", `${G}/projects/nul2`)).status, "nothing was created").to.equal(404);
    const still = JSON.parse((await call(berth, "GET", `${G}/projects/nul`)).text);
    expect(still.metadata.resourceVersion, "the object was not changed").to.equal(rv);
  });

  it("bad watch parameters are 400 with a Status before any header; a huge timeoutSeconds is capped, not overflowed", async () => {
    for (const q of ["resourceVersion=abc", "resourceVersion=1.5", "resourceVersion=Infinity", "resourceVersion=-1", "timeoutSeconds=-5", "timeoutSeconds=abc", "timeoutSeconds=1.5"]) {
      const r = await call(berth, "GET", `${G}/projects?watch=true&${q}`);
      expect(r.status, `${q}: ${r.text}`).to.equal(400);
      expect(JSON.parse(r.text).kind, q).to.equal("Status");
    }
    // 10^9 s overflowed Node's timer and closed the stream after 1 ms.
    const t0 = Date.now();
    const events = await new Promise<{ ended: boolean; ms: number }>((resolve) => {
      const req = https.request(new URL(`${G}/projects?watch=true&timeoutSeconds=1000000000`, berth.url), { headers: { Authorization: `Bearer ${berth.token}` }, ca: berth.caPem, agent: false }, (res) => {
        expect(res.statusCode).to.equal(200);
        res.resume();
        res.on("end", () => resolve({ ended: true, ms: Date.now() - t0 }));
        setTimeout(() => (req.destroy(), resolve({ ended: false, ms: Date.now() - t0 })), 1500);
      });
      req.end();
    });
    expect(events.ended, `the stream ended after ${events.ms} ms`).to.equal(false);
  });

  it("annotations over 256 KiB in all are 422 naming metadata.annotations, one value or 100,000 small ones", async () => {
    const many = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, "v"]));
    for (const annotations of [{ big: "x".repeat(300 * 1024) }, many]) {
      const r = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "annotated", annotations }, spec: {} });
      expect(r.status, r.text.slice(0, 300)).to.equal(422);
      expect(JSON.parse(r.text).details.causes.map((c: { field: string }) => c.field)).to.deep.equal(["metadata.annotations"]);
    }
    expect((await call(berth, "GET", `${G}/projects/annotated`)).status).to.equal(404);
    const fits = await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "annotated", annotations: { big: "x".repeat(250 * 1024) } }, spec: {} });
    expect(fits.status, fits.text.slice(0, 300)).to.equal(201);
  });

  it("50 TLS connections that finish the handshake and send nothing are closed by the server; a busy one is not", async () => {
    const { hostname, port } = new URL(berth.url);
    const open = (): Promise<{ closedAfterMs: Promise<number> }> =>
      new Promise((resolve, reject) => {
        const s = tls.connect({ host: hostname, port: Number(port), ca: berth.caPem, servername: "localhost" }, () => {
          const t0 = Date.now();
          resolve({ closedAfterMs: new Promise((done) => s.on("close", () => done(Date.now() - t0))) });
        });
        s.on("error", (e) => reject(e));
        s.resume();
      });
    const silent = await Promise.all(Array.from({ length: 50 }, open));
    // Meanwhile a watch (one request, then nothing for a while) stays open.
    const watch = https.request(new URL(`${G}/projects?watch=true`, berth.url), { headers: { Authorization: `Bearer ${berth.token}` }, ca: berth.caPem, agent: false });
    let watchClosed = false;
    watch.on("response", (res) => (res.resume(), res.on("close", () => (watchClosed = true))));
    watch.on("error", () => undefined);
    watch.end();
    const closed = await Promise.race([Promise.all(silent.map((c) => c.closedAfterMs)), new Promise<number[]>((r) => setTimeout(() => r([]), 8000))]);
    expect(closed, "every silent connection was closed within 8 s").to.have.length(50);
    console.log(`      50 silent connections closed after ${Math.min(...closed)}–${Math.max(...closed)} ms (first-request timeout 2 s)`);
    expect(Math.max(...closed)).to.be.below(4000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(watchClosed, "a watch that sent its request is not a silent connection").to.equal(false);
    watch.destroy();
  });

  it("past BERTH_MAX_CONNECTIONS open connections a new one is answered 429 with Retry-After; closing them frees places", async () => {
    process.env.BERTH_MAX_CONNECTIONS = "20";
    let small: TestBerth | undefined;
    try {
      small = await startTestBerth();
    } finally {
      delete process.env.BERTH_MAX_CONNECTIONS;
    }
    const srv = small;
    const { hostname, port } = new URL(srv.url);
    try {
      const held = await Promise.all(
        Array.from({ length: 20 }, () => new Promise<tls.TLSSocket>((resolve, reject) => {
          const s = tls.connect({ host: hostname, port: Number(port), ca: srv.caPem, servername: "localhost" }, () => resolve(s));
          s.on("error", reject);
        })),
      );
      const refused = await call(srv, "GET", `${G}/projects`);
      expect(refused.status, refused.text).to.equal(429);
      expect(refused.headers["retry-after"]).to.equal("1");
      expect(refused.body).to.include({ kind: "Status", reason: "TooManyRequests", code: 429 });
      for (const s of held) s.destroy();
      await new Promise((r) => setTimeout(r, 200));
      expect((await call(srv, "GET", `${G}/projects`)).status).to.equal(200);
    } finally {
      await srv.cleanup();
    }
  });

  it("failed authentications from one address are 429 with Retry-After past a burst, logged once without the token; a valid token still works", async () => {
    const wrong = "not-the-token-" + "q".repeat(30);
    const statuses: number[] = [];
    let retryAfter: string | string[] | undefined;
    for (let i = 0; i < 30; i++) {
      const r = await call(berth, "GET", `${G}/projects`, undefined, { token: wrong });
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers["retry-after"];
    }
    expect(statuses.slice(0, 20), "the burst is answered 401").to.deep.equal(Array(20).fill(401));
    expect(statuses.slice(20), "past it, 429").to.deep.equal(Array(10).fill(429));
    expect(Number(retryAfter)).to.be.within(1, 10);
    expect((await call(berth, "GET", `${G}/projects`)).status, "the admin's token is served meanwhile").to.equal(200);
    const warnings = logLines.filter((l) => l.includes("failed authentications"));
    expect(warnings, "logged once per window").to.have.length(1);
    expect(logLines.join("\n")).to.not.contain(wrong);
  });

  it("bodies in other formats than JSON and YAML are 415 and never parsed; YAML and JSON still work", async () => {
    const json = JSON.stringify({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "typed" }, spec: {} });
    for (const [url, contentType] of [
      [`${G}/projects`, "text/plain"],
      [`${G}/projects`, "application/x-www-form-urlencoded"],
      [`${G}/projects`, "multipart/form-data; boundary=x"],
      ["/berth/v1/apply", "text/plain"],
      ["/berth/v1/apply", "application/yaml"],
    ]) {
      const body = url === "/berth/v1/apply" ? JSON.stringify({ items: [JSON.parse(json)] }) : json;
      const r = await call(berth, "POST", url, body, { contentType });
      expect(r.status, `${url} as ${contentType}: ${r.text}`).to.equal(415);
    }
    expect((await call(berth, "GET", `${G}/projects/typed`)).status, "nothing was created").to.equal(404);
    const yaml = await call(berth, "POST", `${G}/projects`, "apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: typed}\nspec: {}\n", { contentType: "application/yaml" });
    expect(yaml.status, yaml.text).to.equal(201);
    const put = await call(berth, "PUT", `${G}/projects/typed`, { ...JSON.parse(yaml.text), spec: { description: "json" } }, { contentType: "application/json; charset=utf-8" });
    expect(put.status, put.text).to.equal(200);
  });

  it("a field given twice is 400 under fieldValidation=Strict naming it, a warning under Warn, as the Kubernetes API server does", async () => {
    const dup = `{"apiVersion":"berth.dev/v1alpha1","kind":"Project","metadata":{"name":"dup","labels":{"a":"1","a":"2"}},"spec":{"description":"x","description":"y"}}`;
    const strict = await call(berth, "POST", `${G}/projects?fieldValidation=Strict`, dup);
    expect(strict.status, strict.text).to.equal(400);
    expect(strict.body.message).to.equal('strict decoding error: duplicate field "metadata.labels.a", duplicate field "spec.description"');
    expect((await call(berth, "GET", `${G}/projects/dup`)).status, "nothing was created").to.equal(404);
    const warn = await call(berth, "POST", `${G}/projects?fieldValidation=Warn`, dup);
    expect(warn.status, warn.text).to.equal(201);
    expect(String(warn.headers.warning)).to.contain('duplicate field \'spec.description\'');
    expect(warn.body.spec.description, "the last one wins, as in JSON").to.equal("y");
    const patch = await call(berth, "PATCH", `${G}/projects/dup?fieldValidation=Strict`, `{"spec":{"description":"p","description":"q"}}`, { contentType: "application/merge-patch+json" });
    expect(patch.status, patch.text).to.equal(400);
    expect((await call(berth, "GET", `${G}/projects/dup`)).body.spec.description).to.equal("y");
    const ignored = await call(berth, "PATCH", `${G}/projects/dup?fieldValidation=Ignore`, `{"spec":{"description":"p","description":"q"}}`, { contentType: "application/merge-patch+json" });
    expect(ignored.status, ignored.text).to.equal(200);
    expect(ignored.headers.warning).to.equal(undefined);
  });

  it("fuzz: generated bad inputs against every route answer a 4xx Status (or 2xx), never 500; nothing stored; /healthz fast throughout", async () => {
    const NS = "fz";
    expect((await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: NS }, spec: {} })).status).to.equal(201);
    const app = { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "x", namespace: NS }, spec: { source: { image: "busybox" } } };
    expect((await call(berth, "POST", `${G}/namespaces/${NS}/applications`, app)).status).to.equal(201);
    const deep = (n: number): unknown => Array.from({ length: n }).reduce<unknown>((v) => ({ a: v }), "x");
    const bodies: [string, string][] = [
      ["empty", ""],
      ["broken JSON", '{"apiVersion":'],
      ["null", "null"],
      ["a number", "42"],
      ["a string", '"x"'],
      ["an array", "[1,2]"],
      ["deep 150", JSON.stringify({ ...app, spec: deep(150) })],
      ["NUL", JSON.stringify({ ...app, spec: { source: { image: "a\u0000b" } } })],
      ["lone surrogate", JSON.stringify(app).replace('"busybox"', '"\\ud800"')],
      ["wrong types", JSON.stringify({ ...app, metadata: { name: 5, namespace: [], labels: "x", annotations: [1], finalizers: {} }, spec: { replicas: "three", ports: {}, env: [] } })],
      ["huge number", JSON.stringify(app).replace('"spec":{', '"spec":{"replicas":1e309,')],
      ["negative, fractional", JSON.stringify({ ...app, spec: { ...app.spec, replicas: -1.5 } })],
      ["long name", JSON.stringify({ ...app, metadata: { ...app.metadata, name: "a".repeat(10_000) } })],
      ["1 MB string", JSON.stringify({ ...app, spec: { source: { image: "i".repeat(1024 * 1024) } } })],
      ["binary", "\u00ff\u00fe\u0000\u0001garbage"],
      ["json patch garbage", '[{"op":"explode","path":"/x"},{"op":"add","path":7}]'],
    ];
    const item = `${G}/namespaces/${NS}/applications/x`;
    const targets: [string, string, string?][] = [
      ["POST", `${G}/projects`],
      ["POST", `${G}/namespaces/${NS}/applications`],
      ["POST", `${G}/namespaces/${NS}/databases`],
      ["POST", `${G}/namespaces/${NS}/domains`],
      ["PUT", item],
      ["PUT", `${item}/status`],
      ["PATCH", item, "application/merge-patch+json"],
      ["PATCH", item, "application/json-patch+json"],
      ["PATCH", `${item}?fieldManager=f`, "application/apply-patch+yaml"],
      ["PATCH", `${item}/status`, "application/merge-patch+json"],
      ["DELETE", `${G}/namespaces/${NS}/applications/nothing-here`],
      ["POST", "/berth/v1/apply"],
      ["POST", `/berth/v1/namespaces/${NS}/applications/x/rollback`],
      ["POST", `/berth/v1/namespaces/${NS}/databases/x/backups`],
      ["POST", `/berth/v1/namespaces/${NS}/databases/x/restores`],
    ];
    const gets = [
      `${G}/projects?labelSelector=%3D%3D%3D`, `${G}/projects?labelSelector=a+in+(`, `${G}/projects?fieldSelector=spec.x%3D1`, `${G}/projects?fieldSelector=%3D`,
      `${G}/projects?limit=-1`, `${G}/projects?limit=abc`, `${G}/projects?resourceVersion=abc`, `${G}/projects?dryRun=x`, `${G}/projects?fieldValidation=Nope`,
      `${G}/namespaces/${"a".repeat(5000)}/applications`, `${G}/namespaces/${NS}/applications/${"%2F".repeat(50)}`, `${G}/namespaces/${NS}/unknownkind`,
      `${G}/namespaces/${NS}/applications/x/unknownsub`, "/api/v1/namespaces/%E0%A4%A", "/api/v1/events?fieldSelector=involvedObject.name%3D%00",
      "/api/v1/events?fieldSelector=bogus%3Dx", `/berth/v1/namespaces/${NS}/applications/x/deployments`, `/berth/v1/namespaces/${NS}/applications/x/logs?tailLines=abc`,
      `/berth/v1/namespaces/${NS}/applications/x/logs?sinceSeconds=-1`, `/berth/v1/namespaces/${NS}/databases/x/credentials`, `/berth/v1/namespaces/${NS}/databases/x/backups`,
      "/openapi/v3/nothing", "/apis/nothing/v1", `/apis/berth.dev/v9/projects`, "/..%2F..%2Fetc/passwd", "/apis//berth.dev//v1alpha1//projects",
    ];
    // Status is anyone's with access to the subresource, as in Kubernetes; the spec must not move.
    const specOf = async (): Promise<unknown> => JSON.parse((await call(berth, "GET", `${G}/namespaces/${NS}/applications/x`)).text).spec;
    const before = await specOf();
    const projectsBefore = JSON.parse((await call(berth, "GET", `${G}/projects`)).text).items.length;
    const failures: string[] = [];
    let slowestHealthz = 0;
    const probe = async (): Promise<void> => {
      const t0 = performance.now();
      expect((await call(berth, "GET", "/healthz")).status).to.equal(200);
      slowestHealthz = Math.max(slowestHealthz, performance.now() - t0);
    };
    const check = (what: string, r: { status: number; text: string }): void => {
      if (r.status >= 500) failures.push(`${what} → ${r.status} ${r.text.slice(0, 160)}`);
      else if (r.status >= 400 && JSON.parse(r.text).kind !== "Status") failures.push(`${what} → ${r.status} without a Status`);
    };
    let requests = 0;
    for (const [method, url, contentType] of targets) {
      for (const [name, body] of bodies) {
        check(`${method} ${url} [${name}]`, await call(berth, method, url, body, { contentType: contentType ?? "application/json" }));
        requests++;
      }
      await probe();
    }
    for (const url of gets) {
      check(`GET ${url.slice(0, 120)}`, await call(berth, "GET", url));
      requests++;
    }
    await probe();
    console.log(`      ${requests} requests, ${failures.length} answered 5xx or without a Status; slowest /healthz between batches ${slowestHealthz.toFixed(1)} ms`);
    expect(failures, failures.join("\n")).to.deep.equal([]);
    expect(await specOf(), "the spec of x is unchanged").to.deep.equal(before);
    expect(JSON.parse((await call(berth, "GET", `${G}/projects`)).text).items.length, "no Project created").to.equal(projectsBefore);
    expect(slowestHealthz).to.be.below(50);
    for (const [spec, field] of [
      [{ source: { image: "busybox" }, replicas: 101 }, "spec.replicas"],
      [{ source: { image: "i".repeat(70 * 1024) } }, "spec.source.image"],
      [{ source: { image: "busybox" }, args: Array(1001).fill("a") }, "spec.args"],
    ] as [Record<string, unknown>, string][]) {
      const r = await call(berth, "POST", `${G}/namespaces/${NS}/applications`, { ...app, metadata: { name: "bounded", namespace: NS }, spec });
      expect(r.status, r.text.slice(0, 200)).to.equal(422);
      expect(JSON.parse(r.text).details.causes.map((c: { field: string }) => c.field)).to.include(field);
    }
  });

  it("one address may hold 256 open watches; the 257th is 429 with Retry-After, and closing one frees a place", async () => {
    const openWatch = (): Promise<{ status: number; retryAfter?: string; close: () => void }> =>
      new Promise((resolve, reject) => {
        const req = https.request(new URL(`${G}/projects?watch=true`, berth.url), { headers: { Authorization: `Bearer ${berth.token}` }, ca: berth.caPem, agent: false }, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] as string | undefined, close: () => req.destroy() });
        });
        req.on("error", (e) => (e.message.includes("socket hang up") ? undefined : reject(e)));
        req.end();
      });
    const open: { status: number; close: () => void }[] = [];
    try {
      for (let i = 0; i < 8; i++) open.push(...(await Promise.all(Array.from({ length: 32 }, openWatch))));
      expect(open.map((w) => w.status)).to.deep.equal(Array(256).fill(200));
      const refused = await openWatch();
      expect(refused.status).to.equal(429);
      expect(refused.retryAfter).to.equal("1");
      open.pop()!.close();
      let again = await openWatch();
      for (let i = 0; i < 20 && again.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
        again = await openWatch();
      }
      expect(again.status, "a closed watch frees its place").to.equal(200);
      open.push(again);
    } finally {
      for (const w of open) w.close();
    }
  });

  it("kubectl shows the refusals as a user meets them: the field of a bad finalizer, a NUL, a too-deep body; the store is unchanged", async () => {
    // Asynchronous: the server runs in this process and must answer while kubectl waits.
    const kubectl = (args: string[]): Promise<{ status: number | null; out: string }> =>
      new Promise((resolve) => {
        execFile("kubectl", ["--kubeconfig", berth.kubeconfigPath, ...args], { timeout: 30_000 }, (err, stdout, stderr) => resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }));
      });
    const file = (name: string, doc: unknown): string => {
      const f = path.join(berth.dataDir, name);
      writeFileSync(f, JSON.stringify(doc));
      return f;
    };
    const project = (name: string, extra: Record<string, unknown>): unknown => ({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name, ...extra }, spec: {} });
    const fin = await kubectl(["apply", "-f", file("fin.json", project("kc-fin", { finalizers: ["a b"] }))]);
    expect(fin.status, fin.out).to.not.equal(0);
    expect(fin.out).to.contain("metadata.finalizers[0]");
    const nul = await kubectl(["apply", "-f", file("nul.json", project("kc-nul", { annotations: { note: "a\u0000b" } }))]);
    expect(nul.status, nul.out).to.not.equal(0);
    expect(nul.out).to.match(/metadata\.annotations\.note.*NUL/);
    let deep: unknown = "x";
    for (let i = 0; i < 150; i++) deep = { a: deep };
    const tooDeep = await kubectl(["create", "--validate=false", "-f", file("deep.json", { ...(project("kc-deep", {}) as object), status: deep })]);
    expect(tooDeep.status, tooDeep.out).to.not.equal(0);
    expect(tooDeep.out).to.contain("nests deeper than 100 levels");
    const raw = await kubectl(["get", "--raw", `${G}/projects?watch=true&resourceVersion=1.5`]);
    expect(raw.status, raw.out).to.not.equal(0);
    expect(raw.out).to.contain("a resource version is a whole number");
    const left = await kubectl(["get", "projects", "-o", "name"]);
    expect(left.out).to.not.match(/kc-(fin|nul|deep)/);
  });
});

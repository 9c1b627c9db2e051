/**
 * The web dashboard (issue 19, docs/ui.md) in a real browser: Debian's chromium driven by
 * playwright-core against an API-only Berth (no Docker). The built dashboard (dist/ui) comes
 * from `npm run build`, as `npm ci` and `npm test` make it.
 */
import { expect } from "chai";
import { existsSync, readFileSync } from "node:fs";
import https from "node:https";
import { Socket } from "node:net";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { call, REPO, startTestBerth } from "./helpers/berth.js";
import { missingPrerequisite } from "./helpers/prerequisites.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;

const G = "/apis/berth.dev/v1alpha1";
const PASSWORD = "Corr3ct-horse";
const UI_DIR = path.join(REPO, "dist", "ui");
const project = (name: string, team?: string) => ({ apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name }, spec: team ? { team } : {} });
const app = (ns: string, name: string) => ({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace: ns }, spec: { source: { image: "busybox:1" }, replicas: 1 } });

function chromiumPath(): string | undefined {
  return [process.env.BERTH_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p): p is string => !!p && existsSync(p));
}

/** Every request the page makes, to check that no other origin is ever contacted. */
const cspViolations: string[] = [];

function recordRequests(page: Page, origins: Set<string>): void {
  page.on("console", (m) => void (/Content Security Policy/i.test(m.text()) && cspViolations.push(m.text())));
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.protocol !== "data:" && u.protocol !== "blob:") origins.add(u.origin);
  });
}

/** Destroys the server side of every connection to this port in this process (the watches' too). */
function cutServerConnections(port: number): void {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  for (const h of handles) if (h instanceof Socket && h.localPort === port) h.destroy();
}

describe("web dashboard (/ui/) in a real browser", function () {
  this.timeout(120_000);
  let berth: TestBerth;
  let browser: Browser;
  const origins = new Set<string>();

  before(async function () {
    const exe = chromiumPath();
    if (!exe) missingPrerequisite(this, "no chromium browser (apt-get install chromium; scripts/install-system-deps.sh installs it)");
    if (!existsSync(path.join(UI_DIR, "index.html"))) throw new Error("dist/ui is not built: run `npm run build` first");
    berth = await startTestBerth();
    browser = await chromium.launch({ executablePath: exe, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
    const admin = (method: string, p: string, body?: unknown) => call(berth, method, p, body);
    expect((await admin("POST", "/berth/v1/users", { username: "vera", email: "vera@example.test", password: PASSWORD, role: "viewer" })).status).to.equal(201);
    expect((await admin("POST", "/berth/v1/users", { username: "dora", email: "dora@example.test", password: PASSWORD, role: "developer" })).status).to.equal(201);
    expect((await admin("POST", "/berth/v1/teams", { name: "shop-team", owner: "dora" })).status).to.equal(201);
    expect((await admin("POST", "/berth/v1/teams/shop-team/members", { user: "vera", role: "viewer" })).status).to.equal(200);
    expect((await admin("POST", `${G}/projects`, project("shop", "shop-team"))).status).to.equal(201);
    expect((await admin("POST", `${G}/namespaces/shop/applications`, app("shop", "web"))).status).to.equal(201);
  });

  after(async () => {
    await browser?.close();
    await berth?.cleanup();
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    recordRequests(page, origins);
    return { context, page };
  }

  async function loginWithPassword(page: Page, username: string): Promise<void> {
    await page.goto(`${berth.url}/ui/`);
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByTestId("who").waitFor();
  }

  it("serves /ui/ with a strict Content-Security-Policy and cache headers; unknown users get the login page", async () => {
    const index = await call(berth, "GET", "/ui/", undefined, { token: null, accept: "text/html" });
    expect(index.status).to.equal(200);
    const csp = String(index.headers["content-security-policy"]);
    expect(csp).to.include("default-src 'none'").and.include("script-src 'self'").and.include("connect-src 'self'").and.include("frame-ancestors 'none'");
    expect(csp).to.not.include("unsafe-inline").and.not.include("unsafe-eval").and.not.include("http");
    expect(index.headers["cache-control"]).to.equal("no-cache");
    expect(index.headers["x-content-type-options"]).to.equal("nosniff");
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(index.text)![1];
    const asset = await call(berth, "GET", script, undefined, { token: null, accept: "*/*" });
    expect(asset.status).to.equal(200);
    expect(asset.headers["content-type"]).to.match(/^text\/javascript/);
    expect(asset.headers["cache-control"]).to.include("immutable");
    expect((await call(berth, "GET", "/ui/assets/nope.js", undefined, { token: null })).status).to.equal(404);
    expect((await call(berth, "GET", "/ui/session", undefined, { token: null })).status).to.equal(401);
    expect((await call(berth, "POST", "/ui/session", { token: "not-a-token" }, { token: null })).status).to.equal(401);
  });

  it("logs in with a pasted token (HttpOnly, Secure, SameSite=Strict cookie) and shows an applied object live, without a reload", async () => {
    const { context, page } = await newPage();
    await page.goto(`${berth.url}/ui/`);
    await page.getByLabel("or API token").fill(berth.token);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByTestId("who").waitFor();
    expect(await page.getByTestId("who").textContent()).to.equal("admin (super_admin)");
    const session = (await context.cookies()).find((c) => c.name === "berth_session")!;
    expect(session, "session cookie").to.exist;
    expect(session.httpOnly).to.equal(true);
    expect(session.secure).to.equal(true);
    expect(session.sameSite).to.equal("Strict");
    expect(await page.evaluate(() => document.cookie)).to.not.include("berth_session");
    await page.getByTestId("tile-shop").waitFor();
    // A page load would drop this (hash routes between screens are no loads).
    await page.evaluate("window.berthTestMarker = 42");
    expect((await call(berth, "POST", `${G}/projects`, project("blog"))).status).to.equal(201);
    await page.getByTestId("tile-blog").waitFor({ timeout: 10_000 });
    expect((await call(berth, "POST", `${G}/namespaces/blog/databases`, { apiVersion: "berth.dev/v1alpha1", kind: "Database", metadata: { name: "db", namespace: "blog" }, spec: { engine: "postgres", version: "16" } })).status).to.be.oneOf([201, 422]);
    // The Project screen, then an object applied while it is open.
    await page.getByRole("link", { name: "blog" }).click();
    await page.getByRole("heading", { name: "Project blog" }).waitFor();
    expect((await call(berth, "POST", `${G}/namespaces/blog/applications`, app("blog", "api"))).status).to.equal(201);
    await page.getByTestId("row-applications-api").waitFor({ timeout: 10_000 });
    expect(await page.evaluate("window.berthTestMarker"), "no page load after the first").to.equal(42);
    // The Object screen: the spec as YAML, and an admin's write buttons work through the API.
    await page.getByRole("link", { name: "api" }).click();
    await page.getByTestId("spec").waitFor();
    expect(await page.getByTestId("spec").textContent()).to.include("image: busybox:1");
    await page.getByTestId("restart").click();
    await page.getByText("done").waitFor();
    const restarted = await call(berth, "GET", `${G}/namespaces/blog/applications/api`);
    expect(restarted.body.metadata.annotations?.["berth.dev/restarted-at"]).to.be.a("string");
    await page.getByTestId("suspend").click();
    await page.getByTestId("resume").waitFor({ timeout: 10_000 });
    expect((await call(berth, "GET", `${G}/namespaces/blog/applications/api`)).body.spec.suspend).to.equal(true);
    await context.close();
  });

  it("a viewer sees no write buttons, and a forged write with the viewer's cookie is refused 403", async () => {
    const { context, page } = await newPage();
    await loginWithPassword(page, "vera");
    expect(await page.getByTestId("who").textContent()).to.equal("vera (viewer)");
    await page.getByTestId("tile-shop").waitFor();
    expect(await page.getByTestId("tile-blog").count(), "another Project is invisible").to.equal(0);
    const reviewed = page.waitForResponse((r) => r.url().includes("/selfsubjectaccessreviews"));
    await page.goto(`${berth.url}/ui/#/o/shop/applications/web`);
    await page.getByTestId("spec").waitFor();
    // The buttons wait for the API's answer to "may I patch applications in shop?".
    expect(await (await reviewed).json()).to.have.nested.property("status.allowed", false);
    await page.waitForTimeout(100);
    expect(await page.getByRole("button", { name: "Restart" }).count()).to.equal(0);
    expect(await page.getByRole("button", { name: "Suspend" }).count()).to.equal(0);
    expect(await page.getByRole("link", { name: "Audit" }).count()).to.equal(0);
    // A write forged in the page, with the viewer's cookie and a correct CSRF token: the API refuses it.
    const forged = await page.evaluate(async () => {
      const csrf = decodeURIComponent(/berth_csrf=([^;]*)/.exec(document.cookie)![1]);
      const r = await fetch("/apis/berth.dev/v1alpha1/namespaces/shop/applications/web", { method: "PATCH", headers: { "Content-Type": "application/merge-patch+json", "X-Berth-CSRF": csrf }, body: JSON.stringify({ spec: { replicas: 5 } }) });
      return { status: r.status, body: await r.text() };
    });
    expect(forged.status, forged.body).to.equal(403);
    expect(forged.body).to.include("vera");
    expect((await call(berth, "GET", `${G}/namespaces/shop/applications/web`)).body.spec.replicas).to.equal(1);
    await context.close();
  });

  it("a state-changing request with the session cookie but without the CSRF token is refused", async () => {
    const { context, page } = await newPage();
    await loginWithPassword(page, "dora");
    // A string, not a function: tsx would add helpers to a function's source that the page lacks.
    const results: any = await page.evaluate(`(async () => {
      const patch = (headers) => fetch("/apis/berth.dev/v1alpha1/namespaces/shop/applications/web", { method: "PATCH", headers: { "Content-Type": "application/merge-patch+json", ...headers }, body: JSON.stringify({ spec: { replicas: 2 } }) }).then(async (r) => ({ status: r.status, body: await r.text() }));
      const csrf = decodeURIComponent(/berth_csrf=([^;]*)/.exec(document.cookie)[1]);
      return { without: await patch({}), wrong: await patch({ "X-Berth-CSRF": "x".repeat(csrf.length) }), read: (await fetch("/apis/berth.dev/v1alpha1/namespaces/shop/applications/web")).status, with: await patch({ "X-Berth-CSRF": csrf }) };
    })()`);
    expect(results.without.status, results.without.body).to.equal(403);
    expect(results.without.body).to.include("CSRF");
    expect(results.wrong.status).to.equal(403);
    expect(results.read, "reads need no CSRF token").to.equal(200);
    expect(results.with.status, "the developer's own write, with the token, goes through").to.equal(200);
    // The same cookie from outside the page (as another site's form would send it): refused too.
    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    const outside = await new Promise<number>((resolve, reject) => {
      const req = https.request(new URL(`${G}/namespaces/shop/applications/web`, berth.url), { method: "DELETE", ca: berth.caPem, headers: { Cookie: cookie } }, (res) => (res.resume(), resolve(res.statusCode ?? 0)));
      req.on("error", reject);
      req.end();
    });
    expect(outside).to.equal(403);
    expect((await call(berth, "GET", `${G}/namespaces/shop/applications/web`)).status).to.equal(200);
    // Logging out clears the session and revokes the token the password login made.
    const loginToken = (await context.cookies()).find((c) => c.name === "berth_session")!.value;
    expect((await call(berth, "GET", `${G}/namespaces/shop/applications`, undefined, { token: loginToken })).status).to.equal(200);
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("button", { name: "Log in" }).waitFor();
    expect((await context.cookies()).find((c) => c.name === "berth_session")).to.equal(undefined);
    expect((await call(berth, "GET", `${G}/namespaces/shop/applications`, undefined, { token: loginToken })).status, "revoked").to.equal(401);
    await context.close();
  });

  it("another site can neither set nor clear the session (login CSRF)", async () => {
    const raw = (method: string, headers: Record<string, string>, body?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = https.request(new URL("/ui/session", berth.url), { method, ca: berth.caPem, headers: { ...headers, ...(body ? { "Content-Length": String(Buffer.byteLength(body)) } : {}) } }, (res) => (res.resume(), resolve(res.statusCode ?? 0)));
        req.on("error", reject);
        req.end(body);
      });
    const body = JSON.stringify({ token: berth.token });
    expect(await raw("POST", { "Content-Type": "application/json", Origin: "https://evil.example" }, body)).to.equal(403);
    expect(await raw("POST", { "Content-Type": "application/json", "Sec-Fetch-Site": "cross-site" }, body)).to.equal(403);
    expect(await raw("POST", { "Content-Type": "text/plain" }, body), "a plain form's body").to.equal(415);
    expect(await raw("POST", { "Content-Type": "application/json", Origin: new URL(berth.url).origin }, body)).to.equal(201);
  });

  it("Rollouts and Syncs: an admin's buttons write through the API", async () => {
    expect((await call(berth, "POST", `${G}/syncs`, { apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name: "infra" }, spec: { source: { directory: { path: "/srv/manifests" } } } })).status).to.equal(201);
    const { context, page } = await newPage();
    await page.goto(`${berth.url}/ui/`);
    await page.getByLabel("or API token").fill(berth.token);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByTestId("who").waitFor();
    await page.goto(`${berth.url}/ui/#/r/shop/web`);
    await page.getByRole("heading", { name: "Rollouts of web" }).waitFor();
    await page.getByText("No revisions yet.").waitFor();
    await page.getByTestId("restart").click();
    await page.getByText("done").waitFor();
    expect((await call(berth, "GET", `${G}/namespaces/shop/applications/web`)).body.metadata.annotations?.["berth.dev/restarted-at"]).to.be.a("string");
    await page.getByRole("link", { name: "Syncs" }).click();
    await page.getByTestId("sync-infra").waitFor();
    await page.getByTestId("sync-infra").getByRole("button", { name: "Suspend" }).click();
    await page.getByTestId("sync-infra").getByText("(suspended)").waitFor({ timeout: 10_000 });
    expect((await call(berth, "GET", `${G}/syncs/infra`)).body.spec.suspend).to.equal(true);
    await context.close();
  });

  it("a lost watch shows a banner and resumes from its resourceVersion", async () => {
    const { context, page } = await newPage();
    await loginWithPassword(page, "dora");
    // The cut below must find the watch's connection: a watch still connecting while it runs
    // survives it, and the page then never needs to watch again (a CI flake of ef62453).
    const watching = page.waitForResponse((r) => r.url().includes("/namespaces/shop/applications?") && r.url().includes("watch=true"));
    await page.goto(`${berth.url}/ui/#/p/shop`);
    await page.getByTestId("row-applications-web").waitFor();
    await watching;
    const after: string[] = [];
    page.on("request", (r) => void (r.url().includes("/namespaces/shop/applications") && after.push(r.url())));
    await context.setOffline(true);
    // Offline emulation leaves open streams alone: cut the server's side of every connection.
    cutServerConnections(Number(new URL(berth.url).port));
    await page.getByTestId("offline").waitFor({ timeout: 15_000 });
    expect((await call(berth, "POST", `${G}/namespaces/shop/applications`, app("shop", "worker"))).status).to.equal(201);
    await context.setOffline(false);
    await page.getByTestId("row-applications-worker").waitFor({ timeout: 15_000 });
    await page.getByTestId("offline").waitFor({ state: "detached", timeout: 15_000 });
    expect(after.length).to.be.above(0);
    for (const u of after) expect(new URL(u).searchParams.get("resourceVersion"), `${u}: a watch from the last version seen, no new list`).to.match(/^\d+$/);
    await context.close();
  });

  it("a session whose token is revoked meanwhile goes back to the login form on its next request", async () => {
    const { context, page } = await newPage();
    await loginWithPassword(page, "dora");
    await page.getByTestId("tile-shop").waitFor();
    const name = (await page.evaluate("localStorage.getItem('berth.loginToken')")) as string;
    const token = (await context.cookies()).find((c) => c.name === "berth_session")!.value;
    expect((await call(berth, "DELETE", `/berth/v1/tokens/${name}`, undefined, { token })).status).to.equal(200);
    cutServerConnections(Number(new URL(berth.url).port));
    await page.getByRole("button", { name: "Log in" }).waitFor({ timeout: 15_000 });
    await context.close();
  });

  it("an admin reads the audit trail, filtered", async () => {
    const { context, page } = await newPage();
    await page.goto(`${berth.url}/ui/`);
    await page.getByLabel("or API token").fill(berth.token);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("link", { name: "Audit" }).click();
    await page.getByLabel("Project").fill("blog");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("cell", { name: "create" }).first().waitFor();
    await context.close();
  });

  it("contacted no origin but Berth's", () => {
    expect([...origins]).to.deep.equal([new URL(berth.url).origin]);
    expect(cspViolations, "nothing the page loads or runs breaks its own policy").to.deep.equal([]);
  });

  it("the first screen's bundle is at most 200 kB gzipped", () => {
    const html = readFileSync(path.join(UI_DIR, "index.html"), "utf8");
    const assets = [...html.matchAll(/(?:src|href)="\/ui\/([^"]+)"/g)].map((m) => m[1]);
    expect(assets.some((a) => a.endsWith(".js"))).to.equal(true);
    const total = [html, ...assets.map((a) => readFileSync(path.join(UI_DIR, a)))].reduce((n, b) => n + gzipSync(b).length, 0);
    expect(total).to.be.below(200 * 1024);
  });
});

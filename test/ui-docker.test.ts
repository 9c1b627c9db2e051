/**
 * The dashboard (issue 19) against a Berth that runs containers: a Project tile follows drift
 * and its repair live, a rollout's revision and log appear as it happens, undo changes the live
 * revision. It also takes the screenshots of every screen in docs/ui/ (linked from the README).
 * Real Docker engine, Debian's chromium through playwright-core.
 */
import { expect } from "chai";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { call, REPO, startTestBerth } from "./helpers/berth.js";
import { BUSYBOX_IMAGE, cleanupProject, docker, ensureBusyboxImage, requireDocker, waitFor } from "./helpers/docker.js";
import { missingPrerequisite } from "./helpers/prerequisites.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
// A fixed, readable name: it is in the screenshots of docs/ui/.
const P = "storefront";
const SHOTS = path.join(REPO, "docs", "ui");

function chromiumPath(): string | undefined {
  return [process.env.BERTH_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p): p is string => !!p && existsSync(p));
}

const web = (greeting: string): Record<string, unknown> => ({
  apiVersion: "berth.dev/v1alpha1",
  kind: "Application",
  metadata: { name: "web", namespace: P },
  spec: {
    source: { image: BUSYBOX_IMAGE },
    replicas: 2,
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/health && exec httpd -f -p 8080 -h /www"],
    env: { GREETING: greeting },
    ports: [{ containerPort: 8080 }],
    healthcheck: { http: { path: "/health", port: 8080 }, interval: "1s", timeout: "2s", retries: 3 },
    stopGracePeriod: "1s",
  },
});

describe("web dashboard on a real Docker engine: live drift, rollouts, undo; screenshots", function () {
  this.timeout(240_000);
  let berth: TestBerth;
  let browser: Browser;
  let page: Page;

  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  };

  before(async function () {
    await cleanupProject(P).catch(() => undefined);
    const exe = chromiumPath();
    if (!exe) missingPrerequisite(this, "no chromium browser (apt-get install chromium; scripts/install-system-deps.sh installs it)");
    await requireDocker(this);
    await ensureBusyboxImage();
    mkdirSync(SHOTS, { recursive: true });
    berth = await startTestBerth({ controllers: true, resyncMs: 3000 });
    expect((await call(berth, "POST", `${G}/projects`, { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: P }, spec: {} })).status).to.equal(201);
    expect((await call(berth, "POST", `${G}/namespaces/${P}/applications`, web("one"))).status).to.equal(201);
    browser = await chromium.launch({ executablePath: exe, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1200, height: 800 } });
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await berth?.cleanup();
    await cleanupProject(P).catch(() => undefined);
  });

  it("log in; the Project tile shows a replica removed with docker rm -f and then repaired, without a reload", async () => {
    await page.goto(`${berth.url}/ui/`);
    await page.getByLabel("or API token").waitFor();
    await shot("login");
    await page.getByLabel("or API token").fill(berth.token);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByTestId("who").waitFor();
    const tile = page.getByTestId(`replicas-${P}`);
    await tile.getByText("2/2 replicas ready").waitFor({ timeout: 90_000 });
    await shot("projects");
    // Every text the tile shows from now on, as the browser renders it.
    await page.evaluate((id) => {
      const el = document.querySelector(`[data-testid="${id}"]`)!;
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => seen.push(el.textContent ?? "")).observe(el, { characterData: true, childList: true, subtree: true });
    }, `replicas-${P}`);
    const loads = await page.evaluate(() => performance.getEntriesByType("navigation").length);
    await docker.getContainer(`${P}-web-0`).remove({ force: true });
    await waitFor("the tile showed fewer than 2 ready", async () => ((await page.evaluate(() => (window as unknown as { seen: string[] }).seen)) as string[]).some((t) => /^[01]\/2/.test(t)), 30_000, 100);
    await tile.getByText("2/2 replicas ready").waitFor({ timeout: 60_000 });
    const seen = (await page.evaluate(() => (window as unknown as { seen: string[] }).seen)) as string[];
    expect(seen[seen.length - 1]).to.equal("2/2 replicas ready");
    expect(await page.evaluate(() => performance.getEntriesByType("navigation").length), "no reload").to.equal(loads);
  });

  it("the Project and Application screens", async () => {
    await page.goto(`${berth.url}/ui/#/p/${P}`);
    await page.getByRole("heading", { name: P }).first().waitFor();
    await page.getByText("web").first().waitFor();
    await shot("project");
    await page.goto(`${berth.url}/ui/#/o/${P}/applications/web`);
    await page.getByTestId("spec").waitFor();
    await shot("application");
  });

  it("a rollout appears on the Rollouts screen as it happens, with its log; Undo makes the earlier revision live again", async () => {
    await page.goto(`${berth.url}/ui/#/r/${P}/web`);
    await page.getByRole("heading", { name: "Rollouts of web" }).waitFor();
    const first = page.getByTestId("revision-1");
    await first.getByText("live").waitFor({ timeout: 30_000 });
    const hash1 = ((await call(berth, "GET", `/berth/v1/namespaces/${P}/applications/web/deployments`)).body.currentConfigHash as string).slice(0, 12);
    expect(await first.textContent()).to.contain(hash1);

    const r = await call(berth, "PATCH", `${G}/namespaces/${P}/applications/web`, { spec: { env: { GREETING: "two" } } }, { contentType: "application/merge-patch+json" });
    expect(r.status, r.text).to.equal(200);
    const second = page.getByTestId("revision-2");
    await second.waitFor({ timeout: 30_000 });
    await second.getByText("live").waitFor({ timeout: 90_000 });
    await second.getByText(/Deployment log \(\d+ lines\)/).waitFor();
    await second.locator(".badge", { hasText: "success" }).waitFor({ timeout: 90_000 });
    await shot("rollouts");

    await page.getByTestId("undo").click();
    // Undo writes revision 1's spec back: whichever revision now carries its config is live.
    await waitFor("revision 1's config live again", async () => {
      const live = page.locator("li[data-testid^=revision-]", { has: page.locator("strong.live") });
      // Revision 1 and the one undo writes carry the same config: both are marked live, revision 2 not.
      const texts = await live.allTextContents();
      return texts.length > 0 && texts.every((t) => t.includes(hash1)) && (await second.locator("strong.live").count()) === 0;
    }, 90_000, 250).catch(async (e: Error) => {
      const d = (await call(berth, "GET", `/berth/v1/namespaces/${P}/applications/web/deployments`)).body;
      throw new Error(`${e.message}; revision 1 config ${hash1}; API: current ${d.currentConfigHash}, ${JSON.stringify(d.items.map((x: any) => [x.revision, x.status, x.configHash.slice(0, 12)]))}; page: ${await page.locator("ol.revisions").textContent()}`);
    });
    const app = (await call(berth, "GET", `${G}/namespaces/${P}/applications/web`)).body;
    expect(app.spec.env.GREETING).to.equal("one");
  });

  it("the Syncs and Audit screens", async () => {
    expect((await call(berth, "POST", `${G}/syncs`, { apiVersion: "berth.dev/v1alpha1", kind: "Sync", metadata: { name: "infra" }, spec: { source: { directory: { path: "/srv/manifests" } } } })).status).to.equal(201);
    await page.goto(`${berth.url}/ui/#/syncs`);
    await page.getByTestId("sync-infra").waitFor();
    await shot("syncs");
    await page.goto(`${berth.url}/ui/#/audit`);
    await page.getByRole("heading", { name: /Audit/ }).waitFor();
    await page.locator("tbody tr").first().waitFor();
    await shot("audit");
  });
});

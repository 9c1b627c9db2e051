/**
 * `berth seal` (issue 15): a plain value from stdin → the sealed string a read of that object
 * shows for that field. Kept in git and applied, it opens to the value (a webhook signed with
 * the plain secret is accepted); on another object it is refused.
 */
import { expect } from "chai";
import { createHmac } from "node:crypto";
import { call, runBerth, startTestBerth } from "./helpers/berth.js";
import { deliver } from "./helpers/webhook.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;
const G = "/apis/berth.dev/v1alpha1";
const SECRET = "webhook-plain-3c7e1f0b9a";

describe("berth seal: secrets for manifests kept in git", function () {
  this.timeout(60_000);
  let berth: TestBerth;
  const seal = (args: string[], stdin: string) => runBerth(["seal", ...args], { kubeconfig: berth.kubeconfigPath, stdin });
  const syncManifest = (name: string, secret: string): string =>
    `apiVersion: berth.dev/v1alpha1\nkind: Sync\nmetadata:\n  name: ${name}\nspec:\n  source:\n    directory: {path: /nonexistent}\n  suspend: true\n  webhook:\n    secret: "${secret}"\n`;

  before(async () => {
    berth = await startTestBerth();
  });
  after(async () => berth?.cleanup());

  it("seals from stdin; applied from a manifest it opens to the value: a delivery signed with the plain secret is accepted", async () => {
    const r = await seal(["sync/hooky", "--field", "spec.webhook.secret"], `${SECRET}\n`);
    expect(r.code, r.stderr).to.equal(0);
    const sealed = r.stdout.trim();
    expect(sealed).to.match(/^sealed:v1:[A-Za-z0-9_-]+$/);
    expect(r.stdout + r.stderr).to.not.contain(SECRET);
    const applied = await runBerth(["apply", "-f", "-"], { kubeconfig: berth.kubeconfigPath, stdin: syncManifest("hooky", sealed) });
    expect(applied.code, applied.stderr).to.equal(0);
    const body = JSON.stringify({ ref: "refs/heads/main" });
    const ok = await deliver(berth, "hooky", body, { "X-Hub-Signature-256": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` });
    expect(ok.status, ok.text).to.equal(202);
    const got = (await call(berth, "GET", `${G}/syncs/hooky`)).body;
    expect(JSON.stringify(got)).to.not.contain(SECRET);
  });

  it("the sealed string of one object is refused on another (it is bound to kind, Project, object and field)", async () => {
    const r = await seal(["sync/hooky", "--field", "spec.webhook.secret"], SECRET);
    const moved = await runBerth(["apply", "-f", "-"], { kubeconfig: berth.kubeconfigPath, stdin: syncManifest("other", r.stdout.trim()) });
    expect(moved.code).to.not.equal(0);
    expect(moved.stderr).to.match(/spec\.webhook\.secret/);
    expect((await call(berth, "GET", `${G}/syncs/other`)).status, "nothing stored").to.equal(404);
  });

  it("an Application's secretEnv key with -n and --key; clear errors for a field that is no secret, a missing Project, an empty stdin", async () => {
    const app = await seal(["-n", "shop", "application/web", "--key", "API_TOKEN"], "t0ken-value");
    expect(app.code, app.stderr).to.equal(0);
    expect(app.stdout.trim()).to.match(/^sealed:v1:/);
    const field = await seal(["-n", "shop", "application/web", "--field", "spec.env.X"], "v");
    expect(field.code).to.equal(1);
    expect(field.stderr).to.contain("spec.secretEnv.<KEY>");
    const noNs = await seal(["application/web", "--key", "K"], "v");
    expect(noNs.code).to.equal(1);
    expect(noNs.stderr).to.contain("-n PROJECT");
    const empty = await seal(["sync/hooky", "--field", "spec.webhook.secret"], "");
    expect(empty.code).to.equal(1);
    expect(empty.stderr).to.contain("stdin");
  });
});

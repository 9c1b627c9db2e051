import { expect } from "chai";
import { createHmac } from "node:crypto";
import { pushConcerns, pushedRef } from "../../src/api/git-webhook.js";
import { verifyWebhookSignature } from "../../src/api/webhook-signature.js";
import { statusRequest, statusTargetOf } from "../../src/runtime/commit-status.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";

describe("git webhooks and commit status: pure parts", () => {
  it("Bitbucket's X-Hub-Signature (sha256=HMAC) verifies; a wrong one does not", () => {
    const body = Buffer.from('{"push":{}}');
    const good = `sha256=${createHmac("sha256", "s3cret").update(body).digest("hex")}`;
    expect(verifyWebhookSignature({ "x-hub-signature": good }, body, "s3cret")).to.equal("bitbucket");
    expect(verifyWebhookSignature({ "x-hub-signature": good }, body, "other")).to.equal(undefined);
  });

  it("what each provider's push payload says was pushed", () => {
    expect(pushedRef("github", { ref: "refs/heads/main", after: SHA, repository: { default_branch: "main" } })).to.deep.equal({ ref: "refs/heads/main", defaultBranch: "main", after: SHA });
    expect(pushedRef("gitlab", { ref: "refs/heads/dev", after: SHA, project: { default_branch: "main" } })).to.deep.equal({ ref: "refs/heads/dev", defaultBranch: "main", after: SHA });
    expect(pushedRef("bitbucket", { push: { changes: [{ new: { type: "branch", name: "main", target: { hash: SHA } } }] } })).to.deep.equal({ ref: "refs/heads/main", after: SHA });
    expect(pushedRef("bitbucket", { push: { changes: [{ new: { type: "tag", name: "v1" } }] } })).to.deep.equal({ ref: "refs/tags/v1" });
  });

  it("a push concerns the followed branch, tag, or (none set) the default branch only", () => {
    expect(pushConcerns({ ref: "refs/heads/main" }, { branch: "main" })).to.equal(true);
    expect(pushConcerns({ ref: "refs/heads/feature" }, { branch: "main" })).to.equal(false);
    expect(pushConcerns({ ref: "refs/tags/v2" }, { tag: "v2" })).to.equal(true);
    expect(pushConcerns({ ref: "refs/heads/v2" }, { tag: "v2" })).to.equal(false);
    expect(pushConcerns({ ref: "refs/heads/trunk", defaultBranch: "trunk" }, {})).to.equal(true);
    expect(pushConcerns({ ref: "refs/heads/other", defaultBranch: "trunk" }, {})).to.equal(false);
  });

  it("status requests as GitHub's and GitLab's APIs take them; the token only in a header", () => {
    const gh = statusRequest({ provider: "github", apiUrl: "https://api.github.com/", repository: "acme/api", token: "t0k", context: "berth/shop/api", targetUrl: "https://berth.example" }, SHA, "pending", "building");
    expect(gh).to.deep.equal({
      method: "POST",
      url: `https://api.github.com/repos/acme/api/statuses/${SHA}`,
      headers: { authorization: "Bearer t0k", accept: "application/vnd.github+json", "content-type": "application/json", "user-agent": "berth" },
      body: { state: "pending", context: "berth/shop/api", description: "building", target_url: "https://berth.example" },
    });
    const gl = statusRequest({ provider: "gitlab", apiUrl: "https://gitlab.example/api/v4", repository: "group/sub/api", token: "t0k", context: "berth/shop/api" }, SHA, "failure", "build failed");
    expect(gl.url).to.equal(`https://gitlab.example/api/v4/projects/group%2Fsub%2Fapi/statuses/${SHA}`);
    expect(gl.headers["private-token"]).to.equal("t0k");
    expect(gl.body).to.deep.equal({ state: "failed", name: "berth/shop/api", description: "build failed" });
    expect(JSON.stringify([gh.url, gh.body, gl.url, gl.body])).to.not.contain("t0k");
  });

  it("where statuses go, from the repository URL and spec", () => {
    expect(statusTargetOf("https://github.com/acme/api.git", {})).to.deep.equal({ provider: "github", apiUrl: "https://api.github.com", repository: "acme/api" });
    expect(statusTargetOf("https://gitlab.example.com/g/api", { provider: "gitlab" })).to.deep.equal({ provider: "gitlab", apiUrl: "https://gitlab.example.com/api/v4", repository: "g/api" });
    expect(statusTargetOf("https://gitea.example/acme/api", {})).to.equal(undefined);
    expect(statusTargetOf("git://127.0.0.1:9418/infra.git", { provider: "github", apiUrl: "https://api.github.test" })?.repository).to.equal("infra");
  });
});

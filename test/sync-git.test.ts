/**
 * The Sync fetcher against real git (issue 15): a bare repository on local disk made by the
 * test, pushed to from a work clone, fetched shallowly with the git binary into a cache.
 */
import { expect } from "chai";
import { mkdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fetchRevision, GitError } from "../src/runtime/git-fetch.js";
import { removeDir, tempDir } from "./helpers/berth.js";
import { git, serveGitHttp } from "./helpers/git.js";


describe("Sync fetcher: the git binary against a bare repository on disk", function () {
  this.timeout(30_000);
  let work: string;
  let bare: string;
  let clone: string;
  let cache: string;
  const url = (): string => `file://${bare}`;
  const commit = async (files: Record<string, string | null>, message: string): Promise<string> => {
    for (const [f, text] of Object.entries(files)) {
      const p = path.join(clone, f);
      if (text === null) rmSync(p);
      else {
        mkdirSync(path.dirname(p), { recursive: true });
        writeFileSync(p, text);
      }
    }
    await git(["add", "-A"], clone);
    await git(["commit", "-q", "-m", message], clone);
    await git(["push", "-q", "origin", "HEAD:main"], clone);
    return (await git(["rev-parse", "HEAD"], clone)).trim();
  };

  before(async () => {
    work = tempDir("berth-sync-git-");
    bare = path.join(work, "infra.git");
    clone = path.join(work, "clone");
    cache = path.join(work, "cache");
    await git(["init", "--bare", "-q", "-b", "main", bare], work);
    await git(["clone", "-q", bare, clone], work);
    await git(["checkout", "-q", "-b", "main"], clone);
  });

  after(() => removeDir(work));

  it("a commit → its sha and the .yaml/.yml files under path, nothing else", async () => {
    const sha = await commit({ "prod/a.yaml": "kind: Project\n", "prod/sub/b.yml": "kind: Project\n", "prod/README.md": "no", "other/c.yaml": "x: 1\n" }, "first");
    const got = await fetchRevision({ url: url(), branch: "main", path: "prod" }, cache);
    expect(got.revision).to.equal(sha);
    expect(got.files.map((f) => f.file)).to.deep.equal(["prod/a.yaml", "prod/sub/b.yml"]);
    expect(got.files[0].text).to.equal("kind: Project\n");
  });

  it("a change and a removed file show in the next fetch into the same cache", async () => {
    const sha = await commit({ "prod/a.yaml": "kind: Project\nmetadata: {name: a}\n", "prod/sub/b.yml": null }, "second");
    const got = await fetchRevision({ url: url(), branch: "main", path: "prod/" }, cache);
    expect(got.revision).to.equal(sha);
    expect(got.files).to.deep.equal([{ file: "prod/a.yaml", text: "kind: Project\nmetadata: {name: a}\n" }]);
  });

  it("a missing branch is a GitError with git's words and no credentials from the URL", async () => {
    const err = await fetchRevision({ url: `file://user:hunter2@localhost${bare}`, branch: "nope" }, cache).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(GitError);
    expect(String((err as Error).message)).to.not.contain("hunter2");
    const missing = await fetchRevision({ url: url(), branch: "nope" }, cache).then(() => undefined, (e: unknown) => e as Error);
    expect(missing?.message).to.match(/nope|couldn't find remote ref/i);
  });

  it("an HTTPS-style remote that wants a token: fetched with spec auth.token through GIT_ASKPASS, never in argv or the URL; refused without it, the token in no error", async () => {
    const TOKEN = "tok-5f1c2a9e77d04b3b";
    const served = await serveGitHttp(work, TOKEN);
    try {
      const sha = await commit({ "prod/auth.yaml": "kind: Project\n" }, "over http");
      const got = await fetchRevision({ url: served.url, branch: "main", path: "prod" }, path.join(work, "cache-http"), 30_000, { token: TOKEN });
      expect(got.revision).to.equal(sha);
      expect(served.users, "git answered the server's Basic challenge").to.include("x-access-token");
      const config = readFileSync(path.join(work, "cache-http", "config"), "utf8");
      expect(config).to.not.contain(TOKEN);
      expect(readFileSync(path.join(work, "berth-askpass.sh"), "utf8"), "the askpass program holds no secret").to.not.contain(TOKEN);
      const refused = await fetchRevision({ url: served.url, branch: "main" }, path.join(work, "cache-none"), 30_000).then(() => undefined, (e: unknown) => e as Error);
      expect(refused).to.be.instanceOf(GitError);
      const wrong = await fetchRevision({ url: served.url, branch: "main" }, path.join(work, "cache-wrong"), 30_000, { token: `${TOKEN}-x` }).then(() => undefined, (e: unknown) => e as Error);
      expect(wrong).to.be.instanceOf(GitError);
      expect(wrong!.message).to.not.contain(TOKEN);
    } finally {
      await served.close();
    }
  });
});

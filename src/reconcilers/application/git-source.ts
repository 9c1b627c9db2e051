import path from "node:path";
import { parse } from "yaml";
import { parseDurationMs } from "../../core/duration.js";
import { RECONCILE_REQUESTED } from "../../core/kinds.js";
import type { GitSourceSpec } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import { BuildFailure, type BuildQueue, type BuildState } from "../../controller/build-queue.js";
import type { CommitStatusReporter, ReportState } from "../../controller/commit-status-reporter.js";
import { statusTargetOf, type CommitState, type CommitStatusTarget } from "../../runtime/commit-status.js";
import { BuildError, type RuntimeDriver } from "../../runtime/driver.js";
import { fetchCommit, GitError, readAt, type GitAuth, type GitRef } from "../../runtime/git-fetch.js";
import { buildFromGit, imageTag } from "../../runtime/image-build.js";
import type { RevisionStore } from "../../store/revisions.js";
import { SecretEnvError, unsealGitSecrets, type SecretBox } from "../../store/secrets.js";
import { fail } from "../shared/failures.js";

export const DEFAULT_GIT_INTERVAL_MS = 60_000;

export interface GitDeps {
  driver: RuntimeDriver;
  builds: BuildQueue;
  reporter?: CommitStatusReporter;
  revisions: RevisionStore;
  box: SecretBox;
  /** Where the bare cache repositories live: <data>/build-cache/<uid>. */
  cacheRoot: string;
}

/** What a git-source reconcile found out: the commit to run, the image it runs, and the build. */
export interface GitObserved {
  /** The commit the ref names now (the one that should run). */
  target: string;
  /** The image this reconcile rolls out. */
  image: string;
  /** The commit of that image (target, or while holding the one deployed before). */
  running?: string;
  /** The old image keeps running while the target's build is queued, running or failed. */
  holding: boolean;
  build?: BuildState;
  report?: ReportState;
  intervalMs: number;
}

interface Resolved {
  commit: string;
  at: number;
  key: string;
}

function refOf(git: GitSourceSpec): GitRef {
  if (git.commit) return { url: git.repository, commit: git.commit };
  if (git.tag) return { url: git.repository, tag: git.tag };
  return { url: git.repository, branch: git.branch ?? "HEAD" };
}

/**
 * The git part of an Application reconcile (ADR 0018): resolve the ref (cached for the poll
 * interval; a webhook's or `berth reconcile`'s annotation or a spec change resolves again), use
 * the commit's image if it exists, else ask the build queue and keep the deployed image running
 * meanwhile. Builds and commit statuses run outside the reconcile.
 */
export class GitSource {
  private readonly resolved = new Map<string, Resolved>();
  /** uid → the Application's key, so a finished build or report can wake it. */
  private readonly keys = new Map<string, { namespace: string; name: string }>();

  constructor(private readonly d: GitDeps) {}

  /** The key of the Application with `uid`, if a reconcile of it ran here. */
  keyOf(uid: string): { namespace: string; name: string } | undefined {
    return this.keys.get(uid);
  }

  forget(uid: string): void {
    this.resolved.delete(uid);
    this.keys.delete(uid);
    this.d.builds.forget(uid);
    this.d.reporter?.forget(uid);
  }

  secrets(app: ResourceObject): string[] {
    try {
      return Object.values(unsealGitSecrets(this.d.box, app)).filter(Boolean);
    } catch {
      return [];
    }
  }

  private auth(app: ResourceObject, git: GitSourceSpec): GitAuth {
    try {
      const { token } = unsealGitSecrets(this.d.box, app);
      return token ? { token, ...(git.auth?.username ? { username: git.auth.username } : {}) } : {};
    } catch (e) {
      if (e instanceof SecretEnvError) fail("SecretUnreadable", e.message, { terminal: true });
      throw e;
    }
  }

  /** The commit the source names now: asked of the remote at most once per interval unless something asks again. */
  async resolve(app: ResourceObject, git: GitSourceSpec): Promise<string> {
    const uid = app.metadata.uid!;
    const key = `${app.metadata.generation ?? 1}:${app.metadata.annotations?.[RECONCILE_REQUESTED] ?? ""}`;
    const cached = this.resolved.get(uid);
    if (cached && cached.key === key && Date.now() - cached.at < intervalOf(git)) return cached.commit;
    try {
      // A shallow fetch of the ref, not ls-remote: one round trip that both names the commit
      // and brings it, so a build that follows needs no second one.
      const ref = refOf(git);
      const commit = ref.commit ?? (await fetchCommit(ref, this.cacheDir(uid), 60_000, this.auth(app, git)));
      this.resolved.set(uid, { commit, at: Date.now(), key });
      return commit;
    } catch (e) {
      if (e instanceof GitError) fail("GitFetchFailed", `${git.repository}: ${e.message}`, { retryAfterMs: Math.min(intervalOf(git), 30_000) });
      throw e;
    }
  }

  private cacheDir(uid: string): string {
    return path.join(this.d.cacheRoot, uid);
  }

  /** The target's image when it exists; else where its build stands (asked for when new). */
  async observe(app: ResourceObject, git: GitSourceSpec, revisionFor: (image: string, commit: string) => Promise<string>): Promise<GitObserved> {
    this.keys.set(app.metadata.uid!, { namespace: app.metadata.namespace!, name: app.metadata.name });
    const target = await this.resolve(app, git);
    const tag = imageTag(app.metadata.namespace!, app.metadata.name, target);
    const base = { target, intervalMs: intervalOf(git), report: this.d.reporter?.state(app.metadata.uid!) };
    if (await this.d.driver.imageExists(tag)) return { ...base, image: tag, running: target, holding: false };
    const retry = app.metadata.annotations?.[RECONCILE_REQUESTED];
    const job = { key: app.metadata.uid!, commit: target, retry };
    let build = this.d.builds.lookup(job);
    if (!build) {
      const revision = await revisionFor(tag, target);
      build = this.d.builds.request({ ...job, run: (signal) => this.build({ app, git, commit: target, revision }, signal) });
    }
    if (build.state === "succeeded") return { ...base, image: build.image, running: target, holding: false, build };
    const previous = await this.deployed(app);
    if (previous) return { ...base, image: previous.image, running: previous.commit, holding: true, build };
    return { ...base, image: tag, holding: true, build };
  }

  /** The image of the last commit that went live, if the engine still has it. */
  private async deployed(app: ResourceObject): Promise<{ image: string; commit?: string } | undefined> {
    const s = (app.status ?? {}) as { image?: string; commit?: string };
    if (!s.image || !(await this.d.driver.imageExists(s.image))) return undefined;
    return { image: s.image, commit: s.commit };
  }

  /** One build job: fetch, build, output into the revision's log, figures into its metadata. */
  private async build(job: { app: ResourceObject; git: GitSourceSpec; commit: string; revision: string }, signal: AbortSignal): Promise<{ image: string }> {
    const { app, git, commit, revision } = job;
    this.report(app, git, { commit, state: "pending", description: "building" });
    const out = new LineBatcher((lines) => this.d.revisions.logMany(revision, "info", lines));
    const log = (level: "info" | "error", line: string): void => {
      if (level === "info") out.push(line);
      else out.after(() => this.d.revisions.log(revision, level, line));
    };
    const spec = {
      project: app.metadata.namespace!,
      name: app.metadata.name,
      ref: { url: git.repository, commit },
      context: git.context ?? ".",
      dockerfile: git.dockerfile ?? "Dockerfile",
      buildArgs: git.buildArgs,
      target: git.target,
      auth: this.auth(app, git),
      cacheDir: this.cacheDir(app.metadata.uid!),
    };
    try {
      const built = await buildFromGit(this.d.driver, spec, (line) => log("info", line), signal);
      await out.flush();
      await this.d.revisions.built(revision, { commit, image: built.image, durationMs: built.durationMs, ...(built.result ? { imageSize: built.result.size, cacheHits: built.result.cacheHits, steps: built.result.steps } : { cached: true }) });
      return { image: built.image };
    } catch (e) {
      const tail = e instanceof BuildError ? e.tail : [];
      const message = (e as Error).message;
      log("error", `build failed: ${message}`);
      await out.flush();
      await this.d.revisions.finish(revision, "failed", `build of commit ${commit.slice(0, 12)} failed: ${message}`);
      this.report(app, git, { commit, state: "failure", description: "build failed" });
      throw new BuildFailure(message, tail);
    }
  }

  /** Sends the commit status if the source asks for it (provider with a status API and a token). */
  report(app: ResourceObject, git: GitSourceSpec, status: { commit: string; state: CommitState; description: string }): void {
    const target = this.statusTarget(app, git);
    if (target) this.d.reporter?.report(app.metadata.uid!, target, { sha: status.commit, state: status.state, description: status.description });
  }

  private statusTarget(app: ResourceObject, git: GitSourceSpec): CommitStatusTarget | undefined {
    if (git.commitStatus?.enabled === false || !this.d.reporter) return undefined;
    const where = statusTargetOf(git.repository, { provider: git.provider, apiUrl: git.commitStatus?.apiUrl });
    let token: string | undefined;
    try {
      token = unsealGitSecrets(this.d.box, app).token;
    } catch {
      return undefined;
    }
    if (!where || !token) return undefined;
    return { ...where, token, context: `berth/${app.metadata.namespace}/${app.metadata.name}`, ...(git.commitStatus?.targetUrl ? { targetUrl: git.commitStatus.targetUrl } : {}) };
  }

  /**
   * A compose file from git (ADR 0017): the ref resolved like a git source's, the file and the
   * env files it names read at that commit. `read` serves them below the virtual directory
   * /git/<dir> so the compose translation resolves relative paths as on a host.
   */
  async composeAt(app: ResourceObject, source: ComposeGitSpec): Promise<ComposeAtCommit> {
    const git: GitSourceSpec = { repository: source.repository, branch: source.branch, tag: source.tag, commit: source.commit, interval: source.interval };
    const commit = await this.resolve(app, git);
    const cache = this.cacheDir(app.metadata.uid!);
    const file = path.posix.normalize(source.path ?? "docker-compose.yml").replace(/^\/+/, "");
    const text = await readAt(cache, commit, file);
    if (text === undefined) fail("ComposeInvalid", `${file} is not in ${source.repository} at commit ${commit.slice(0, 12)}`, { retryAfterMs: intervalOf(git) });
    const dir = path.posix.dirname(file) === "." ? "" : path.posix.dirname(file);
    const files = new Map<string, string>();
    for (const f of envFilesNamed(text)) {
      const inRepo = path.posix.normalize(path.posix.join(dir || ".", f));
      const content = inRepo.startsWith("..") ? undefined : await readAt(cache, commit, inRepo);
      if (content !== undefined) files.set(path.posix.join("/git", inRepo), content);
    }
    const read = (p: string): string => {
      const found = files.get(path.posix.normalize(p));
      if (found === undefined) throw Object.assign(new Error(`${p}: not in the repository`), { code: "ENOENT" });
      return found;
    };
    return { commit, text, dir: path.posix.join("/git", dir), read, origin: { repository: source.repository, commit, dir } };
  }

  /** Records the GIT_SOURCE row once a commit is live. */
  async deployedCommit(app: ResourceObject, git: GitSourceSpec, commit: string): Promise<void> {
    const provider = git.provider ?? statusTargetOf(git.repository, {})?.provider ?? null;
    await this.d.revisions.recordGitSource(app.metadata.uid!, {
      provider,
      repository: git.repository,
      branch: git.branch ?? git.tag ?? null,
      commitSha: commit,
      webhookConfig: { path: `/hooks/git/${app.metadata.namespace}/${app.metadata.name}`, enabled: !!git.webhook?.secret },
    });
  }
}

export interface ComposeGitSpec {
  repository: string;
  branch?: string;
  tag?: string;
  commit?: string;
  path?: string;
  interval?: string;
}

export interface ComposeAtCommit {
  commit: string;
  text: string;
  /** The compose file's directory as the translation sees it (/git/<dir>). */
  dir: string;
  read: (p: string) => string;
  origin: { repository: string; commit: string; dir: string };
}

/** The env_file paths a compose text names (a quick read; the translation checks them for real). */
function envFilesNamed(text: string): string[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return [];
  }
  const services = Object.values(((doc as { services?: Record<string, unknown> } | null)?.services ?? {}) as Record<string, { env_file?: unknown } | null>);
  const out: string[] = [];
  for (const svc of services) {
    const e = svc?.env_file;
    for (const x of Array.isArray(e) ? e : e === undefined ? [] : [e]) {
      const p = typeof x === "string" ? x : (x as { path?: unknown } | null)?.path;
      if (typeof p === "string") out.push(p);
    }
  }
  return out;
}

export function intervalOf(git: GitSourceSpec): number {
  return parseDurationMs(git.interval, DEFAULT_GIT_INTERVAL_MS);
}

/** A failed build in a condition's words: the engine's error and the last lines of the output. */
export function buildFailureMessage(build: Extract<BuildState, { state: "failed" }>): string {
  const tail = build.tail.slice(-5).join("\n");
  return `build of commit ${build.commit.slice(0, 12)} failed: ${build.message}${tail ? `\n${tail}` : ""}`;
}

/**
 * A build's output into deployment_logs in order, a batch at a time (one INSERT per 100 ms at
 * most, not one per line): `berth logs --build -f` still sees lines as they come.
 */
class LineBatcher {
  private lines: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly write: (lines: string[]) => Promise<void>) {}

  push(line: string): void {
    this.lines.push(line);
    this.timer ??= setTimeout(() => void this.flush(), 100);
  }

  /** Runs `fn` after every line pushed so far is written (named so that the class is no thenable). */
  after(fn: () => Promise<void>): void {
    void this.flush();
    this.chain = this.chain.then(fn).catch(() => undefined);
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.lines;
    this.lines = [];
    if (batch.length) this.chain = this.chain.then(() => this.write(batch)).catch(() => undefined);
    return this.chain;
  }
}

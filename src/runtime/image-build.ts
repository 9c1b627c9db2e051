/**
 * An Application's image from its git source (issue 16, ADR 0018): the commit fetched shallowly
 * into a bare cache repository, its context streamed by `git archive` into the engine's build
 * API, tagged berth.local/<project>/<name>:<sha12>. The tag is the commit: a commit whose image
 * exists is never built again, and the engine's layer cache carries over between commits.
 */
import { BuildError, type BuildResult, type RuntimeDriver } from "./driver.js";
import { archiveTree, fetchCommit, hasCommit, type GitAuth, type GitRef } from "./git-fetch.js";

export interface GitBuildSpec {
  project: string;
  name: string;
  ref: GitRef;
  context: string;
  dockerfile: string;
  buildArgs?: Record<string, string>;
  target?: string;
  auth?: GitAuth;
  /** The bare cache repository of this Application. */
  cacheDir: string;
  timeoutMs?: number;
}

export interface BuiltImage {
  image: string;
  commit: string;
  durationMs: number;
  /** Undefined when the image of that commit already existed: nothing was built. */
  result?: BuildResult;
}

/** The tag of an Application's image built from `commit`. */
export function imageTag(project: string, name: string, commit: string): string {
  return `berth.local/${project}/${name}:${commit.slice(0, 12)}`;
}

/** Whether `image` is one Berth built from a commit, and which (the 12-digit prefix). */
export function commitOfImage(image: string): string | undefined {
  return /^berth\.local\/[^/]+\/[^/:]+:([0-9a-f]{12})$/.exec(image)?.[1];
}

/**
 * Fetches the ref, then builds its context unless the commit's image is there. The commit built
 * is the one fetched (a branch may have moved since it was resolved: the newer one is built).
 */
export async function buildFromGit(driver: RuntimeDriver, spec: GitBuildSpec, onLine: (line: string) => void, signal?: AbortSignal): Promise<BuiltImage> {
  const started = Date.now();
  const cached = spec.ref.commit ? await hasCommit(spec.cacheDir, spec.ref.commit) : false;
  onLine(cached ? `commit ${spec.ref.commit} is in the cache (fetched when the ref was resolved)` : `fetching ${spec.ref.commit ?? spec.ref.tag ?? spec.ref.branch ?? "HEAD"} of ${scrubUrl(spec.ref.url)}`);
  const commit = cached ? spec.ref.commit! : await fetchCommit(spec.ref, spec.cacheDir, spec.timeoutMs ?? 120_000, spec.auth);
  const image = imageTag(spec.project, spec.name, commit);
  if (await driver.imageExists(image)) {
    onLine(`image ${image} of commit ${commit.slice(0, 12)} exists: not built again`);
    return { image, commit, durationMs: Date.now() - started };
  }
  onLine(`building ${image} from ${spec.context}/${spec.dockerfile} at ${commit.slice(0, 12)}`);
  const context = archiveTree(spec.cacheDir, commit, spec.context);
  try {
    // No labels: the classic builder adds each as a step with its own intermediate container
    // (≈ 100 ms apiece). The repository name berth.local/<project>/<name> says whose image it
    // is, its tag which commit (ADR 0018).
    const result = await driver.buildImage(context, { tag: image, dockerfile: spec.dockerfile, buildArgs: spec.buildArgs, target: spec.target, signal }, onLine);
    return { image, commit, durationMs: Date.now() - started, result };
  } catch (e) {
    context.destroy();
    if (e instanceof BuildError) throw e;
    throw new BuildError((e as Error).message, [(e as Error).message]);
  }
}

const scrubUrl = (u: string): string => u.replace(/(\w+:\/\/)[^/@\s]+@/, "$1***@");

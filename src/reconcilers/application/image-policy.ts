import { parseDurationMs } from "../../core/duration.js";
import type { ImagePolicySpec } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import { RuntimeError } from "../../runtime/driver.js";
import { resolveImagePolicy, type ResolvedImage } from "../../runtime/image-policy.js";
import type { RegistryAuth } from "../../runtime/registry-auth.js";
import type { RegistryApi } from "../../runtime/registry-client.js";

/** What a reconcile of an imagePolicy source learnt: the chosen image, and how often to ask again. */
export interface ImageObserved extends ResolvedImage {
  intervalMs: number;
  /** The registry could not be asked this time: the image chosen before keeps running. */
  pollError?: string;
}

/** A requeue can come a little before the interval is up: within this, it counts as up. */
const SLACK_MS = 250;

/** status.image as an imagePolicy source writes it. */
function previousImage(app: ResourceObject, repository: string): ResolvedImage | undefined {
  const image = (app.status as { image?: unknown } | undefined)?.image as Partial<ResolvedImage> | undefined;
  if (typeof image !== "object" || image?.repository !== repository || !image.tag || !image.digest) return undefined;
  return { repository, tag: image.tag, digest: image.digest, ref: `${repository}@${image.digest}` };
}

/**
 * Image automation (ADR 0022, Flux's ImagePolicy without git write-back): the registry is asked
 * at most once per interval per Application — the answer is kept in memory only to space the
 * polls, so a restart or a new leader just asks again. A failed poll keeps the image chosen before
 * (from status.image) running and says why; without one the reconcile fails with the registry's
 * reason (RegistryAuthFailed, ImageNotFound, ImagePullFailed).
 */
export class ImagePolicies {
  private readonly last = new Map<string, { key: string; at: number; resolved: ResolvedImage }>();

  constructor(
    private readonly client: RegistryApi,
    private readonly now: () => number = Date.now,
  ) {}

  async observe(app: ResourceObject, spec: ImagePolicySpec, auth: RegistryAuth | undefined): Promise<ImageObserved> {
    const intervalMs = parseDurationMs(spec.interval, 60_000);
    const uid = app.metadata.uid!;
    const key = JSON.stringify([spec.repository, spec.policy]);
    const cached = this.last.get(uid);
    if (cached?.key === key && this.now() - cached.at < intervalMs - SLACK_MS) return { ...cached.resolved, intervalMs };
    try {
      const resolved = await resolveImagePolicy(this.client, spec, auth);
      this.last.set(uid, { key, at: this.now(), resolved });
      return { ...resolved, intervalMs };
    } catch (e) {
      const previous = cached?.key === key ? cached.resolved : previousImage(app, spec.repository);
      if (!previous || !(e instanceof RuntimeError)) throw e;
      return { ...previous, intervalMs, pollError: e.message };
    }
  }

  forget(uid: string): void {
    this.last.delete(uid);
  }
}

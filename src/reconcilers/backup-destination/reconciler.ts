import { FINALIZER } from "../../core/kinds.js";
import type { BackupDestinationSpec } from "../../core/specs.js";
import type { ResourceObject } from "../../core/types.js";
import { S3Destination, S3DestinationError } from "../../runtime/s3-destination.js";
import { SecretValueError, unsealSecret, type SecretBox } from "../../store/secrets.js";
import { fail } from "../shared/failures.js";
import { ObjectReconciler, type ObjectReconcilerDeps } from "../shared/object-reconciler.js";
import { conditionsFor, failureSummary, transitionEvents, type Outcome, type Verdict } from "../shared/status.js";

export interface BackupDestinationDeps extends ObjectReconcilerDeps {
  box: SecretBox;
  /** How often a reachable bucket is checked again (default 10 min). */
  recheckMs?: number;
  now?: () => Date;
}

export interface BackupDestinationObserved {
  /** The plaintext secret key, only to scrub it from messages. */
  secret: string;
  checkedAt: string;
}

/** Retried after a minute: a bucket created, a key fixed or a server back is seen without an edit. */
const RETRY_MS = 60_000;

const urlOf = (spec: BackupDestinationSpec): string => `s3://${spec.bucket}/${spec.prefix ?? ""}`;

/** The BackupDestination's status: Ready once a list request of the bucket succeeded with its keys. Pure. */
export function backupDestinationStatusFor(obj: ResourceObject, obs: Partial<BackupDestinationObserved>, outcome: Outcome, recheckMs = 600_000): Verdict {
  const spec = obj.spec as unknown as BackupDestinationSpec;
  const ready = { status: "True" as const, reason: "BucketReachable", message: `${urlOf(spec)} answered at ${spec.endpoint}` };
  const conditions = conditionsFor(obj, outcome.failure ? failureSummary(outcome.failure) : { ready });
  const previous = (obj.status ?? {}) as Record<string, unknown>;
  const checked = obs.checkedAt ?? (previous.lastCheckedAt as string | undefined);
  return {
    status: { observedGeneration: obj.metadata.generation ?? 1, url: urlOf(spec), ...(checked ? { lastCheckedAt: checked } : {}), conditions },
    events: transitionEvents(obj, conditions, outcome.failure, { reason: ready.reason, message: ready.message }),
    pollAfter: recheckMs,
  };
}

/**
 * Checks that a BackupDestination's bucket answers with its keys (one ListObjectsV2 of the prefix)
 * and reports it as Ready, or Ready=False with the S3 error code as the reason — so a wrong key or
 * a missing bucket shows on the destination before a backup fails on it. Owns nothing in the
 * runtime: deleting it leaves the bucket and the backups in it alone.
 */
export class BackupDestinationReconciler extends ObjectReconciler<BackupDestinationObserved> {
  readonly kind = "BackupDestination" as const;
  readonly finalizer = FINALIZER.destination;

  constructor(private readonly d: BackupDestinationDeps) {
    super(d);
  }

  protected suspended(): boolean {
    return false;
  }

  protected async finalize(): Promise<boolean> {
    return true;
  }

  protected override secrets(_obj: ResourceObject, obs: Partial<BackupDestinationObserved>): string[] {
    return obs.secret ? [obs.secret] : [];
  }

  statusFor(obj: ResourceObject, obs: Partial<BackupDestinationObserved>, outcome: Outcome): Verdict {
    return backupDestinationStatusFor(obj, obs, outcome, this.d.recheckMs);
  }

  protected async converge(obj: ResourceObject, obs: Partial<BackupDestinationObserved>): Promise<void> {
    const spec = obj.spec as unknown as BackupDestinationSpec;
    let secret: string | undefined;
    try {
      secret = unsealSecret(this.d.box, this.kind, obj.spec, "spec.secretAccessKey");
    } catch (e) {
      if (e instanceof SecretValueError) fail("InvalidSecret", e.message, { terminal: true });
      throw e;
    }
    obs.secret = secret;
    const dest = new S3Destination({ ...spec, name: obj.metadata.name, secretAccessKey: secret ?? "" });
    try {
      await dest.check();
      obs.checkedAt = (this.d.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z");
    } catch (e) {
      if (e instanceof S3DestinationError) fail(e.code.replace(/[^A-Za-z0-9]/g, "") || "S3Error", e.message, { retryAfterMs: RETRY_MS });
      throw e;
    } finally {
      dest.destroy();
    }
  }
}

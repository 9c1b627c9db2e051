import type { ClearingEvent } from "../../controller/sources.js";
import { RuntimeError, type RuntimeReason } from "../../runtime/driver.js";
import { StepError } from "../../runtime/executor.js";
import { stepSubject } from "../../runtime/plan.js";
import { isStoreUnavailable } from "../../store/errors.js";

/** Why a reconcile stopped, as the Ready condition reports it. */
export interface Failure {
  /** The Ready reason: NameConflict, PortConflict, InvalidSpec, ImageNotFound, VolumeConflict, DependencyNotReady, DockerUnavailable, … */
  reason: string;
  message: string;
  /** Retrying cannot fix it (Stalled=True); a spec change, or the event that clears it, can. */
  terminal: boolean;
  /** When to look again if no event comes first; undefined backs off exponentially. */
  retryAfterMs?: number;
}

/** Thrown by a reconcile step that knows exactly why it cannot go on. */
export class ReconcileFailure extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

export function fail(reason: string, message: string, opts: { terminal?: boolean; retryAfterMs?: number } = {}): never {
  throw new ReconcileFailure({ reason, message, terminal: opts.terminal ?? false, retryAfterMs: opts.retryAfterMs });
}

/**
 * How each engine refusal is retried. Conflicts with something outside Berth clear when that
 * thing goes, which the engine reports (BlockedObjectsSource wakes the object at once); the
 * retry here is the safety net, short for host ports because a process outside Docker that
 * frees one sends no event.
 */
const RUNTIME_POLICY: Record<RuntimeReason, { terminal: boolean; retryAfterMs?: number }> = {
  NameConflict: { terminal: false, retryAfterMs: 10_000 },
  PortConflict: { terminal: false, retryAfterMs: 500 },
  InvalidSpec: { terminal: true },
  ImageNotFound: { terminal: false, retryAfterMs: 30_000 },
  // A changed login is a Project change, which reconciles the Project's failing Applications at once.
  RegistryAuthFailed: { terminal: false, retryAfterMs: 60_000 },
  ImagePullFailed: { terminal: false, retryAfterMs: 30_000 },
  VolumeConflict: { terminal: false, retryAfterMs: 30_000 },
  DockerUnavailable: { terminal: false },
  NotFound: { terminal: false },
  EngineError: { terminal: false },
};

/** Engine events that can clear a reason: the objects reporting it are reconciled at once. */
export const CLEARING_EVENTS: ClearingEvent[] = [
  { filter: { types: ["container"], actions: ["destroy", "rename", "die", "stop", "kill"] }, reasons: ["NameConflict", "PortConflict"] },
  { filter: { types: ["image"], actions: ["tag", "load", "import", "pull"] }, reasons: ["ImageNotFound", "InvalidSpec"] },
  { filter: { types: ["volume"], actions: ["destroy"] }, reasons: ["VolumeConflict"] },
];

function fromRuntime(e: RuntimeError, prefix = ""): Failure {
  const reason = e.reason === "NotFound" || e.reason === "EngineError" ? "EngineError" : e.reason;
  return { reason, message: prefix + e.message, ...RUNTIME_POLICY[e.reason] };
}

/** Any error, as the failure status reports. */
export function classify(e: unknown): Failure {
  if (e instanceof ReconcileFailure) return e.failure;
  if (e instanceof StepError) return fromRuntime(e.cause, `${stepSubject(e.step)}: `);
  if (e instanceof RuntimeError) return fromRuntime(e);
  if (isStoreUnavailable(e)) return { reason: "StoreUnavailable", message: "the store (Postgres) is unavailable", terminal: false };
  return { reason: "ReconcileError", message: (e as Error)?.message ?? String(e), terminal: false };
}

/** Replaces every secret value in a message (an engine may echo what it was given). */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("<redacted>");
  return out;
}

export function scrubFailure(f: Failure, secrets: readonly string[]): Failure {
  return { ...f, message: scrub(f.message, secrets).slice(0, 2000) };
}

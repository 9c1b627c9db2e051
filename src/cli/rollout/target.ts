import { findKind, type KindInfo } from "../../core/kinds.js";
import { CommandError, EXIT_USAGE } from "../shared/errors.js";

/** The Application a rollout command is about: `app/NAME` or `NAME`, and its Project (-n). */
export interface TargetArgs {
  target: string;
  namespace?: string;
}

/** `app/NAME` or `NAME` (kind defaults to application), as kubectl rollout accepts. */
export function parseTarget(text: string): { kind: KindInfo; name: string } {
  const [a, b] = text.includes("/") ? text.split("/", 2) : ["application", text];
  const kind = findKind(a);
  if (!kind || !b) throw new CommandError(`error: expected KIND/NAME such as app/web, got "${text}"`, EXIT_USAGE);
  if (kind.kind !== "Application") throw new CommandError(`error: rollouts exist for applications only, not ${kind.plural}`, EXIT_USAGE);
  return { kind, name: b };
}

/** Berth's own endpoints for an Application's rollouts (deployments, rollback, logs), beside the Kubernetes-shaped API. */
export function appPath(ns: string, name: string): string {
  return `/berth/v1/namespaces/${encodeURIComponent(ns)}/applications/${encodeURIComponent(name)}`;
}

/**
 * `berth seal KIND/NAME`: a plain secret value → the sealed string (`sealed:v1:…`) that a read
 * of that object shows for the field, for manifests kept in git (a Sync applies them; so does
 * `berth apply`). The value is read from stdin, never from argv (which `ps` shows to everyone).
 */
import { findKind, KINDS } from "../../core/kinds.js";
import type { BerthClient } from "../shared/client.js";
import { CommandError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";

export interface SealArgs {
  target: string;
  namespace?: string;
  key?: string;
  field?: string;
}

function fieldOf(kind: string, args: SealArgs): string {
  if (args.field && args.key) throw new CommandError("give --key or --field, not both");
  if (args.field) return args.field;
  if (kind === "Application" && args.key) return `spec.secretEnv.${args.key}`;
  if (kind === "Sync" && args.key) throw new CommandError("a Sync's secrets are --field spec.source.git.auth.token or --field spec.webhook.secret");
  throw new CommandError("say which secret: --key KEY (an Application's spec.secretEnv.KEY) or --field PATH");
}

export async function sealCommand(client: BerthClient, args: SealArgs, io: Io): Promise<void> {
  const [kindName, name] = args.target.split("/");
  const kind = kindName ? findKind(kindName) : undefined;
  if (!kind || !name) throw new CommandError(`seal takes KIND/NAME (e.g. application/web, sync/infra); kinds: ${KINDS.map((k) => k.singular).join(", ")}`);
  if (kind.namespaced && !args.namespace) throw new CommandError(`a ${kind.kind} is in a Project: give -n PROJECT`);
  const field = fieldOf(kind.kind, args);
  // One trailing newline is the shell's (echo, heredoc), not the secret's.
  const value = (await io.readStdin()).replace(/\r?\n$/, "");
  if (!value) throw new CommandError("no value on stdin (e.g. printf %s \"$TOKEN\" | berth seal …)");
  const reply = await client.request<{ sealed: string }>("POST", "/berth/v1/seal", { body: { kind: kind.kind, namespace: kind.namespaced ? args.namespace : undefined, name, field, value } });
  io.out(reply.sealed);
}

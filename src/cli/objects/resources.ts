import { findKind, KINDS, type KindInfo } from "../../core/kinds.js";
import { CommandError } from "../shared/errors.js";

/** One object the user named: what apply stored, what delete removes, what --wait follows. */
export interface ObjectRef {
  kind: KindInfo;
  namespace?: string;
  name: string;
}

/** kubectl's `<singular>.<group>` spelling in the lines apply and delete print. */
export function resourceName(kind: KindInfo): string {
  return `${kind.singular}.berth.dev`;
}

export function kindOrThrow(name: string): KindInfo {
  const kind = findKind(name);
  if (!kind) throw new CommandError(`error: the server doesn't have a resource type "${name}" (known: ${KINDS.map((k) => k.plural).join(", ")})`);
  return kind;
}

export function notFound(kind: KindInfo, name: string): CommandError {
  return new CommandError(`Error from server (NotFound): ${kind.plural}.berth.dev "${name}" not found`);
}

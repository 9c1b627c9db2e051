import { CommanderError } from "commander";

/**
 * Exit codes are an interface scripts rely on (DESIGN.md §4, as kubectl): 1 when what the user
 * asked could not be done, 2 when the command line itself was wrong.
 */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** What the user asked could not be done: exit 1 with this message (exit 2 is for usage). */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode = EXIT_FAILED,
  ) {
    super(message);
  }
}

/** A metav1.Status error from the server, with its HTTP code. */
export class ApiCallError extends Error {
  constructor(
    readonly code: number,
    readonly status: { message?: string; reason?: string; details?: { causes?: { field?: string; message?: string }[] } },
  ) {
    super(status.message ?? `HTTP ${code}`);
  }
}

/** kubectl's wording, so that people and scripts used to it read Berth's errors the same way. */
export function serverMessage(e: ApiCallError): string {
  const text = `Error from server (${e.status.reason ?? e.code}): ${e.message}`;
  // A 401 never says why (an unknown, revoked or expired token look alike): say what to do.
  return e.code === 401 ? `${text}\n(the server refused the kubeconfig's token: it is wrong, revoked or expired; \`berth login\` gets a new one)` : text;
}

/** For `.catch()`: a server's Status becomes kubectl's "Error from server (Reason): message". */
export async function serverError(e: unknown): Promise<never> {
  if (e instanceof ApiCallError) throw new CommandError(serverMessage(e));
  throw e;
}

/** The process's exit code for what a command threw, after telling the user why. */
export function exitCodeFor(e: unknown, err: (text: string) => void): number {
  // commander has already printed its usage error (or the help it was asked for).
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_USAGE;
  if (e instanceof CommandError) {
    err(e.message);
    return e.exitCode;
  }
  if (e instanceof ApiCallError) {
    err(serverMessage(e));
    return EXIT_FAILED;
  }
  err(`error: ${(e as Error).message}`);
  return EXIT_FAILED;
}

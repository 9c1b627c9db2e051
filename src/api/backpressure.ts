import type { ServerResponse } from "node:http";

/** Resolves when the response's socket buffer has drained, or the response has closed. */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

/** Long replies waiting for their next turn, oldest first. */
const waiting: (() => void)[] = [];
let pumping = false;

/**
 * Lets other requests run (a health probe, a small GET) between two pieces of a long reply.
 * One waiting piece runs per event-loop turn, round robin: with a plain setImmediate each,
 * 50 streams' pieces all ran in one check phase (50 × ~0.5 ms) before the poll phase read
 * anyone else's request, and a probe waited behind all of them (issue 21's soak p99).
 */
export function yieldToOthers(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (pumping) return;
    pumping = true;
    setImmediate(nextTurn);
  });
}

/** An immediate queued from an immediate runs in the next loop turn, after its poll phase. */
function nextTurn(): void {
  waiting.shift()?.();
  if (waiting.length) setImmediate(nextTurn);
  else pumping = false;
}

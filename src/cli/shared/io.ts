/** Where a command writes; tests pass their own to run a command in-process. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  readStdin: () => Promise<string>;
}

/** Where `--wait` progress goes: redrawn in place on a terminal, plain lines otherwise. */
export interface WaitIo {
  isTTY: boolean;
  write: (text: string) => void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t + "\n"),
  err: (t) => process.stderr.write(t + "\n"),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  },
};

/** Raw stdout, for streams (logs) that carry their own newlines. */
export function writeStdout(text: string): void {
  process.stdout.write(text);
}

/** Read when a command runs, not at load: CI logs would fill with cursor movements otherwise. */
export function processWaitIo(): WaitIo {
  return { isTTY: !!process.stdout.isTTY && process.env.CI !== "true", write: writeStdout };
}

import { CommandError, EXIT_USAGE } from "./errors.js";
import type { Io } from "./io.js";

/**
 * A password is read from a terminal prompt that echoes nothing, or from stdin (`--password-stdin`,
 * or whenever stdin is not a terminal), never from the command line, where `ps` and shell
 * history would show it.
 */
export async function readPassword(opts: { fromStdin?: boolean; prompt: string }, io: Io): Promise<string> {
  const tty = !!process.stdin.isTTY && typeof process.stdin.setRawMode === "function";
  const raw = opts.fromStdin || !tty ? (await io.readStdin()).replace(/[\r\n]+$/, "") : await promptHidden(opts.prompt);
  if (!raw) throw new CommandError("error: no password given (type it at the prompt, or pipe it with --password-stdin)", EXIT_USAGE);
  return raw;
}

/** One line from the terminal in raw mode, echoing nothing; Ctrl-C gives up (exit 130). */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = (err?: Error): void => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return finish();
        if (ch === "\u0003") return finish(new CommandError("interrupted", 130));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else if (ch >= " ") value += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    stdin.on("data", onData);
    stdin.resume();
  });
}

import os from "node:os";
import path from "node:path";

/** `$BERTH_DATA_DIR`, else `~/.local/share/berth` (DESIGN §4). */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.BERTH_DATA_DIR || path.join(os.homedir(), ".local", "share", "berth");
}

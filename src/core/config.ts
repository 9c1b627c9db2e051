import os from "node:os";
import path from "node:path";

/**
 * The data directory (DESIGN §4): `$BERTH_DATA_DIR`, else `$XDG_DATA_HOME/berth`, else
 * `~/.local/share/berth`. The one place this default is computed.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BERTH_DATA_DIR) return env.BERTH_DATA_DIR;
  return path.join(env.XDG_DATA_HOME || path.join(os.homedir(), ".local", "share"), "berth");
}

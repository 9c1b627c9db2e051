import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { reloadSafety } from "../../src/router/reload-safety.js";
import { freePort } from "../../src/store/embedded.js";
import { tempDir } from "./berth.js";
import { missingPrerequisite } from "./prerequisites.js";

/** A real Caddy (Debian's package) with its admin API on a free 127.0.0.1 port and no routes. */
export interface TestCaddy {
  adminUrl: string;
  adminPort: number;
  httpPort: number;
  httpsPort: number;
  dir: string;
  logs(): string;
  /** Kills Caddy and starts it again with nothing but its admin address: an empty Caddy. */
  restartEmpty(): Promise<void>;
  stop(): Promise<void>;
}

export async function startCaddy(): Promise<TestCaddy> {
  const dir = tempDir("berth-caddy-");
  const [adminPort, httpPort, httpsPort] = [await freePort(), await freePort(), await freePort()];
  const boot = path.join(dir, "boot.json");
  writeFileSync(boot, JSON.stringify({ admin: { listen: `127.0.0.1:${adminPort}` } }));
  for (const d of ["config", "data"]) mkdirSync(path.join(dir, d), { recursive: true });
  // HOME and XDG dirs in the temp dir: certificates, the local CA and autosaves stay out of the user's.
  const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: path.join(dir, "config"), XDG_DATA_HOME: path.join(dir, "data") };
  let child: ChildProcess | undefined;
  let logs = "";
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const start = async (): Promise<void> => {
    const c = spawn("caddy", ["run", "--config", boot], { env, stdio: ["ignore", "pipe", "pipe"] });
    child = c;
    c.stdout!.on("data", (b: Buffer) => (logs += b.toString()));
    c.stderr!.on("data", (b: Buffer) => (logs += b.toString()));
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`caddy exited with ${c.exitCode}:\n${logs.slice(-2000)}`);
      const ok = await fetch(`${adminUrl}/config/`).then((r) => r.ok).catch(() => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`caddy's admin API did not come up:\n${logs.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const kill = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await exited;
  };
  await start();
  return {
    adminUrl,
    adminPort,
    httpPort,
    httpsPort,
    dir,
    logs: () => logs,
    restartEmpty: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Suites that drive Debian's caddy/pebble: skipped with a message where they are not installed,
 * a hard failure under CI (CI=true), where scripts/install-system-deps.sh installs them.
 */
export function requireCommands(ctx: Mocha.Context, commands: string[]): void {
  const missing = commands.filter((c) => spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0);
  if (!missing.length) return;
  missingPrerequisite(ctx, `${missing.join(", ")} not installed (apt-get install -y ${missing.join(" ")}, or scripts/install-system-deps.sh)`);
}

/**
 * Suites that count failed requests across Caddy route changes: they need the kernel to move
 * connections queued on Caddy's old socket to the new one (net.ipv4.tcp_migrate_req=1, set by
 * scripts/tune-host.sh); without it a reload can reset one and the count means nothing. Skipped
 * with that message where it is off, a hard failure under CI (CI=true).
 */
export function requireReloadSafety(ctx: Mocha.Context): void {
  const safety = reloadSafety();
  if (safety === "on") return;
  missingPrerequisite(ctx, `net.ipv4.tcp_migrate_req is ${safety === "off" ? "0" : "not available"} (sysctl -w net.ipv4.tcp_migrate_req=1, or scripts/tune-host.sh)`);
}

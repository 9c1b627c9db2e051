import { readFileSync } from "node:fs";
import type { Logger } from "winston";
import type { RouterSettings } from "./settings.js";

/** Where Linux keeps the setting (per network namespace; Caddy on the host network shares the host's). */
export const MIGRATE_REQ_PATH = "/proc/sys/net/ipv4/tcp_migrate_req";

export type ReloadSafety = "on" | "off" | "unknown";

/**
 * Whether a Caddy config load can drop a connection that is just arriving. Caddy listens with
 * SO_REUSEPORT and opens a new socket for every load; when the old one closes, Linux resets the
 * connections still in its accept queue unless net.ipv4.tcp_migrate_req is 1 (Linux 5.14+), which
 * moves them to the new socket. Measured here: 8 resets in 100 loads at 500 new connections/s
 * with it off, none in 300 with it on (docs/adr/0008-zero-downtime-handover.md).
 */
export function reloadSafety(read: (path: string) => string = (p) => readFileSync(p, "utf8")): ReloadSafety {
  try {
    return read(MIGRATE_REQ_PATH).trim() === "1" ? "on" : "off";
  } catch {
    return "unknown";
  }
}

function loopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "localhost" || host === "[::1]" || host.startsWith("127.");
}

/** A Caddy on this machine (managed, or an admin URL on loopback) with the setting off gets one warning at start. */
export function warnIfReloadsDropConnections(settings: RouterSettings, logger: Logger, safety: ReloadSafety = reloadSafety()): void {
  if (!settings.managed && !loopback(settings.adminUrl)) return;
  if (safety !== "off") return;
  logger.warn("net.ipv4.tcp_migrate_req is 0: each route change Caddy loads can reset a connection arriving at that instant; set it to 1 (sysctl -w net.ipv4.tcp_migrate_req=1, or scripts/tune-host.sh) for hand-overs without failed requests", { path: MIGRATE_REQ_PATH });
}

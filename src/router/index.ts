import type { Logger } from "winston";
import type { RuntimeDriver } from "../runtime/driver.js";
import type { ResourceStore } from "../store/resources.js";
import { CaddyRouter } from "./caddy-router.js";
import { ManagedCaddy } from "./managed.js";
import { resolveRouterSettings, type RouterOptions } from "./settings.js";
import { warnIfReloadsDropConnections } from "./reload-safety.js";

export { CaddyRouter } from "./caddy-router.js";
export { ManagedCaddy } from "./managed.js";
export type { RouterOptions, RouterSettings } from "./settings.js";

export interface Routing {
  router: CaddyRouter;
  /** Long-lived parts the manager starts with the controllers (the managed Caddy container). */
  components: { start(signal: AbortSignal): Promise<void>; stop(): Promise<void> }[];
}

/** The router for the controllers, or undefined when `berth serve` was given no Caddy. */
export function createRouting(opts: RouterOptions | undefined, deps: { store: ResourceStore; driver: RuntimeDriver; logger: Logger }): Routing | undefined {
  const settings = resolveRouterSettings(opts);
  if (!settings) return undefined;
  warnIfReloadsDropConnections(settings, deps.logger);
  const router = new CaddyRouter(settings, deps.store, deps.driver, deps.logger);
  return { router, components: settings.managed ? [new ManagedCaddy(deps.driver, settings, deps.logger)] : [] };
}

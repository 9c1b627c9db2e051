/**
 * The router as the executor sees it. Before Berth stops a container it chose to stop, the
 * container leaves every route: `withdraw` returns once the router has loaded a table without
 * it and confirmed that no request is still in flight to it (bounded). A withdrawn container
 * never rejoins a route; it is on its way out. `removed` tells the router that a withdrawn
 * container is gone, so what it kept for the drain can go too.
 */
export interface TrafficSwitch {
  withdraw(containerIds: string[]): Promise<void>;
  isWithdrawn(containerId: string): boolean;
  removed(containerIds: string[]): Promise<void>;
}

/** No router: nothing routes to containers, so there is nothing to withdraw from. */
export const NO_TRAFFIC: TrafficSwitch = {
  withdraw: async () => undefined,
  isWithdrawn: () => false,
  removed: async () => undefined,
};

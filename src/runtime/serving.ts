import { isReady, type ObservedContainer } from "./driver.js";

/** Where a published port answers: 127.0.0.1 for "every interface", IPv6 in brackets. */
export function endpointOf(hostIp: string, hostPort: number): string {
  const ip = hostIp === "" || hostIp === "0.0.0.0" || hostIp === "::" ? "127.0.0.1" : hostIp.includes(":") ? `[${hostIp}]` : hostIp;
  return `${ip}:${hostPort}`;
}

/**
 * The containers that serve traffic: ready (running, healthy or without a healthcheck) and not
 * withdrawn from the routes on their way out. The Application's status.endpoints and the
 * router's upstreams are both this set, so they agree by construction.
 */
export function servingContainers(containers: readonly ObservedContainer[], withdrawn: (id: string) => boolean): ObservedContainer[] {
  return containers.filter((c) => isReady(c) && !withdrawn(c.id));
}

/** Endpoints of the serving containers (every published port, or only `port`), sorted. */
export function servingEndpoints(containers: readonly ObservedContainer[], withdrawn: (id: string) => boolean, port?: number): string[] {
  const out = servingContainers(containers, withdrawn).flatMap((c) => c.ports.filter((p) => p.hostPort && (port === undefined || p.containerPort === port)).map((p) => endpointOf(p.hostIp, p.hostPort)));
  return [...new Set(out)].sort();
}

/** Every published endpoint of one container, whatever its state (what a route may still hold). */
export function publishedEndpoints(c: ObservedContainer): string[] {
  return [...new Set(c.ports.filter((p) => p.hostPort).map((p) => endpointOf(p.hostIp, p.hostPort)))].sort();
}

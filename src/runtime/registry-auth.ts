/**
 * Which registry an image reference names, and which of a Project's logins goes with it
 * (ADR 0022): the rules of Docker's reference parser and of `docker login`'s config.json, so an
 * image pulls with the credentials it would get from `docker login <server>`.
 */

/** Docker Hub, however it is written: image references without a registry host mean it. */
export const DOCKER_HUB = "docker.io";
const HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]);

/** The credentials one pull sends (Docker's AuthConfig); never logged, never in a message. */
export interface RegistryAuth {
  serveraddress: string;
  username: string;
  password: string;
}

/** A login as a Project declares it: server as written (`ghcr.io`, `https://ghcr.io`, `127.0.0.1:5000`). */
export interface Login {
  server: string;
  username: string;
  password: string;
}

/** `https://ghcr.io/v2/` → `ghcr.io`; Docker Hub's names → `docker.io`. Lower case, as Docker compares hosts. */
export function normalizeServer(server: string): string {
  const host = server.trim().replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "").toLowerCase();
  return HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}

/** The first path component when it names a registry host (has a dot or a port, or is `localhost`), as Docker's parser decides. */
function explicitHost(image: string): string | undefined {
  const slash = image.indexOf("/");
  const first = slash < 0 ? "" : image.slice(0, slash);
  return /[.:]/.test(first) || first === "localhost" ? first : undefined;
}

/** The registry host of an image reference: its explicit host, otherwise Docker Hub. */
export function registryHost(image: string): string {
  const host = explicitHost(image);
  return host ? normalizeServer(host) : DOCKER_HUB;
}

/** The repository path of a reference without host, tag or digest: `127.0.0.1:5000/team/web:1` → `team/web`. */
export function repositoryPath(image: string): string {
  const host = explicitHost(image);
  let rest = (host ? image.slice(host.length + 1) : image).replace(/@.*$/, "");
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) rest = rest.slice(0, colon);
  // Docker Hub's official images live under library/.
  return registryHost(image) === DOCKER_HUB && !rest.includes("/") ? `library/${rest}` : rest;
}

/** The login whose server is the image's registry host, as Docker's AuthConfig; undefined when none is. */
export function authFor(image: string, logins: readonly Login[]): RegistryAuth | undefined {
  const host = registryHost(image);
  const login = logins.find((l) => normalizeServer(l.server) === host);
  if (!login) return undefined;
  return { serveraddress: host === DOCKER_HUB ? "https://index.docker.io/v1/" : host, username: login.username, password: login.password };
}

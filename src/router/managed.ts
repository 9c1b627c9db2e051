import type { Logger } from "winston";
import type { RuntimeDriver } from "../runtime/driver.js";
import { LABEL, MANAGED_BY } from "../runtime/labels.js";
import { adminListenAddress, type RouterSettings } from "./settings.js";

/** Labels of the managed Caddy container (kind Router: no reconciler and no orphan sweep touch it). */
export const ROUTER_KIND = "Router";

export function managedCaddyName(instance: string): string {
  return `berth-caddy-${instance.slice(0, 8)}`;
}

/**
 * A Caddy container that `berth serve --caddy-managed` runs itself: the image built from Debian's
 * caddy package (scripts/build-caddy-image.sh), on the host network so that it binds the HTTP and
 * HTTPS ports and reaches the replicas' ports published on 127.0.0.1, with its certificates and
 * keys in a named volume. It starts with no routes (its Caddyfile only sets the admin address);
 * the router loads the table. Stopping Berth leaves it running: traffic does not depend on the
 * control plane. Docker restarts it (unless-stopped) and the next resync reloads the routes.
 */
export class ManagedCaddy {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly driver: RuntimeDriver,
    private readonly settings: RouterSettings,
    private readonly logger: Logger,
  ) {}

  get name(): string {
    return managedCaddyName(this.driver.instance);
  }

  get volumes(): { data: string; config: string } {
    return { data: `${this.name}-data`, config: `${this.name}-config` };
  }

  async start(_signal: AbortSignal): Promise<void> {
    await this.ensure().catch((e) => this.logger.error("managed Caddy is not running", { error: (e as Error).message }));
    const tick = (): void => {
      this.timer = setTimeout(() => void this.ensure().catch((e) => this.logger.error("managed Caddy is not running", { error: (e as Error).message })).finally(tick), this.settings.superviseMs);
      this.timer.unref();
    };
    tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Creates or starts the container; a container with another image or admin address is replaced. */
  async ensure(): Promise<void> {
    const labels = { [LABEL.managedBy]: MANAGED_BY, [LABEL.kind]: ROUTER_KIND, [LABEL.name]: "caddy" };
    const admin = adminListenAddress(this.settings);
    const wanted = `${this.settings.image}|${admin}`;
    const found = await this.driver.listContainers(labels);
    for (const c of found) {
      if (c.labels[LABEL.configHash] !== wanted) {
        this.logger.info("replacing managed Caddy", { container: c.name, was: c.labels[LABEL.configHash], now: wanted });
        await this.driver.removeContainer(c.id);
        continue;
      }
      if (c.state !== "running") {
        this.logger.info("starting managed Caddy", { container: c.name, state: c.state });
        await this.driver.startContainer(c.id);
      }
      return;
    }
    if (!(await this.driver.imageExists(this.settings.image))) {
      throw new Error(`image ${this.settings.image} is not on the Docker engine; build it with scripts/build-caddy-image.sh (from Debian's caddy package)`);
    }
    const vols = this.volumes;
    for (const v of [vols.data, vols.config]) if ((await this.driver.volumeOwner(v)).state === "absent") await this.driver.createVolume(v, labels);
    const id = await this.driver.createContainer({
      name: this.name,
      Image: this.settings.image,
      Cmd: ["caddy", "run", "--adapter", "caddyfile", "--config", "/etc/caddy/Caddyfile"],
      Env: ["XDG_DATA_HOME=/data", "XDG_CONFIG_HOME=/config", `BERTH_CADDY_ADMIN_LISTEN=${admin}`],
      Labels: { ...labels, [LABEL.configHash]: wanted },
      StopSignal: "SIGTERM",
      HostConfig: {
        NetworkMode: "host",
        RestartPolicy: { Name: "unless-stopped" },
        Mounts: [
          { Type: "volume", Source: vols.data, Target: "/data" },
          { Type: "volume", Source: vols.config, Target: "/config" },
          // A private ACME CA's roots (e.g. pebble's) are read by Caddy at the same path as on the host.
          ...this.settings.acme.trustedRootsPemFiles.map((f) => ({ Type: "bind" as const, Source: f, Target: f, ReadOnly: true })),
        ],
      },
    });
    await this.driver.startContainer(id);
    this.logger.info("started managed Caddy", { container: this.name, image: this.settings.image, admin });
  }

  /** Removes the container and (with `volumes`) its certificate storage. */
  async remove(volumes = false): Promise<void> {
    const found = await this.driver.listContainers({ [LABEL.kind]: ROUTER_KIND, [LABEL.name]: "caddy" });
    for (const c of found) await this.driver.removeContainer(c.id);
    if (volumes) for (const v of Object.values(this.volumes)) await this.driver.removeVolume(v);
  }
}

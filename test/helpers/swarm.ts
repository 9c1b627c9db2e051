import { BUSYBOX_IMAGE, docker, ensureBusyboxImage } from "./docker.js";
import { missingPrerequisite } from "./prerequisites.js";

/**
 * A one-node swarm on the test engine (issue 18): initialised here when the engine is in no
 * swarm, and left again by the returned function, so the suites after this one see the engine
 * as they always did. An engine that is already a manager is used as it is and kept.
 */
export async function ensureSwarm(ctx: Mocha.Context): Promise<() => Promise<void>> {
  const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
  if (info.Swarm?.LocalNodeState === "active") {
    if (!info.Swarm.ControlAvailable) missingPrerequisite(ctx, "the Docker engine is a swarm worker, not a manager");
    return async () => undefined;
  }
  try {
    // Loopback: a one-node swarm never needs another node to reach it.
    await docker.swarmInit({ ListenAddr: "127.0.0.1:2377", AdvertiseAddr: "127.0.0.1:2377" });
  } catch (e) {
    missingPrerequisite(ctx, `docker swarm init failed: ${(e as Error).message}`);
  }
  return async () => void (await docker.swarmLeave({ force: true }).catch(() => undefined));
}

/** The services of a test project (dockerode's typings have no promise form with options). */
export async function listServices(project: string): Promise<any[]> {
  return (await (docker as any).listServices({ filters: { label: [`berth.dev/project=${project}`] } })) as any[];
}

/** A service's tasks that run and should. */
export async function runningTasks(serviceId: string): Promise<any[]> {
  const tasks = (await (docker as any).listTasks({ filters: { service: [serviceId], "desired-state": ["running"] } })) as any[];
  return tasks.filter((t) => t.Status?.State === "running");
}

/** Removes every service a test project left behind (their tasks go with them). */
export async function removeServices(project: string): Promise<void> {
  const services = await listServices(project);
  await Promise.all(services.map((s) => docker.getService(s.ID).remove().catch(() => undefined)));
}

export const CRASH_IMAGE = "berth-test/crash:1";

/** A bad image: it exits 3 at once (built from the busybox image; no registry is reachable). */
export async function ensureCrashImage(): Promise<string> {
  try {
    await docker.getImage(CRASH_IMAGE).inspect();
    return CRASH_IMAGE;
  } catch {
    // not built yet
  }
  await ensureBusyboxImage();
  const c = await docker.createContainer({ Image: BUSYBOX_IMAGE, Cmd: ["true"] });
  try {
    await c.commit({ repo: CRASH_IMAGE.split(":")[0], tag: CRASH_IMAGE.split(":")[1], changes: 'CMD ["sh", "-c", "echo crashing; exit 3"]' } as never);
  } finally {
    await c.remove({ force: true });
  }
  return CRASH_IMAGE;
}

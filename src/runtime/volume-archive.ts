import { createHash } from "node:crypto";
import { Transform, type Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import type { ContainerSpec, RuntimeDriver } from "./driver.js";
import { LABEL, MANAGED_BY } from "./labels.js";

/**
 * Volume archives (ADR 0024): a named volume is read and written through a helper container
 * that mounts it at /v and is never started — the engine mounts a created container's volumes
 * for archive calls, so no tar binary, shell or running process is needed in the image.
 */

/** Where the helper mounts the volume; also the top directory of every archive. */
export const HELPER_MOUNT = "/v";
/** The kind label of helper containers (not a kind of object: the garbage collector leaves them to the worker). */
export const HELPER_KIND = "VolumeHelper";

export interface VolumeHelper {
  project: string;
  app: string;
  /** The spec's volume name (a label); `dockerVolume` is the engine's name. */
  volume: string;
  dockerVolume: string;
  image: string;
  operationId: string;
  readOnly: boolean;
}

export function helperLabels(h: Pick<VolumeHelper, "project" | "app" | "volume" | "operationId">): Record<string, string> {
  return { [LABEL.managedBy]: MANAGED_BY, [LABEL.project]: h.project, [LABEL.kind]: HELPER_KIND, [LABEL.name]: h.app, [LABEL.volume]: h.volume, [LABEL.volumeOperation]: h.operationId };
}

/** `<project>-<app>-vol-<volume>-<op>`: unique per operation, so a leftover never blocks the next. */
export function helperName(h: Pick<VolumeHelper, "project" | "app" | "volume" | "operationId">): string {
  return `${h.project}-${h.app}-vol-${h.volume}-${h.operationId.slice(0, 8)}`;
}

export function helperContainerOptions(h: VolumeHelper): ContainerSpec {
  return {
    name: helperName(h),
    Image: h.image,
    // Never started; an entrypoint is set only because an image without one cannot be created.
    Entrypoint: ["/berth-volume-helper-never-runs"],
    Cmd: [],
    Labels: helperLabels(h),
    NetworkDisabled: true,
    HostConfig: { NetworkMode: "none", RestartPolicy: { Name: "no" }, Mounts: [{ Type: "volume", Source: h.dockerVolume, Target: HELPER_MOUNT, ReadOnly: h.readOnly }] },
  };
}

/** Runs `fn` with a helper container and removes it afterwards, whatever `fn` did. */
export async function withVolumeHelper<T>(driver: RuntimeDriver, h: VolumeHelper, fn: (containerId: string) => Promise<T>): Promise<T> {
  const id = await driver.createContainer(helperContainerOptions(h));
  try {
    return await fn(id);
  } finally {
    await driver.removeContainer(id);
  }
}

/** Passes bytes on while counting and hashing them. */
export class HashTap extends Transform {
  private readonly hash = createHash("sha256");
  bytes = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  digest(): string {
    return this.hash.digest("hex");
  }
}

/**
 * Streams the helper's volume as a gzipped tar into `out` (ended when complete), hashing what is
 * written: nothing is whole in memory, and backpressure from `out` holds the engine's stream.
 */
export async function readVolumeArchive(driver: RuntimeDriver, helperId: string, out: Writable): Promise<{ sha256: string; bytes: number }> {
  const tar = await driver.getArchive(helperId, HELPER_MOUNT);
  const tap = new HashTap();
  await pipeline(tar, createGzip(), tap, out);
  return { sha256: tap.digest(), bytes: tap.bytes };
}

/** Unpacks a gzipped archive made by readVolumeArchive into the helper's volume (its entries are under v/). */
export async function writeVolumeArchive(driver: RuntimeDriver, helperId: string, gz: Readable): Promise<void> {
  const gunzip = createGunzip();
  const fed = pipeline(gz, gunzip);
  // A refused upload must stop the reading too, or the file stream would wait on backpressure forever.
  const put = driver.putArchive(helperId, gunzip, "/").catch((e: Error) => {
    gunzip.destroy(e);
    throw e;
  });
  const [fedResult, putResult] = await Promise.allSettled([fed, put]);
  if (fedResult.status === "rejected") throw new Error(`the archive could not be read: ${(fedResult.reason as Error).message}`, { cause: fedResult.reason });
  if (putResult.status === "rejected") throw putResult.reason as Error;
}

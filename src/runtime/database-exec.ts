import { createReadStream, createWriteStream, statSync } from "node:fs";
import { Readable } from "node:stream";
import type { ExecResult, RuntimeDriver } from "./driver.js";

/**
 * docker exec for database work: commands run inside the engine's container with the
 * container's own environment (so passwords never appear in the exec request), through the
 * driver, so every call is counted in berth_docker_api_calls_total like any other.
 */

/** Runs a command and returns its exit code and (bounded) output. */
export async function execCapture(driver: RuntimeDriver, containerId: string, cmd: string[], timeoutMs = 10_000): Promise<ExecResult> {
  return driver.exec(containerId, cmd, { timeoutMs });
}

/** Runs a command and streams its stdout into `file` (created 0600: dumps hold the data). */
export async function execToFile(driver: RuntimeDriver, containerId: string, cmd: string[], to: { file: string; timeoutMs: number }): Promise<ExecResult & { bytes: number }> {
  const { file, timeoutMs } = to;
  const out = createWriteStream(file, { mode: 0o600 });
  const r = await driver.exec(containerId, cmd, { sink: out, timeoutMs });
  if (r.timedOut) out.destroy();
  return { ...r, bytes: sizeOf(file) };
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

const octal = (value: number, width: number): string => value.toString(8).padStart(width - 1, "0") + "\0";

/** A one-file ustar archive: header, the file's bytes, padding, two zero blocks. */
function tarHeader(name: string, size: number, mode: number, owner: { uid: number; gid: number }): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode, 8), 100, "ascii");
  h.write(octal(owner.uid, 8), 108, "ascii");
  h.write(octal(owner.gid, 8), 116, "ascii");
  if (size < 8 ** 11) h.write(octal(size, 12), 124, "ascii");
  else {
    // GNU base-256 for files of 8 GiB and more.
    h[124] = 0x80;
    h.writeBigUInt64BE(BigInt(size), 124 + 4);
  }
  h.write(octal(Math.floor(Date.now() / 1000), 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write("0", 156, "ascii");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
  return h;
}

function tarOf(source: string, name: string, mode: number, owner: { uid: number; gid: number }): Readable {
  const size = statSync(source).size;
  async function* gen(): AsyncGenerator<Buffer> {
    yield tarHeader(name, size, mode, owner);
    for await (const chunk of createReadStream(source)) yield chunk as Buffer;
    const pad = (512 - (size % 512)) % 512;
    yield Buffer.alloc(pad + 1024);
  }
  return Readable.from(gen());
}

export interface FileCopy {
  /** The local file. */
  source: string;
  /** Where it goes in the container: `dir/name`. */
  dir: string;
  name: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

/** Copies a local file into a container (running or stopped). */
export async function putFile(driver: RuntimeDriver, containerId: string, f: FileCopy): Promise<void> {
  await driver.putArchive(containerId, tarOf(f.source, f.name, f.mode ?? 0o600, { uid: f.uid ?? 0, gid: f.gid ?? 0 }), f.dir);
}

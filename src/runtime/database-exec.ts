import { createReadStream, createWriteStream, statSync } from "node:fs";
import { Readable, Transform, Writable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { DockerDriver } from "./docker.js";

/**
 * docker exec for database work: commands run inside the engine's container with the
 * container's own environment (so passwords never appear in the exec request), output
 * demultiplexed from Docker's stream framing. Every Docker call goes through the driver, so it
 * is counted in berth_docker_api_calls_total like any other.
 */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Docker's multiplexed stream (Tty off): frames of an 8-byte header (stream 1 = stdout,
 * 2 = stderr; big-endian length) and a payload. stdout flows on (with backpressure), stderr is
 * collected up to a limit.
 */
class Demux extends Transform {
  private pending = Buffer.alloc(0);
  stderr = "";

  constructor(private readonly stderrLimit = 16_384) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4);
      if (buf.length < 8 + len) break;
      const payload = buf.subarray(8, 8 + len);
      if (buf[0] === 2) {
        if (this.stderr.length < this.stderrLimit) this.stderr += payload.toString("utf8").slice(0, this.stderrLimit - this.stderr.length);
      } else this.push(payload);
      buf = buf.subarray(8 + len);
    }
    this.pending = Buffer.from(buf);
    cb();
  }
}

async function exitCodeOf(driver: DockerDriver, exec: { inspect(): Promise<{ Running: boolean; ExitCode: number | null }> }): Promise<number> {
  // The stream can end a moment before Docker records the exit code.
  for (let i = 0; i < 50; i++) {
    const info = await driver.call("exec_inspect", () => exec.inspect());
    if (!info.Running && info.ExitCode !== null) return info.ExitCode;
    await new Promise((r) => setTimeout(r, 20));
  }
  return -1;
}

async function runExec(driver: DockerDriver, containerId: string, cmd: string[], sink: Writable | undefined, timeoutMs: number): Promise<{ exitCode: number; stderr: string; stdout: string; timedOut: boolean }> {
  const container = driver.docker.getContainer(containerId);
  const exec = await driver.call("exec_create", () => container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, AttachStdin: false, Tty: false }));
  const stream = await driver.call("exec_start", () => exec.start({ hijack: true, stdin: false }));
  const demux = new Demux();
  let stdout = "";
  const collector =
    sink ??
    new Writable({
      write(chunk: Buffer, _e, cb): void {
        if (stdout.length < 65_536) stdout += chunk.toString("utf8");
        cb();
      },
    });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stream.destroy(new Error(`timed out after ${timeoutMs} ms`));
  }, timeoutMs);
  try {
    await pipeline(stream, demux, collector);
  } catch (e) {
    if (!timedOut) throw e;
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) return { exitCode: -1, stdout, stderr: demux.stderr, timedOut };
  return { exitCode: await exitCodeOf(driver, exec), stdout, stderr: demux.stderr, timedOut };
}

/** Runs a command and returns its exit code and (bounded) output. */
export async function execCapture(driver: DockerDriver, containerId: string, cmd: string[], timeoutMs = 10_000): Promise<ExecResult> {
  return runExec(driver, containerId, cmd, undefined, timeoutMs);
}

/** Runs a command and streams its stdout into `file` (created 0600: dumps hold the data). */
export async function execToFile(driver: DockerDriver, containerId: string, cmd: string[], file: string, timeoutMs: number): Promise<ExecResult & { bytes: number }> {
  const out = createWriteStream(file, { mode: 0o600 });
  const r = await runExec(driver, containerId, cmd, out, timeoutMs);
  if (r.timedOut) out.destroy();
  const bytes = (() => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  })();
  return { ...r, bytes };
}

/** A one-file ustar archive: header, the file's bytes, padding, two zero blocks. */
function tarHeader(name: string, size: number, mode: number, uid: number, gid: number): Buffer {
  const h = Buffer.alloc(512);
  const octal = (value: number, width: number): string => value.toString(8).padStart(width - 1, "0") + "\0";
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode, 8), 100, "ascii");
  h.write(octal(uid, 8), 108, "ascii");
  h.write(octal(gid, 8), 116, "ascii");
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

function tarOf(source: string, name: string, mode: number, uid: number, gid: number): Readable {
  const size = statSync(source).size;
  async function* gen(): AsyncGenerator<Buffer> {
    yield tarHeader(name, size, mode, uid, gid);
    for await (const chunk of createReadStream(source)) yield chunk as Buffer;
    const pad = (512 - (size % 512)) % 512;
    yield Buffer.alloc(pad + 1024);
  }
  return Readable.from(gen());
}

/** Copies a local file into a container (running or stopped) as `dir/name`. */
export async function putFile(driver: DockerDriver, containerId: string, source: string, dir: string, name: string, opts: { mode?: number; uid?: number; gid?: number } = {}): Promise<void> {
  const tar = tarOf(source, name, opts.mode ?? 0o600, opts.uid ?? 0, opts.gid ?? 0);
  await driver.call("container_put_archive", () => driver.docker.getContainer(containerId).putArchive(tar, { path: dir }));
}

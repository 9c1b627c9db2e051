import { Transform, Writable, type Duplex, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";

/**
 * Docker's multiplexed stream (Tty off): frames of an 8-byte header (stream 1 = stdout,
 * 2 = stderr; big-endian length) and a payload.
 */
abstract class FrameReader extends Transform {
  private pending = Buffer.alloc(0);

  protected abstract frame(stream: number, payload: Buffer): void;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4);
      if (buf.length < 8 + len) break;
      this.frame(buf[0], buf.subarray(8, 8 + len));
      buf = buf.subarray(8 + len);
    }
    this.pending = Buffer.from(buf);
    cb();
  }
}

/** stdout flows on (with backpressure), stderr is collected up to a limit. */
class ExecDemux extends FrameReader {
  stderr = "";

  constructor(private readonly stderrLimit = 16_384) {
    super();
  }

  protected frame(stream: number, payload: Buffer): void {
    if (stream !== 2) this.push(payload);
    else if (this.stderr.length < this.stderrLimit) this.stderr += payload.toString("utf8").slice(0, this.stderrLimit - this.stderr.length);
  }
}

/** Both streams' payloads, in order: a container's log text. */
class LogDemux extends FrameReader {
  protected frame(_stream: number, payload: Buffer): void {
    this.push(payload);
  }
}

export function demuxLines(): Transform {
  return new LogDemux();
}

/** Reads an exec's output: stdout into `sink` (or collected, 64 KiB at most), stderr collected. */
export async function collectExec(stream: Duplex, sink: Writable | undefined, timeoutMs: number): Promise<{ stdout: string; stderr: string; timedOut: boolean }> {
  const demux = new ExecDemux();
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
  return { stdout, stderr: demux.stderr, timedOut };
}

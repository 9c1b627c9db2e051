import vm from "node:vm";
import v8 from "node:v8";
import type { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { s3Sdk, type S3Sdk } from "./s3-sdk.js";

/**
 * A streamed multipart upload whose memory is fixed: parts are copied into a few part buffers
 * allocated once per upload and reused, `IN_FLIGHT` parts are sent while the next one fills, and
 * the stream waits (backpressure) when all are busy. `@aws-sdk/lib-storage`'s Upload, used before,
 * builds every part with a fresh `Buffer.concat` and raised `berth serve`'s RSS by 74–99 MB for a
 * 1 GiB dump (docs/benchmarks.md §12, issue 20's budget is 50 MB); this one measured 32 MB
 * (ADR 0023, "Memory").
 */

/** S3's minimum part size; every part but the last must be at least this. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** Parts sent at once while the next one fills. */
export const IN_FLIGHT = 2;
/** S3's limit on parts per upload. */
export const MAX_PARTS = 10_000;
/** Parts per size step: the part size doubles after every this many, so an object can reach ~310 GiB. */
const PARTS_PER_STEP = 2000;

/** The size of part `n` (1-based): 5 MiB for the first 2,000, then doubling every 2,000. */
export function partBytes(n: number): number {
  return MIN_PART_BYTES * 2 ** Math.floor((n - 1) / PARTS_PER_STEP);
}

export interface MultipartTarget {
  client: S3Client;
  bucket: string;
  key: string;
  metadata: Record<string, string>;
}

type YoungGc = () => void;

/**
 * A scavenge of V8's young generation, or nothing where it cannot be had. Each chunk read from the
 * dump's socket is a fresh off-heap buffer whose small wrapper dies young; V8 collects them only
 * when its external-memory limit (~64 MB) is hit, which was most of the remaining growth. One
 * scavenge per part (≈1 ms) frees them as the upload goes.
 */
const youngGc: YoungGc = ((): YoungGc => {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as (o: { type: string; execution: string }) => void;
    return () => gc({ type: "minor", execution: "sync" });
  } catch {
    return () => undefined;
  }
})();

/** The upload's state: buffers free to fill, parts sent and their ETags, the first failure. */
class PartQueue {
  readonly parts: { PartNumber: number; ETag: string }[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly free: Buffer[] = [];
  private failure: unknown;
  uploadId: string | undefined;
  sent = 0;

  constructor(
    private readonly t: MultipartTarget,
    private readonly sdk: S3Sdk,
  ) {}

  /** A buffer for part `n`: a free one of the right size, else a new one. */
  take(n: number): Buffer {
    const size = partBytes(n);
    const i = this.free.findIndex((b) => b.length === size);
    return i >= 0 ? this.free.splice(i, 1)[0]! : Buffer.allocUnsafeSlow(size);
  }

  /** Sends part `n` from `buf[0, len)` and waits until a buffer is free again. */
  async send(buf: Buffer, len: number): Promise<void> {
    this.uploadId ??= (await this.t.client.send(new this.sdk.CreateMultipartUploadCommand({ Bucket: this.t.bucket, Key: this.t.key, ContentType: "application/octet-stream", Metadata: this.t.metadata }))).UploadId;
    const PartNumber = ++this.sent;
    if (PartNumber > MAX_PARTS) throw new Error(`the object needs more than ${MAX_PARTS} parts`);
    const p = this.t.client
      .send(new this.sdk.UploadPartCommand({ Bucket: this.t.bucket, Key: this.t.key, UploadId: this.uploadId, PartNumber, Body: buf.subarray(0, len), ContentLength: len }))
      .then((r) => {
        this.parts.push({ PartNumber, ETag: r.ETag ?? "" });
        this.free.push(buf);
      })
      .catch((e: unknown) => {
        this.failure ??= e;
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    youngGc();
    while (this.inFlight.size >= IN_FLIGHT) await Promise.race(this.inFlight);
    this.throwIfFailed();
  }

  /** Waits for every part in flight; rethrows the first failure. */
  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Aborts the multipart upload (best effort) so no parts are left stored. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.inFlight);
    if (!this.uploadId) return;
    await this.t.client.send(new this.sdk.AbortMultipartUploadCommand({ Bucket: this.t.bucket, Key: this.t.key, UploadId: this.uploadId })).catch(() => undefined);
  }
}

/**
 * Uploads `body` to the target: one PutObject when it fits in one part, else a multipart upload
 * completed when the body ends. Rejects (after aborting the upload) when the body fails or S3
 * refuses a request; resolves when the object is complete.
 */
export async function uploadStream(t: MultipartTarget, body: Readable): Promise<void> {
  const sdk = await s3Sdk();
  const q = new PartQueue(t, sdk);
  try {
    const last = await fillParts(q, body);
    if (q.sent === 0) {
      await t.client.send(new sdk.PutObjectCommand({ Bucket: t.bucket, Key: t.key, Body: last.buf.subarray(0, last.len), ContentLength: last.len, ContentType: "application/octet-stream", Metadata: t.metadata }));
      return;
    }
    if (last.len > 0) await q.send(last.buf, last.len);
    await q.drain();
    q.parts.sort((a, b) => a.PartNumber - b.PartNumber);
    await t.client.send(new sdk.CompleteMultipartUploadCommand({ Bucket: t.bucket, Key: t.key, UploadId: q.uploadId, MultipartUpload: { Parts: q.parts } }));
  } catch (e) {
    body.destroy();
    await q.abort();
    throw e;
  }
}

/** Copies the body into part buffers, sending each full one; answers the last, partly filled one. */
async function fillParts(q: PartQueue, body: Readable): Promise<{ buf: Buffer; len: number }> {
  let buf = q.take(1);
  let len = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    for (let off = 0; off < chunk.length; ) {
      const n = Math.min(chunk.length - off, buf.length - len);
      chunk.copy(buf, len, off, off + n);
      len += n;
      off += n;
      if (len < buf.length) continue;
      await q.send(buf, len);
      buf = q.take(q.sent + 1);
      len = 0;
    }
  }
  return { buf, len };
}

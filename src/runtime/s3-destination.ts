import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { PassThrough, Transform, Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import type { BackupDestinationSpec } from "../core/specs.js";
import { uploadStream } from "./s3-multipart.js";
import { s3Sdk, type S3Sdk } from "./s3-sdk.js";

/**
 * An S3-compatible bucket as a place for backups (issue 20, ADR 0023): streamed multipart
 * uploads with a running SHA-256, streamed downloads checked against it, deletes for retention.
 * Only this module speaks S3; the secret key lives in the client and never in a message.
 */

/** What a BackupDestination's spec resolves to, the secret key in plaintext (from the store's unseal). */
export interface S3Settings extends BackupDestinationSpec {
  /** The BackupDestination's name, for messages. */
  name: string;
}

/** An S3 request that failed, with the service's error code (NoSuchBucket, SignatureDoesNotMatch …). */
export class S3DestinationError extends Error {
  constructor(
    readonly destination: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The S3 error code of a failure: the service's code, else the HTTP status, else the error's name. */
export function s3ErrorCode(e: unknown): string {
  const err = e as { name?: string; Code?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const code = err.Code ?? (err.name && err.name !== "Error" && err.name !== "S3ServiceException" ? err.name : undefined) ?? err.code;
  if (code === "NotFound") return "NoSuchBucket";
  if (code) return code;
  return err.$metadata?.httpStatusCode ? `HTTP${err.$metadata.httpStatusCode}` : "UnknownError";
}

/** `s3://bucket/key` as stored in a backup row. */
export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** The bucket and key of an `s3://bucket/key` path; undefined for anything else. */
export function parseS3Url(url: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  return m ? { bucket: m[1], key: m[2] } : undefined;
}

/**
 * Counts and hashes what is written and hands it on to `out` with backpressure. It never ends
 * `out` itself: the dump's exit code decides that (`seal`) or whether the upload is abandoned.
 */
export class HashingSink extends Writable {
  private readonly hash = createHash("sha256");
  bytes = 0;

  constructor(private readonly out: PassThrough) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.out.destroyed) return cb(new Error("the upload stopped"));
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (this.out.write(chunk)) cb();
    else this.out.once("drain", () => cb());
  }

  override _final(cb: (e?: Error | null) => void): void {
    cb();
  }

  /** The dump is complete: end the upload's input; the SHA-256 of everything written. */
  seal(): string {
    this.out.end();
    return this.hash.digest("hex");
  }
}

/** A bucket named by a BackupDestination. */
export class S3Destination {
  private client: S3Client | undefined;

  constructor(readonly s: S3Settings) {}

  /** The SDK and this destination's client, both made on first use. */
  private async sdk(): Promise<{ sdk: S3Sdk; client: S3Client }> {
    const sdk = await s3Sdk();
    this.client ??= new sdk.S3Client({
      endpoint: this.s.endpoint,
      region: this.s.region,
      forcePathStyle: !!this.s.forcePathStyle,
      credentials: { accessKeyId: this.s.accessKeyId, secretAccessKey: this.s.secretAccessKey },
      // Retries of a streamed body are impossible; the SDK retries the small requests only.
      maxAttempts: 3,
      // Checksums only where S3 requires one: the default (a CRC32 trailer on every streamed
      // part, aws-chunked) is AWS's own and many S3-compatible servers reject or store it verbatim.
      // Integrity is Berth's SHA-256 of the whole dump instead.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    return { sdk, client: this.client };
  }

  get bucket(): string {
    return this.s.bucket;
  }

  /** The object key of a path below the destination's prefix. */
  key(rel: string): string {
    return `${this.s.prefix ?? ""}${rel}`;
  }

  /** An S3DestinationError naming this destination, the operation, the bucket and the S3 error code. */
  failure(op: string, e: unknown): S3DestinationError {
    if (e instanceof S3DestinationError) return e;
    const code = s3ErrorCode(e);
    const detail = String((e as Error).message ?? "").replaceAll(this.s.secretAccessKey, "<redacted>").slice(0, 300);
    return new S3DestinationError(this.s.name, code, `BackupDestination ${this.s.name}: ${op} s3://${this.s.bucket}/${this.s.prefix ?? ""} failed: ${code}${detail && detail !== code ? `: ${detail}` : ""}`);
  }

  /** One request that proves the bucket exists and the keys may list it (what a backup needs first). */
  async check(): Promise<void> {
    try {
      const { sdk, client } = await this.sdk();
      await client.send(new sdk.ListObjectsV2Command({ Bucket: this.s.bucket, Prefix: this.s.prefix, MaxKeys: 1 }));
    } catch (e) {
      throw this.failure("listing", e);
    }
  }

  /**
   * Starts a streamed upload of `body` to `key` (multipart past one part). Resolves when the
   * object is complete; rejects with an S3DestinationError, after aborting the multipart upload.
   */
  async upload(key: string, body: Readable, metadata: Record<string, string> = {}): Promise<void> {
    try {
      await uploadStream({ client: (await this.sdk()).client, bucket: this.s.bucket, key, metadata }, body);
    } catch (e) {
      throw this.failure("uploading to", e);
    }
  }

  /** A small object in one request (the `.sha256` file beside each dump). */
  async putText(key: string, text: string): Promise<void> {
    try {
      const { sdk, client } = await this.sdk();
      await client.send(new sdk.PutObjectCommand({ Bucket: this.s.bucket, Key: key, Body: text, ContentType: "text/plain" }));
    } catch (e) {
      throw this.failure("uploading to", e);
    }
  }

  /** Streams `key` into `file` (mode 0600) and returns the SHA-256 of what arrived. */
  async download(key: string, file: string, bucket = this.s.bucket): Promise<{ sha256: string; bytes: number }> {
    let body: Readable;
    try {
      const { sdk, client } = await this.sdk();
      const r = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
      body = r.Body as Readable;
    } catch (e) {
      throw this.failure("downloading from", e);
    }
    const hash = createHash("sha256");
    let bytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _e, cb): void {
        hash.update(chunk);
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, tap, createWriteStream(file, { mode: 0o600 }));
    } catch (e) {
      throw this.failure("downloading from", e);
    }
    return { sha256: hash.digest("hex"), bytes };
  }

  /** Deletes objects (absent ones count as deleted, as S3 has it); returns the keys that are gone. */
  async remove(keys: string[], bucket = this.s.bucket): Promise<Set<string>> {
    const gone = new Set<string>();
    for (let i = 0; i < keys.length; i += 1000) for (const k of await this.removeBatch(keys.slice(i, i + 1000), bucket)) gone.add(k);
    return gone;
  }

  private async removeBatch(batch: string[], bucket: string): Promise<string[]> {
    try {
      const { sdk, client } = await this.sdk();
      const r = await client.send(new sdk.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      const failed = new Set((r.Errors ?? []).map((x) => x.Key));
      return batch.filter((k) => !failed.has(k));
    } catch (e) {
      throw this.failure("deleting from", e);
    }
  }

  destroy(): void {
    this.client?.destroy();
  }
}

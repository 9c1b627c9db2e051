/**
 * The S3 SDK, loaded on first use: it is ≈ 15 MB of an idle server's memory (docs/benchmarks.md
 * §7) and only installations with a BackupDestination ever need it.
 */
export type S3Sdk = typeof import("@aws-sdk/client-s3");

let sdk: Promise<S3Sdk> | undefined;

export function s3Sdk(): Promise<S3Sdk> {
  sdk ??= import("@aws-sdk/client-s3");
  return sdk;
}

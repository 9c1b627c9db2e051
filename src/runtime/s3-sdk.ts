/**
 * The S3 SDK, loaded on first use: over a third of the server's bundle (the main chunk went
 * 2.97 → 1.92 MB), and only installations with a BackupDestination ever need it.
 */
export type S3Sdk = typeof import("@aws-sdk/client-s3");

let sdk: Promise<S3Sdk> | undefined;

export function s3Sdk(): Promise<S3Sdk> {
  sdk ??= import("@aws-sdk/client-s3");
  return sdk;
}

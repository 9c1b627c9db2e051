/** s3rver ships no types; test/helpers/s3.ts describes the little it uses. */
declare module "s3rver" {
  const S3rver: new (options: Record<string, unknown>) => unknown;
  export default S3rver;
}

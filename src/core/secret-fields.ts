/**
 * Which fields of each kind hold secrets (ADR 0006, ADR 0013). The store encrypts, seals and
 * redacts them (src/store/secrets.ts); validation never repeats their values in an error.
 */

/**
 * A secret field under `spec`: a map holds one secret per key (`spec.secretEnv.TOKEN`), a
 * string field is one secret (`spec.webhook.secret`). Each value is sealed for its own path.
 */
export interface SecretField {
  path: readonly string[];
  map: boolean;
}

/** Every kind's secret fields; a kind not listed has none. */
export const SECRET_FIELDS: Readonly<Record<string, readonly SecretField[]>> = {
  Application: [
    { path: ["secretEnv"], map: true },
    { path: ["source", "git", "auth", "token"], map: false },
    { path: ["source", "git", "webhook", "secret"], map: false },
  ],
  BackupDestination: [{ path: ["secretAccessKey"], map: false }],
  Sync: [
    { path: ["source", "git", "auth", "token"], map: false },
    { path: ["webhook", "secret"], map: false },
  ],
};

/** Whether `path` (from the object's root, e.g. ["spec","secretEnv","TOKEN"]) is one secret value of `kind`. */
export function isSecretPath(kind: string, path: readonly (string | number)[]): boolean {
  return (SECRET_FIELDS[kind] ?? []).some((f) => {
    const full = ["spec", ...f.path];
    if (path.length !== full.length + (f.map ? 1 : 0)) return false;
    return full.every((seg, i) => path[i] === seg);
  });
}

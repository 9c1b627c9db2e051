/**
 * Which fields of each kind hold secrets (ADR 0006, ADR 0013). The store encrypts, seals and
 * redacts them (src/store/secrets.ts); validation never repeats their values in an error.
 */

/**
 * A secret field under `spec`: a map holds one secret per key (`spec.secretEnv.TOKEN`), a
 * string field is one secret (`spec.webhook.secret`). With `entry`, the map's values are objects
 * and the secret is that key of each (`spec.registries.<server>.password`, ADR 0022). Each value
 * is sealed for its own path.
 */
export interface SecretField {
  path: readonly string[];
  map: boolean;
  entry?: string;
}

/** Every kind's secret fields; a kind not listed has none. */
export const SECRET_FIELDS: Readonly<Record<string, readonly SecretField[]>> = {
  Application: [
    { path: ["secretEnv"], map: true },
    { path: ["source", "git", "auth", "token"], map: false },
    { path: ["source", "git", "webhook", "secret"], map: false },
  ],
  // Registry credentials (ADR 0022): keyed by server, which may hold dots (127.0.0.1:5000).
  Project: [{ path: ["registries"], map: true, entry: "password" }],
  BackupDestination: [{ path: ["secretAccessKey"], map: false }],
  Sync: [
    { path: ["source", "git", "auth", "token"], map: false },
    { path: ["webhook", "secret"], map: false },
  ],
  // A chat webhook URL is itself the credential; a generic one often carries a token too.
  Notification: [
    { path: ["channel", "webhook", "url"], map: false },
    { path: ["channel", "webhook", "headers"], map: true },
    { path: ["channel", "slack", "webhookUrl"], map: false },
    { path: ["channel", "discord", "webhookUrl"], map: false },
    { path: ["channel", "telegram", "botToken"], map: false },
    { path: ["channel", "email", "smtp", "password"], map: false },
  ],
};

/** Whether `path` (from the object's root, e.g. ["spec","secretEnv","TOKEN"]) is one secret value of `kind`. */
export function isSecretPath(kind: string, path: readonly (string | number)[]): boolean {
  return (SECRET_FIELDS[kind] ?? []).some((f) => {
    const full = ["spec", ...f.path];
    if (!full.every((seg, i) => path[i] === seg)) return false;
    // A server key split at its dots (`berth seal --field spec.registries.127.0.0.1:5000.password`) is still one key.
    if (f.entry) return path.length >= full.length + 2 && path[path.length - 1] === f.entry;
    return path.length === full.length + (f.map ? 1 : 0);
  });
}

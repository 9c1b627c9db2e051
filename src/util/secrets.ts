import { createCipheriv, createDecipheriv, randomBytes, createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Prefix of an encrypted value as stored: version, then base64url(iv | tag | ciphertext). */
const PREFIX = "enc:v1:";
export const REDACTED = "<redacted>";

/** AES-256-GCM encryption of secret values at rest (secretEnv, credentials, certificate keys). */
export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error("secret key must be 32 bytes");
    this.key = key;
  }

  /**
   * The key comes from BERTH_SECRET_KEY (64 hex chars or base64 of 32 bytes) or from
   * `<dataDir>/secret.key`, created on first start with mode 0600.
   */
  static fromEnvOrDataDir(dataDir: string, env: NodeJS.ProcessEnv = process.env): SecretBox {
    const fromEnv = env.BERTH_SECRET_KEY;
    if (fromEnv) return new SecretBox(parseKey(fromEnv));
    const file = path.join(dataDir, "secret.key");
    if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
    return new SecretBox(parseKey(readFileSync(file, "utf8").trim()));
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
  }

  decrypt(stored: string): string {
    if (!isEncrypted(stored)) throw new Error("value is not an encrypted secret");
    const raw = Buffer.from(stored.slice(PREFIX.length), "base64url");
    const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  }
}

export function isEncrypted(v: unknown): v is string {
  return typeof v === "string" && v.startsWith(PREFIX);
}

function parseKey(text: string): Buffer {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  const b = Buffer.from(text, "base64");
  if (b.length === 32) return b;
  // Any other passphrase is stretched so that a short key still gives 256 bits.
  return createHash("sha256").update(text).digest();
}

import { createCipheriv, createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
/**
 * Sealed strings (ADR 0006): how the API shows a secret value so that it can be sent back.
 * `sealed:v1:` + base64url(iv | tag | ciphertext), AES-256-GCM under a key derived from the
 * installation key, with the object and field it belongs to as additional authenticated data.
 */

export const SEALED_PREFIX = "sealed:v1:";
/** HKDF info: the sealing keys are never the at-rest key itself (ADR 0006). */
const HKDF_INFO = "berth sealed strings v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BODY = /^[A-Za-z0-9_-]+$/;

/** Where a sealed value belongs: it opens only for the same kind, Project, object and field. */
export interface SealBinding {
  kind: string;
  namespace: string | undefined;
  name: string;
  /** The field path, e.g. `spec.secretEnv.TOKEN`. */
  field: string;
}

export function isSealed(v: unknown): v is string {
  return typeof v === "string" && v.startsWith(SEALED_PREFIX);
}

/** JSON of a string array is unambiguous: no two bindings encode to the same bytes. */
function bindingText(b: SealBinding): string {
  return JSON.stringify(["berth.dev/sealed/v1", b.kind, b.namespace ?? "", b.name, b.field]);
}

export class SealedStrings {
  private readonly encKey: Buffer;
  private readonly ivKey: Buffer;

  constructor(installationKey: Buffer) {
    const okm = Buffer.from(hkdfSync("sha256", installationKey, Buffer.alloc(0), HKDF_INFO, 64));
    this.encKey = okm.subarray(0, 32);
    this.ivKey = okm.subarray(32);
  }

  /**
   * Deterministic: the IV is an HMAC of binding and plaintext (SIV-style), so the same value of
   * the same field reads back identically every time and `kubectl diff` stays empty.
   */
  seal(binding: SealBinding, plain: string): string {
    const aad = Buffer.from(bindingText(binding), "utf8");
    const iv = this.syntheticIv(aad, plain);
    const cipher = createCipheriv("aes-256-gcm", this.encKey, iv);
    cipher.setAAD(aad);
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
  }

  /** The plaintext, or undefined when the value was sealed for another binding or key, or is malformed. */
  open(binding: SealBinding, sealed: string): string | undefined {
    const raw = decodeBody(sealed);
    if (!raw) return undefined;
    const aad = Buffer.from(bindingText(binding), "utf8");
    const iv = raw.subarray(0, IV_BYTES);
    const plain = this.decrypt(aad, iv, raw);
    // Only the canonical form opens: one field and value have exactly one sealed string.
    if (plain === undefined || !timingSafeEqual(iv, this.syntheticIv(aad, plain))) return undefined;
    return plain;
  }

  private decrypt(aad: Buffer, iv: Buffer, raw: Buffer): string | undefined {
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.encKey, iv);
      decipher.setAAD(aad);
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      return undefined;
    }
  }

  private syntheticIv(aad: Buffer, plain: string): Buffer {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(aad.length);
    // Length-prefixed binding, then the plaintext: no (binding, plaintext) pair collides with another.
    return createHmac("sha256", this.ivKey).update(len).update(aad).update(plain, "utf8").digest().subarray(0, IV_BYTES);
  }
}

function decodeBody(sealed: string): Buffer | undefined {
  const text = sealed.slice(SEALED_PREFIX.length);
  if (!isSealed(sealed) || !BODY.test(text)) return undefined;
  const raw = Buffer.from(text, "base64url");
  return raw.length >= IV_BYTES + TAG_BYTES ? raw : undefined;
}

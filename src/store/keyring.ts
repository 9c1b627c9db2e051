import { createHash, createHmac, randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import path from "node:path";
/**
 * The installation's keyring (ADR 0016): the keys SecretBox encrypts with (the first, the
 * primary) and decrypts with (every one). Normally one key; two while `berth rotate-key` runs.
 *
 * Text form, in `<data-dir>/secret.key` and in BERTH_SECRET_KEY: one `<id>:<64 hex>` entry per
 * line (the file) or separated by commas or whitespace (the variable), primary first. A text that
 * is not entries is one key as before (64 hex, base64 of 32 bytes, or a passphrase stretched by
 * SHA-256), its id its fingerprint: every installation made before keyrings reads unchanged.
 */

export interface KeyEntry {
  /** Names the key in the keyring, the rotation state and the audit row; never the key itself. */
  id: string;
  key: Buffer;
}

/** Where the keyring comes from: rotation can rewrite a file, never the process environment. */
export type KeySource = { kind: "file"; path: string } | { kind: "env" };

const ENTRY = /^([A-Za-z0-9_-]{1,64}):([0-9a-fA-F]{64})$/;
export const KEY_FILE = "secret.key";

/** A key's id when none is written: a check value (HMAC of a constant under the key), not the key. */
export function fingerprint(key: Buffer): string {
  return "k" + createHmac("sha256", key).update("berth key id v1").digest("hex").slice(0, 12);
}

/** A fresh random key; its id is its fingerprint. */
export function generateKey(): KeyEntry {
  const key = randomBytes(32);
  return { id: fingerprint(key), key };
}

function legacyKey(text: string): Buffer {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  const b = Buffer.from(text, "base64");
  if (b.length === 32) return b;
  // Any other passphrase is stretched so that a short key still gives 256 bits.
  return createHash("sha256").update(text).digest();
}

/**
 * The keys a keyring text holds, primary first; throws on a duplicate id or an empty text. A
 * one-key text is read as before keyrings: the file's trimmed, the variable's as it is
 * (`untrimmed`), so a passphrase with spaces around it still gives the same key.
 */
export function parseKeyring(text: string, opts: { untrimmed?: boolean } = {}): KeyEntry[] {
  const trimmed = text.trim();
  if (!trimmed) throw new Error("the secret key is empty");
  const parts = trimmed.split(/[\s,]+/).filter(Boolean);
  if (!parts.every((p) => ENTRY.test(p))) {
    const key = legacyKey(opts.untrimmed ? text : trimmed);
    return [{ id: fingerprint(key), key }];
  }
  const out: KeyEntry[] = [];
  for (const p of parts) {
    const [, id, hex] = ENTRY.exec(p)!;
    if (out.some((e) => e.id === id)) throw new Error(`the keyring names key "${id}" twice`);
    out.push({ id, key: Buffer.from(hex, "hex") });
  }
  return out;
}

/** The file form: one `<id>:<hex>` line per key, primary first. */
export function formatKeyring(keys: readonly KeyEntry[]): string {
  return keys.map((k) => `${k.id}:${k.key.toString("hex")}\n`).join("");
}

/**
 * Replaces the key file atomically (a temporary file, fsync, rename, fsync of the directory): a
 * crash leaves the old keyring or the new one, never half of one. Mode 0600.
 */
export function writeKeyFile(file: string, keys: readonly KeyEntry[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, formatKeyring(keys));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  try {
    const dir = openSync(path.dirname(file), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // Some filesystems cannot fsync a directory; the rename is still atomic.
  }
}

/**
 * The keyring from BERTH_SECRET_KEY, else from `<dataDir>/secret.key` (made with one fresh key
 * on first start, mode 0600).
 */
export function loadKeyring(dataDir: string, env: NodeJS.ProcessEnv = process.env): { keys: KeyEntry[]; source: KeySource } {
  const fromEnv = env.BERTH_SECRET_KEY;
  if (fromEnv) return { keys: parseKeyring(fromEnv, { untrimmed: true }), source: { kind: "env" } };
  const file = path.join(dataDir, KEY_FILE);
  if (!existsSync(file)) {
    try {
      // The first start: one key, in the old one-line form (still a valid keyring).
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, randomBytes(32).toString("hex") + "\n");
      closeSync(fd);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
  return { keys: parseKeyring(readFileSync(file, "utf8")), source: { kind: "file", path: file } };
}

/**
 * The one AEAD module: every secret byte at rest goes through here.
 * AES-256-GCM, a fresh 12-byte IV per value, the record's id as additional data (so a
 * ciphertext copied to another row does not decrypt), and a leading key-version byte so
 * data keys can rotate: blob = version(1) ‖ iv(12) ‖ tag(16) ‖ ciphertext.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from "node:crypto";

const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;

export class DecryptionError extends Error {}

export class Aead {
  readonly #keys = new Map<number, KeyObject>();
  readonly #currentVersion: number;

  /**
   * keys: version → 32 raw bytes. `currentVersion` encrypts (default: the highest); all
   * decrypt. Versions are assigned by the database's `data_keys` table (see keyring.ts).
   */
  constructor(keys: Map<number, Buffer>, currentVersion?: number) {
    for (const [version, raw] of keys) {
      if (raw.length !== 32) throw new Error(`data key version ${version} is not 32 bytes`);
      if (version < 1 || version > 255) throw new Error("data key version must be 1..255");
      this.#keys.set(version, createSecretKey(raw));
    }
    if (this.#keys.size === 0) throw new Error("no data key");
    this.#currentVersion = currentVersion ?? Math.max(...this.#keys.keys());
    if (!this.#keys.has(this.#currentVersion)) throw new Error(`no data key with version ${this.#currentVersion}`);
  }

  /** The key version new ciphertexts carry. */
  get currentVersion(): number {
    return this.#currentVersion;
  }

  /** True when this instance can decrypt blobs of that key version. */
  holds(version: number): boolean {
    return this.#keys.has(version);
  }

  static fromBase64(dataKey: string): Aead {
    return new Aead(new Map([[1, Buffer.from(dataKey, "base64")]]));
  }

  encrypt(plaintext: Buffer, aad: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#keys.get(this.#currentVersion)!, iv);
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.of(this.#currentVersion), iv, cipher.getAuthTag(), ciphertext]);
  }

  decrypt(blob: Buffer, aad: string): Buffer {
    if (blob.length < HEADER_BYTES) throw new DecryptionError("ciphertext is truncated");
    const key = this.#keys.get(blob[0]!);
    if (!key) throw new DecryptionError(`no data key with version ${blob[0]}`);
    const decipher = createDecipheriv("aes-256-gcm", key, blob.subarray(1, 1 + IV_BYTES));
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(blob.subarray(1 + IV_BYTES, HEADER_BYTES));
    try {
      // GCM's final() yields no bytes; it checks the tag (and throws), so nothing unverified leaves.
      const plaintext = decipher.update(blob.subarray(HEADER_BYTES));
      decipher.final();
      return plaintext;
    } catch {
      throw new DecryptionError("data key does not match the encrypted data");
    }
  }
}

export function generateDataKey(): string {
  return randomBytes(32).toString("base64");
}

/** The key version a blob was written under (its first byte); undefined for an empty blob. */
export function keyVersionOf(blob: Buffer): number | undefined {
  return blob[0];
}

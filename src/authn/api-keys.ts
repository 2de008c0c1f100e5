/**
 * API keys in Conjur's shape: 32 random bytes read as eight big-endian uint32s, each
 * written in lower-case Crockford base32 and concatenated: 40–56 characters, 54 on average
 * (a word below 2^30 takes 6 digits, not 7; about one key in 700 is shorter than 50).
 */
import { randomBytes, timingSafeEqual, createHash } from "node:crypto";

const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";

function base32(n: number): string {
  let out = "";
  do {
    out = CROCKFORD[n % 32]! + out;
    n = Math.floor(n / 32);
  } while (n > 0);
  return out;
}

export function generateApiKey(): string {
  const bytes = randomBytes(32);
  let key = "";
  for (let i = 0; i < 32; i += 4) key += base32(bytes.readUInt32BE(i));
  return key;
}

/** Constant-time comparison of two byte strings of possibly different lengths. */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  // Hashing first equalises lengths so the comparison time does not reveal them.
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

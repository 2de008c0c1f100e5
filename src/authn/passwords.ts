/**
 * Passwords: Conjur's complexity rule, hashed with scrypt (node:crypto, no native
 * dependency; see docs/adr/0003-scrypt-passwords.md), then encrypted at rest like API keys.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import { errors } from "../errors.js";

const scryptAsync = promisify(scrypt) as (
  password: Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;
const PARAMS = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const SPECIALS = /[ !"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/;

export function assertPasswordComplexity(password: string): void {
  const upper = (password.match(/[A-Z]/g) ?? []).length;
  const lower = (password.match(/[a-z]/g) ?? []).length;
  const ok =
    password.length >= 12 &&
    password.length <= 128 &&
    upper >= 2 &&
    lower >= 2 &&
    /\d/.test(password) &&
    SPECIALS.test(password) &&
    !/[\r\n]/.test(password);
  if (!ok) {
    throw errors.validationFailed(
      "password",
      "CONJ00046E must be between 12 and 128 characters and have at least 2 uppercase letters, 2 lowercase letters, 1 digit and 1 special character",
    );
  }
}

export async function hashPassword(password: string): Promise<Buffer> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(Buffer.from(password, "utf8"), salt, 32, PARAMS);
  return Buffer.concat([salt, hash]);
}

export async function verifyPassword(password: Buffer, stored: Buffer): Promise<boolean> {
  const salt = stored.subarray(0, 16);
  const hash = await scryptAsync(password, salt, 32, PARAMS);
  return timingSafeEqual(hash, stored.subarray(16));
}

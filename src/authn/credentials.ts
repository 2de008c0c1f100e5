/**
 * Credentials of users and hosts: the API key (encrypted, AAD = role id) and an optional
 * password hash (encrypted the same way). Functions take their side effects as arguments.
 */
import type { Aead } from "../crypto/aead.js";
import type { Queryable } from "../storage/database.js";
import { constantTimeEqual, generateApiKey } from "./api-keys.js";
import { hashPassword, verifyPassword } from "./passwords.js";

interface Row {
  api_key: Buffer;
  password_hash: Buffer | null;
  rotated_at: Date;
}

const load = async (db: Queryable, roleId: string): Promise<Row | undefined> =>
  // Named: every authentication runs it, so each connection parses and plans it once.
  (await db.query<Row>({ name: "load-credentials", text: "SELECT api_key, password_hash, rotated_at FROM credentials WHERE role_id = $1", values: [roleId] })).rows[0];

/** Give a role a fresh API key (creating its credentials row); returns the key. */
export async function rotateApiKey(db: Queryable, aead: Aead, roleId: string): Promise<string> {
  const key = generateApiKey();
  await db.query(
    `INSERT INTO credentials (role_id, api_key) VALUES ($1, $2)
     ON CONFLICT (role_id) DO UPDATE SET api_key = EXCLUDED.api_key, rotated_at = now()`,
    [roleId, aead.encrypt(Buffer.from(key), roleId)],
  );
  return key;
}

export async function apiKeyOf(db: Queryable, aead: Aead, roleId: string): Promise<string | undefined> {
  const row = await load(db, roleId);
  return row ? aead.decrypt(row.api_key, roleId).toString() : undefined;
}

export async function rotatedAt(db: Queryable, roleId: string): Promise<Date | undefined> {
  return (await load(db, roleId))?.rotated_at;
}

/** True when `candidate` is the role's API key (constant-time). */
export async function checkApiKey(db: Queryable, aead: Aead, roleId: string, candidate: Buffer): Promise<boolean> {
  const row = await load(db, roleId);
  if (!row || candidate.length === 0) return false;
  return constantTimeEqual(aead.decrypt(row.api_key, roleId), candidate);
}

/** Basic auth secret: the API key first, then the password, as Conjur does. */
export async function checkApiKeyOrPassword(db: Queryable, aead: Aead, roleId: string, secret: Buffer): Promise<boolean> {
  const row = await load(db, roleId);
  if (!row || secret.length === 0) return false;
  if (constantTimeEqual(aead.decrypt(row.api_key, roleId), secret)) return true;
  if (!row.password_hash) return false;
  return verifyPassword(secret, aead.decrypt(row.password_hash, roleId));
}

export async function setPassword(db: Queryable, aead: Aead, roleId: string, password: string): Promise<void> {
  const hash = await hashPassword(password);
  await db.query("UPDATE credentials SET password_hash = $2 WHERE role_id = $1", [roleId, aead.encrypt(hash, roleId)]);
}

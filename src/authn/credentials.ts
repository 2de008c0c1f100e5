/**
 * Credentials of users and hosts: the API key (encrypted, AAD = role id) and an optional
 * password hash (encrypted the same way). Functions take their side effects as arguments.
 */
import type pg from "pg";
import type { Aead } from "../crypto/aead.js";
import { perTurnLoader } from "../storage/per-turn-loader.js";
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
  (
    await db.query<Row>({
      name: "load-credentials",
      text: "SELECT api_key, password_hash, rotated_at FROM credentials WHERE role_id = $1",
      values: [roleId],
    })
  ).rows[0];

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

/** What an API-key authentication needs of a role: its key and `restricted_to`, from one snapshot. */
export interface ApiKeyLogin {
  apiKey: Buffer;
  restrictedTo: string[];
}

async function loadApiKeyLogins(pool: pg.Pool, roleIds: readonly string[]): Promise<(ApiKeyLogin | undefined)[]> {
  const { rows } = await pool.query<{ role_id: string; api_key: Buffer; restricted_to: string[] }>({
    name: "load-api-key-logins",
    text: "SELECT c.role_id, c.api_key, r.restricted_to FROM unnest($1::text[]) AS i(id) JOIN credentials c ON c.role_id = i.id JOIN roles r ON r.role_id = c.role_id",
    values: [roleIds],
  });
  const byRole = new Map(rows.map((row) => [row.role_id, { apiKey: row.api_key, restrictedTo: row.restricted_to }]));
  return roleIds.map((id) => byRole.get(id));
}

/** The authentications of one event-loop turn share one statement (storage/per-turn-loader.ts). */
const joinedLogins = perTurnLoader(loadApiKeyLogins);

/** The role's API key (still encrypted) and `restricted_to`; undefined for a role without credentials. */
export const apiKeyLoginOf = (pool: pg.Pool, roleId: string): Promise<ApiKeyLogin | undefined> =>
  joinedLogins(pool).load(roleId);

/** True when `candidate` is `login`'s API key (constant-time). */
export function apiKeyMatches(aead: Aead, roleId: string, login: ApiKeyLogin | undefined, candidate: Buffer): boolean {
  if (!login || candidate.length === 0) return false;
  return constantTimeEqual(aead.decrypt(login.apiKey, roleId), candidate);
}

/** Basic auth secret: the API key first, then the password, as Conjur does. */
export async function checkApiKeyOrPassword(
  db: Queryable,
  aead: Aead,
  roleId: string,
  secret: Buffer,
): Promise<boolean> {
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

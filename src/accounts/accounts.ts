/**
 * Accounts. Creating one makes its token-signing key, the admin user (owning itself) with
 * an API key, and the root policy owned by admin, all in one transaction.
 */
import type pg from "pg";
import { rotateApiKey } from "../authn/credentials.js";
import { TokenService } from "../authn/tokens.js";
import { fullId } from "../authz/ids.js";
import type { Aead } from "../crypto/aead.js";
import { inTransaction } from "../storage/database.js";

export class AccountExistsError extends Error {}
export class AccountMissingError extends Error {}

export async function accountExists(pool: pg.Pool, name: string): Promise<boolean> {
  return ((await pool.query("SELECT 1 FROM accounts WHERE name = $1", [name])).rowCount ?? 0) > 0;
}

/**
 * Returns the admin's API key; throws AccountExistsError when the name is taken. `storeKey`,
 * when given, runs before the commit: if it fails, the account is not created (so a key that
 * could not be stored is never the only key).
 */
export async function createAccount(
  pool: pg.Pool,
  aead: Aead,
  name: string,
  storeKey?: (apiKey: string) => Promise<void>,
  adminOwner?: string,
): Promise<string> {
  return inTransaction(pool, async (db) => {
    const inserted = await db.query("INSERT INTO accounts (name) VALUES ($1) ON CONFLICT DO NOTHING", [name]);
    if (inserted.rowCount === 0) throw new AccountExistsError(`account '${name}' already exists`);
    await TokenService.createSigningKey(db, aead, name);
    const admin = fullId(name, "user", "admin");
    const root = fullId(name, "policy", "root");
    await db.query("INSERT INTO roles (role_id) VALUES ($1), ($2)", [admin, root]);
    // `POST /accounts` makes the caller the owner of the new admin's resource, as Conjur does.
    await db.query("INSERT INTO resources (resource_id, owner_id) VALUES ($1, $3), ($2, $1)", [
      admin,
      root,
      adminOwner ?? admin,
    ]);
    await db.query(
      "INSERT INTO role_memberships (role_id, member_id, admin_option, ownership) VALUES ($1, $2, true, true)",
      [root, admin],
    );
    // A self-owned admin holds its own role with the owner's grant, as in Conjur (where admin is then
    // the one member of user:admin: conjur-api-go's TestClient_RoleMembers). A creator from POST
    // /accounts owns the resource but is not made a member (no privileges across accounts).
    if (adminOwner === undefined) {
      await db.query(
        "INSERT INTO role_memberships (role_id, member_id, admin_option, ownership) VALUES ($1, $1, true, true)",
        [admin],
      );
    }
    const apiKey = await rotateApiKey(db, aead, admin);
    await storeKey?.(apiKey);
    return apiKey;
  });
}

/** Gives the account's admin user a new API key (the old one stops working); returns it. */
export async function resetAdminKey(pool: pg.Pool, aead: Aead, name: string): Promise<string> {
  return inTransaction(pool, async (db) => {
    const admin = fullId(name, "user", "admin");
    const found = await db.query("SELECT 1 FROM accounts a JOIN roles r ON r.role_id = $2 WHERE a.name = $1", [
      name,
      admin,
    ]);
    if (found.rowCount === 0) throw new AccountMissingError(`account '${name}' does not exist`);
    return rotateApiKey(db, aead, admin);
  });
}

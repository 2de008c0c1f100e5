/**
 * What `/accounts` needs beyond creation (conjur-api-second-pass.md §9). Privileges are held
 * on `!:webservice:accounts`, owned by `!:!:root`, both made on first use: roles of the special
 * account `!` (e.g. its admin, or roles its policy permits) may list (read), create (execute)
 * and delete (update) accounts; an ordinary account's admin may not.
 */
import type pg from "pg";
import { accessToOne } from "../authz/permissions.js";
import type { Queryable } from "../storage/database.js";
import { inTransaction } from "../storage/database.js";

export const ACCOUNTS_WEBSERVICE = "!:webservice:accounts";
const ACCOUNTS_OWNER = "!:!:root";
/** The account whose roles administer accounts; never listed. */
export const SYSTEM_ACCOUNT = "!";

export async function ensureAccountsWebservice(db: Queryable): Promise<void> {
  await db.query("INSERT INTO roles (role_id) VALUES ($1) ON CONFLICT DO NOTHING", [ACCOUNTS_OWNER]);
  await db.query("INSERT INTO resources (resource_id, owner_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [
    ACCOUNTS_WEBSERVICE,
    ACCOUNTS_OWNER,
  ]);
}

export async function mayManageAccounts(
  db: Queryable,
  roleId: string,
  privilege: "read" | "execute" | "update",
): Promise<boolean> {
  await ensureAccountsWebservice(db);
  return (await accessToOne(db, roleId, ACCOUNTS_WEBSERVICE, privilege)).allowed;
}

export async function listAccounts(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    "SELECT name FROM accounts WHERE name <> $1 ORDER BY created_at, name",
    [SYSTEM_ACCOUNT],
  );
  return rows.map((r) => r.name);
}

/** Deletes every role, resource (with secrets, credentials, annotations…) and the signing key of `name`. False when unknown. */
export async function deleteAccount(pool: pg.Pool, name: string): Promise<boolean> {
  return inTransaction(pool, async (db) => {
    const found = await db.query("SELECT 1 FROM accounts WHERE name = $1 FOR UPDATE", [name]);
    if (found.rowCount === 0) return false;
    const prefix = `${name.replace(/[\\%_]/g, (c) => `\\${c}`)}:%`;
    await db.query("DELETE FROM resources WHERE resource_id LIKE $1", [prefix]);
    await db.query("DELETE FROM roles WHERE role_id LIKE $1", [prefix]);
    await db.query("DELETE FROM accounts WHERE name = $1", [name]);
    return true;
  });
}

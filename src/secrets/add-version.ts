/**
 * Write a variable's value: a new version unless it equals the latest; only the newest
 * `keep` versions survive, pruned in the same transaction. Commits a NOTIFY on channel
 * `strongroom_secret_changed` (payload: the variable id) so every replica's controller
 * can refresh what uses it.
 */
import type pg from "pg";
import { accessToOne } from "../authz/permissions.js";
import { parseFullId } from "../authz/ids.js";
import type { Aead } from "../crypto/aead.js";
import { errors } from "../errors.js";
import { inTransaction } from "../storage/database.js";
import { secretAad } from "./secret-rows.js";

export const SECRET_CHANGED_CHANNEL = "strongroom_secret_changed";

export interface AddVersionResult {
  version: number;
  created: boolean;
}

export async function addVersion(
  deps: { pool: pg.Pool; aead: Aead; keep: number; beforeCommit?: () => Promise<void> },
  roleId: string,
  resourceId: string,
  value: Buffer,
): Promise<AddVersionResult> {
  if (value.length === 0) throw errors.argument("'value' may not be empty");
  return inTransaction(deps.pool, async (db) => {
    await authorizeUpdate(db, roleId, resourceId);
    // Serialise writers of one variable so version numbers never collide.
    await db.query("SELECT 1 FROM resources WHERE resource_id = $1 FOR UPDATE", [resourceId]);
    const latest = (await db.query<{ version: number; value: Buffer }>("SELECT version, value FROM secrets WHERE resource_id = $1 ORDER BY version DESC LIMIT 1", [resourceId])).rows[0];
    if (latest && deps.aead.decrypt(latest.value, secretAad(resourceId, latest.version)).equals(value)) {
      return { version: latest.version, created: false };
    }
    const version = (latest?.version ?? 0) + 1;
    await db.query("INSERT INTO secrets (resource_id, version, value) VALUES ($1, $2, $3)", [resourceId, version, deps.aead.encrypt(value, secretAad(resourceId, version))]);
    await db.query("DELETE FROM secrets WHERE resource_id = $1 AND version <= $2", [resourceId, version - deps.keep]);
    await db.query("SELECT pg_notify($1, $2)", [SECRET_CHANGED_CHANNEL, resourceId]);
    // The audit record is written before the commit: a change that cannot be audited rolls back.
    await deps.beforeCommit?.();
    return { version, created: true };
  });
}

/** `?expirations`: clear expiry on every version (rotators call this). */
export async function clearExpirations(deps: { pool: pg.Pool; beforeCommit?: () => Promise<void> }, roleId: string, resourceId: string): Promise<void> {
  await inTransaction(deps.pool, async (db) => {
    await authorizeUpdate(db, roleId, resourceId);
    await db.query("UPDATE secrets SET expires_at = NULL WHERE resource_id = $1", [resourceId]);
    await deps.beforeCommit?.();
  });
}

async function authorizeUpdate(db: pg.PoolClient, roleId: string, resourceId: string): Promise<void> {
  const access = await accessToOne(db, roleId, resourceId, "update");
  if (!access.visible) {
    const id = parseFullId(resourceId)!;
    throw errors.recordNotFound(id.account, id.kind, id.identifier);
  }
  if (!access.allowed) throw errors.forbidden();
}

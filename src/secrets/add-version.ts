/**
 * Write a variable's value: a new version unless it equals the latest; only the newest
 * `keep` versions survive, pruned in the same transaction. Once committed, a NOTIFY on
 * channel `strongroom_secret_changed` (payload: the variable id) tells every replica's
 * controller and watchers to refresh what uses it.
 *
 * The NOTIFY follows the commit instead of riding in it: Postgres holds one database-wide
 * lock from a notifying transaction's commit until its WAL is flushed, so notifying
 * writers committed one fsync at a time (~500 writes/s here, ~900 without). The price is a
 * crash between the commit and the NOTIFY: that one signal is lost, and the controller's
 * refresh interval (its safety net) catches up. See docs/adr/0016-read-path.md.
 */
import type pg from "pg";
import { accessToOneCached } from "../authz/access-cached.js";
import type { Queryable } from "../storage/database.js";
import { parseFullId } from "../authz/ids.js";
import type { Aead } from "../crypto/aead.js";
import { errors } from "../errors.js";
import { inTransaction } from "../storage/database.js";
import { secretAad } from "./secret-rows.js";

export const SECRET_CHANGED_CHANNEL = "strongroom_secret_changed";

const WRITE_VERSION = `WITH inserted AS (INSERT INTO secrets (resource_id, version, value) VALUES ($1, $2, $3))
  DELETE FROM secrets WHERE resource_id = $1 AND version <= $4`;

/**
 * The signal alone, in its own one-statement transaction. That transaction holds no data,
 * so it need not wait for its commit record to reach the disk; it would otherwise hold
 * the notify lock through an fsync again. The secret itself was committed durably before.
 */
const NOTIFY = "SELECT pg_notify($1, $2), set_config('synchronous_commit', 'off', true)";

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
  // Privileges first, before a transaction or a lock is taken for this caller.
  await authorizeUpdate(deps.pool, roleId, resourceId);
  const result = await inTransaction(deps.pool, async (db): Promise<AddVersionResult> => {
    // Serialise writers of one variable so version numbers never collide.
    await db.query({ name: "lock-variable", text: "SELECT 1 FROM resources WHERE resource_id = $1 FOR UPDATE", values: [resourceId] });
    // A statement of its own, after the lock: it sees what the writer before us committed.
    const latest = (await db.query<{ version: number; value: Buffer }>({ name: "latest-version", text: "SELECT version, value FROM secrets WHERE resource_id = $1 ORDER BY version DESC LIMIT 1", values: [resourceId] })).rows[0];
    if (latest && deps.aead.decrypt(latest.value, secretAad(resourceId, latest.version)).equals(value)) {
      return { version: latest.version, created: false };
    }
    const version = (latest?.version ?? 0) + 1;
    // Insert and prune in one round trip.
    await db.query({ name: "write-version", text: WRITE_VERSION, values: [resourceId, version, deps.aead.encrypt(value, secretAad(resourceId, version)), version - deps.keep] });
    // The audit record is written before the commit: a change that cannot be audited rolls back.
    await deps.beforeCommit?.();
    return { version, created: true };
  });
  if (result.created) {
    // Committed already: a failure here costs one signal (the refresh interval catches up), not the write.
    await deps.pool.query({ name: "notify-secret-changed", text: NOTIFY, values: [SECRET_CHANGED_CHANNEL, resourceId] }).catch(() => undefined);
  }
  return result;
}

/** `?expirations`: clear expiry on every version (rotators call this). */
export async function clearExpirations(deps: { pool: pg.Pool; beforeCommit?: () => Promise<void> }, roleId: string, resourceId: string): Promise<void> {
  await inTransaction(deps.pool, async (db) => {
    await authorizeUpdate(db, roleId, resourceId);
    await db.query("UPDATE secrets SET expires_at = NULL WHERE resource_id = $1", [resourceId]);
    await deps.beforeCommit?.();
  });
}

async function authorizeUpdate(db: Queryable, roleId: string, resourceId: string): Promise<void> {
  const access = await accessToOneCached(db, roleId, resourceId, "update");
  if (!access.visible) {
    const id = parseFullId(resourceId)!;
    throw errors.recordNotFound(id.account, id.kind, id.identifier);
  }
  if (!access.allowed) throw errors.forbidden();
}

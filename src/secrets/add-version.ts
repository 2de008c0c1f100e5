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
 * refresh interval (its safety net) catches up. The signals of one event-loop turn share one
 * statement (change-signals.ts). See docs/adr/0016-read-path.md.
 */
import type pg from "pg";
import { accessToOneCached } from "../authz/access-cached.js";
import { updateGrants, type Grant } from "../authz/cached-grants.js";
import { AUTHORIZATION_VERSION, type Versioned } from "../authz/closure-cache.js";
import type { Queryable } from "../storage/database.js";
import { parseFullId } from "../authz/ids.js";
import type { Aead } from "../crypto/aead.js";
import { errors } from "../errors.js";
import { inTransaction } from "../storage/database.js";
import { secretAad } from "./secret-rows.js";
import { signalSecretChanged } from "./change-signals.js";

const LOCK_VARIABLE = `SELECT ${AUTHORIZATION_VERSION} FROM resources WHERE resource_id = $1 FOR UPDATE`;

const WRITE_VERSION = `WITH inserted AS (INSERT INTO secrets (resource_id, version, value) VALUES ($1, $2, $3))
  DELETE FROM secrets WHERE resource_id = $1 AND version <= $4`;

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
  // Privileges first, before a transaction or a lock is taken for this caller: a grant
  // cached from an earlier write (authz/cached-grants.ts), else the check itself.
  const grant = updateGrants.get(roleId, resourceId) ?? (await authorizeUpdate(deps.pool, roleId, resourceId));
  const result = await inTransaction(deps.pool, async (db): Promise<AddVersionResult> => {
    // Serialise writers of one variable so version numbers never collide. The same
    // statement reads the authorization version: if memberships, permissions or the
    // variable changed since the grant was decided, decide again before writing.
    const locked = (await db.query<Versioned>({ name: "lock-variable", text: LOCK_VARIABLE, values: [resourceId] })).rows[0];
    if (locked?.authorization_version !== grant.version) await authorizeUpdate(db, roleId, resourceId);
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
    await signalSecretChanged(deps.pool, resourceId);
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

/** `update` on the variable, or 404 (invisible) / 403; a grant is remembered for the next write. */
async function authorizeUpdate(db: Queryable, roleId: string, resourceId: string): Promise<Grant> {
  const access = await accessToOneCached(db, roleId, resourceId, "update");
  if (!access.visible || !access.allowed) updateGrants.forget(roleId, resourceId);
  if (!access.visible) {
    const id = parseFullId(resourceId)!;
    throw errors.recordNotFound(id.account, id.kind, id.identifier);
  }
  if (!access.allowed) throw errors.forbidden();
  const grant = { version: access.version!, mimeType: null };
  updateGrants.grant(roleId, resourceId, grant);
  return grant;
}

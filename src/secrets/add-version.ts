/**
 * Write a variable's value: a new version unless it equals the latest; only the newest
 * `keep` versions survive, pruned by the same statement. Once committed, a NOTIFY on
 * channel `strongroom_secret_changed` (payload: the variable id) tells every replica's
 * controller and watchers to refresh what uses it.
 *
 * The NOTIFY follows the commit instead of riding in it: Postgres holds one database-wide
 * lock from a notifying transaction's commit until its WAL is flushed, so notifying
 * writers committed one fsync at a time (~500 writes/s here, ~900 without). The price is a
 * crash between the commit and the NOTIFY: that one signal is lost, and the controller's
 * refresh interval (its safety net) catches up. The signals of one event-loop turn share one
 * statement (changes.ts). See docs/adr/0016-read-path.md.
 */
import pg from "pg";
import { accessToOneCached } from "../authz/access-cached.js";
import { updateGrants, type Grant } from "../authz/cached-grants.js";
import { AUTHORIZATION_VERSION, type Versioned } from "../authz/closure-cache.js";
import type { Queryable } from "../storage/database.js";
import { parseFullId } from "../authz/ids.js";
import type { Aead } from "../crypto/aead.js";
import { errors } from "../errors.js";
import { inTransaction } from "../storage/database.js";
import { latestValues } from "./latest-values.js";
import { secretAad } from "./secret-rows.js";
import { signalSecretChanged } from "./changes.js";

/**
 * Insert the new version and prune the old in one statement, and only if (a) the grant the
 * writer holds is still the authorization version this snapshot sees, and (b) no version
 * at or above ours exists (a writer that read a stale latest must not slip a low version
 * under newer ones). Without a transaction around it, it is its own commit.
 */
export const WRITE_IF_UNCHANGED = `WITH inserted AS (
    INSERT INTO secrets (resource_id, version, value)
    SELECT $1, $2, $3 WHERE (SELECT version::text FROM authorization_version WHERE id = 1) = $5
      AND NOT EXISTS (SELECT 1 FROM secrets WHERE resource_id = $1 AND version >= $2)
    RETURNING version),
  pruned AS (DELETE FROM secrets WHERE resource_id = $1 AND version <= $4 AND EXISTS (SELECT 1 FROM inserted))
  SELECT count(*)::int AS inserted FROM inserted`;

/**
 * The lock that queues writers of one variable. NO KEY UPDATE, not UPDATE: an optimistic
 * writer's insert takes KEY SHARE on the same row (the foreign key) and must not wait for
 * it while holding the index entry a locked writer waits for (a deadlock).
 */
const LOCK_VARIABLE = `SELECT ${AUTHORIZATION_VERSION} FROM resources WHERE resource_id = $1 FOR NO KEY UPDATE`;

/** Another writer took our version number, or the variable went away under us. */
const RACED = new Set(["23505", "23503"]);

export interface AddVersionResult {
  version: number;
  created: boolean;
}

interface Deps {
  pool: pg.Pool;
  aead: Aead;
  keep: number;
  beforeCommit?: () => Promise<void>;
}

/**
 * Optimistic first: read the latest version (shared with the reads of this turn), compare,
 * write with one statement that checks nothing changed in between — two round trips
 * instead of six (BEGIN, lock, read, write, COMMIT, …). A writer that finds anything changed
 * (a concurrent writer of the same variable, a policy change) takes the variable's lock and
 * writes as before, so contended variables queue instead of retrying.
 */
export async function addVersion(
  deps: Deps,
  roleId: string,
  resourceId: string,
  value: Buffer,
): Promise<AddVersionResult> {
  if (value.length === 0) throw errors.argument("'value' may not be empty");
  // The audit record is written before the change commits, once: a change that cannot be audited is not made.
  let audited = false;
  const audit = async (): Promise<void> => {
    if (!audited) await deps.beforeCommit?.();
    audited = true;
  };
  const result =
    (await writeIfUnchanged(deps, audit, roleId, resourceId, value)) ??
    (await writeLocked(deps, audit, roleId, resourceId, value));
  // Committed: a failure to signal costs one refresh interval, not the write.
  if (result.created) await signalSecretChanged(deps.pool, resourceId);
  return result;
}

/** The optimistic write; undefined when something changed and the locked write must decide. */
async function writeIfUnchanged(
  deps: Deps,
  audit: () => Promise<void>,
  roleId: string,
  resourceId: string,
  value: Buffer,
): Promise<AddVersionResult | undefined> {
  // Privileges first, before anything is written: a grant cached from an earlier write
  // (authz/cached-grants.ts), else the check itself.
  const grant = updateGrants.get(roleId, resourceId) ?? (await authorizeUpdate(deps.pool, roleId, resourceId));
  const latest = (await latestValues(deps.pool, [resourceId])).get(resourceId);
  // The grant must be proven current (the version on the latest row) before the audit
  // record is written: a variable without a value yet proves nothing, so its first write
  // takes the locked path. What can still fail after the record (a policy change or another
  // writer in the instant between the read and the write, a failed statement) leaves a
  // success line followed by the failure line of the same request, as a failed COMMIT does.
  if (!latest || latest.authorization_version !== grant.version) return undefined;
  if (deps.aead.decrypt(latest.value, secretAad(resourceId, latest.version)).equals(value))
    return { version: latest.version, created: false };
  const version = latest.version + 1;
  await audit();
  try {
    const values = [
      resourceId,
      version,
      deps.aead.encrypt(value, secretAad(resourceId, version)),
      version - deps.keep,
      grant.version,
    ];
    const { rows } = await deps.pool.query<{ inserted: number }>({
      name: "write-version-if-unchanged",
      text: WRITE_IF_UNCHANGED,
      values,
    });
    return rows[0]!.inserted === 1 ? { version, created: true } : undefined;
  } catch (err) {
    if (RACED.has((err as { code?: string }).code ?? "")) return undefined;
    throw err;
  }
}

/** Locked rounds before giving up: each is lost only to an optimistic writer that got in first. */
const LOCKED_ATTEMPTS = 16;
const LOST_RACE = Symbol("lost race");

/**
 * Writers of one variable in turn, under its lock, deciding the grant again when the
 * authorization changed. An optimistic writer may still get in between our read and our
 * write (it takes no lock): then this round rolls back and the next one reads again.
 */
async function writeLocked(
  deps: Deps,
  audit: () => Promise<void>,
  roleId: string,
  resourceId: string,
  value: Buffer,
): Promise<AddVersionResult> {
  for (let attempt = 1; attempt <= LOCKED_ATTEMPTS; attempt++) {
    const grant = updateGrants.get(roleId, resourceId) ?? (await authorizeUpdate(deps.pool, roleId, resourceId));
    try {
      return await inTransaction(deps.pool, async (db): Promise<AddVersionResult> => {
        const locked = (await db.query<Versioned>({ name: "lock-variable", text: LOCK_VARIABLE, values: [resourceId] }))
          .rows[0];
        const granted =
          locked?.authorization_version === grant.version ? grant : await authorizeUpdate(db, roleId, resourceId);
        // A statement of its own, after the lock: it sees what the writer before us committed.
        const latest = (
          await db.query<{ version: number; value: Buffer }>({
            name: "latest-version",
            text: "SELECT version, value FROM secrets WHERE resource_id = $1 ORDER BY version DESC LIMIT 1",
            values: [resourceId],
          })
        ).rows[0];
        if (latest && deps.aead.decrypt(latest.value, secretAad(resourceId, latest.version)).equals(value))
          return { version: latest.version, created: false };
        const version = (latest?.version ?? 0) + 1;
        const values = [
          resourceId,
          version,
          deps.aead.encrypt(value, secretAad(resourceId, version)),
          version - deps.keep,
          granted.version,
        ];
        const { rows } = await db.query<{ inserted: number }>({
          name: "write-version-if-unchanged",
          text: WRITE_IF_UNCHANGED,
          values,
        });
        if (rows[0]!.inserted !== 1) throw LOST_RACE;
        await audit();
        return { version, created: true };
      });
    } catch (err) {
      if (err !== LOST_RACE && !RACED.has((err as { code?: string }).code ?? "")) throw err;
    }
  }
  throw errors.unavailable("The variable is changing too fast to write; retry");
}

/** `?expirations`: clear expiry on every version (rotators call this). */
export async function clearExpirations(
  deps: { pool: pg.Pool; beforeCommit?: () => Promise<void> },
  roleId: string,
  resourceId: string,
): Promise<void> {
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
  // Only a decision seen by others is remembered: inside a transaction the version moves at commit.
  if (db instanceof pg.Pool) updateGrants.grant(roleId, resourceId, grant);
  return grant;
}

/**
 * `accessToOne` for the hot paths (writing a secret), with the caller's cached role closure
 * (authz/closure-cache.ts): one statement of index lookups with a stable generic plan
 * instead of a recursive query re-planned each time. Same answer as `accessToOne`: visible
 * if the closure owns the resource or holds any privilege on it; allowed if it owns it or
 * holds `privilege`.
 *
 * Not for use inside a transaction that has itself changed role memberships: the version
 * it checks against changes only when that transaction commits.
 */
import { AUTHORIZATION_VERSION, roleClosures, type Versioned } from "./closure-cache.js";
import type { Access } from "./permissions.js";
import type { Queryable } from "../storage/database.js";

const ACCESS_TO_ONE = `SELECT array_position($1::text[], r.owner_id) IS NOT NULL OR p.held AS visible,
    array_position($1::text[], r.owner_id) IS NOT NULL OR p.allowed AS allowed,
    ${AUTHORIZATION_VERSION}
  FROM resources r
  CROSS JOIN LATERAL (
    SELECT count(*) > 0 AS held, coalesce(bool_or(privilege = $3), false) AS allowed
    FROM permissions WHERE resource_id = r.resource_id AND array_position($1::text[], role_id) IS NOT NULL
  ) p
  WHERE r.resource_id = $2`;

/** The access, and the authorization version it was decided under (none when the resource does not exist). */
export async function accessToOneCached(
  db: Queryable,
  roleId: string,
  resourceId: string,
  privilege: string,
): Promise<Access & { version?: string }> {
  const rows = await roleClosures.withClosure(db, roleId, async (roles) => {
    const result = await db.query<Access & Versioned>({
      name: "access-to-one",
      text: ACCESS_TO_ONE,
      values: [roles, resourceId, privilege],
    });
    return result.rows;
  });
  const row = rows[0];
  return row
    ? { visible: row.visible, allowed: row.allowed, version: row.authorization_version }
    : { visible: false, allowed: false };
}

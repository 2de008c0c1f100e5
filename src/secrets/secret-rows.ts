/**
 * The one read query behind single and batch retrieval: for a list of ids, in one
 * statement, whether each exists, is visible to the caller and may be executed, plus the
 * requested (or latest) version's ciphertext and the variable's mime type.
 *
 * The caller's role closure comes in as an array (cached, checked against the membership
 * version the same statement reads: authz/closure-cache.ts), so the statement is plain
 * index lookups whose generic plan Postgres keeps: no re-planning per request. A single id
 * has its own statement (`= $2`, not `= ANY($2)`): with an array, the generic plan's row
 * estimate makes Postgres prefer re-planning every execution. See docs/adr/0016-read-path.md.
 */
import { MEMBERSHIP_VERSION, roleClosures } from "../authz/closure-cache.js";
import type { Queryable } from "../storage/database.js";

export interface SecretRow {
  resource_id: string;
  visible: boolean;
  allowed: boolean;
  version: number | null;
  value: Buffer | null;
  mime_type: string | null;
  membership_version: string;
}

/**
 * Visible: the closure owns it or holds any privilege on it; allowed: owns it or may
 * `execute`. Permissions are read through their primary key (resource_id, role_id, …).
 */
const SELECT = `SELECT r.resource_id,
    r.owner_id = ANY($1::text[]) OR p.held AS visible,
    r.owner_id = ANY($1::text[]) OR p.executes AS allowed,
    s.version, s.value,
    (SELECT a.value FROM annotations a WHERE a.resource_id = r.resource_id AND a.name = 'conjur/mime_type') AS mime_type,
    ${MEMBERSHIP_VERSION}
  FROM resources r
  CROSS JOIN LATERAL (
    SELECT count(*) > 0 AS held, coalesce(bool_or(privilege = 'execute'), false) AS executes
    FROM permissions WHERE resource_id = r.resource_id AND role_id = ANY($1::text[])
  ) p
  LEFT JOIN LATERAL (
    SELECT version, value FROM secrets
    WHERE resource_id = r.resource_id AND ($3::integer IS NULL OR version = $3)
    ORDER BY version DESC LIMIT 1
  ) s ON true`;

export async function loadSecretRows(db: Queryable, roleId: string, ids: string[], version: number | null): Promise<SecretRow[]> {
  const single = ids.length === 1;
  return roleClosures.withClosure(db, roleId, async (roles) => {
    // Named, so each connection parses and plans it once: the hottest queries we have.
    const { rows } = await db.query<SecretRow>(
      single
        ? { name: "load-secret-row", text: `${SELECT} WHERE r.resource_id = $2`, values: [roles, ids[0], version] }
        : { name: "load-secret-rows", text: `${SELECT} WHERE r.resource_id = ANY($2::text[])`, values: [roles, ids, version] },
    );
    return rows;
  });
}

/** Secret values are bound to their variable and version. */
export const secretAad = (resourceId: string, version: number): string => `${resourceId}#${version}`;

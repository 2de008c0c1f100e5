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
 *
 * A read the caller was granted before goes first through a statement that fetches only the
 * value and the authorization version, shared by the reads of one event-loop turn
 * (latest-values.ts): the cached grant answers for it when the version is unchanged
 * (authz/cached-grants.ts, docs/adr/0020-read-decisions.md).
 */
import pg from "pg";
import { AUTHORIZATION_VERSION, roleClosures } from "../authz/closure-cache.js";
import { readGrants } from "../authz/cached-grants.js";
import { JOINED_UP_TO, latestValues, latestValuesIfCurrent } from "./latest-values.js";
import type { Queryable } from "../storage/database.js";

export interface SecretRow {
  resource_id: string;
  visible: boolean;
  allowed: boolean;
  version: number | null;
  value: Buffer | null;
  mime_type: string | null;
  authorization_version: string;
}

/**
 * Visible: the closure owns it or holds any privilege on it; allowed: owns it or may
 * `execute`. A resource's permissions are found through the primary key's leading
 * resource_id and matched against the closure with `array_position`, not `= ANY($1)`:
 * the planner costs `= ANY` by the array's length, which a generic plan does not know,
 * so every custom plan would look cheaper and Postgres would re-plan each execution.
 */
const select = (versionFilter: string): string => `SELECT r.resource_id,
    array_position($1::text[], r.owner_id) IS NOT NULL OR p.held AS visible,
    array_position($1::text[], r.owner_id) IS NOT NULL OR p.executes AS allowed,
    s.version, s.value,
    (SELECT a.value FROM annotations a WHERE a.resource_id = r.resource_id AND a.name = 'conjur/mime_type') AS mime_type,
    ${AUTHORIZATION_VERSION}
  FROM resources r
  CROSS JOIN LATERAL (
    SELECT count(*) > 0 AS held, coalesce(bool_or(privilege = 'execute'), false) AS executes
    FROM permissions WHERE resource_id = r.resource_id AND array_position($1::text[], role_id) IS NOT NULL
  ) p
  LEFT JOIN LATERAL (
    SELECT version, value FROM secrets
    WHERE resource_id = r.resource_id${versionFilter}
    ORDER BY version DESC LIMIT 1
  ) s ON true`;

/**
 * One statement per shape, each with a generic plan as cheap as its custom ones, so that
 * Postgres stops re-planning after five runs (with `$3 IS NULL OR version = $3` every
 * custom plan would look cheaper: the latest version is a backward index scan).
 */
const LATEST_OF_ONE = `${select("")} WHERE r.resource_id = $2`;
const VERSION_OF_ONE = `${select(" AND version = $3")} WHERE r.resource_id = $2`;

/**
 * A batch needs less: whether each may be executed and its latest value (no visibility,
 * no mime type), and the permission probe can use the whole primary key prefix.
 */
const LATEST_OF_MANY = `SELECT r.resource_id,
    array_position($1::text[], r.owner_id) IS NOT NULL OR p.executes AS allowed,
    s.version, s.value,
    (SELECT a.value FROM annotations a WHERE a.resource_id = r.resource_id AND a.name = 'conjur/mime_type') AS mime_type,
    ${AUTHORIZATION_VERSION}
  FROM resources r
  CROSS JOIN LATERAL (
    SELECT count(*) > 0 AS executes FROM permissions
    WHERE resource_id = r.resource_id AND privilege = 'execute' AND array_position($1::text[], role_id) IS NOT NULL
  ) p
  LEFT JOIN LATERAL (SELECT version, value FROM secrets WHERE resource_id = r.resource_id ORDER BY version DESC LIMIT 1) s ON true
  WHERE r.resource_id = ANY($2::text[])`;

export type BatchRow = Pick<SecretRow, "resource_id" | "allowed" | "version" | "value">;

/**
 * Remembers the grants among rows the full check answered; forgets the refusals. Only for
 * a pool's statements: inside a transaction that changed memberships or permissions, a
 * decision would be remembered under the version that changes only when it commits.
 */
function remember(
  db: Queryable,
  roleId: string,
  rows: readonly (Pick<SecretRow, "resource_id" | "allowed" | "mime_type" | "authorization_version"> & {
    visible?: boolean;
  })[],
): void {
  if (!(db instanceof pg.Pool)) return;
  for (const row of rows) {
    if (row.allowed && row.visible !== false)
      readGrants.grant(roleId, row.resource_id, { version: row.authorization_version, mimeType: row.mime_type });
    else readGrants.forget(roleId, row.resource_id);
  }
}

/** One variable: the row if it exists (latest value, or `version`). Named statements: each connection plans them once. */
export async function loadSecretRow(
  db: Queryable,
  roleId: string,
  id: string,
  version: number | null,
): Promise<SecretRow | undefined> {
  const grant = version === null ? readGrants.get(roleId, id) : undefined;
  if (grant) {
    const row = (await latestValues(db, [id])).get(id);
    if (row && row.authorization_version === grant.version)
      return { ...row, visible: true, allowed: true, mime_type: grant.mimeType };
  }
  const rows = await roleClosures.withClosure(db, roleId, async (roles) => {
    const query =
      version === null
        ? { name: "secret-latest-of-one", text: LATEST_OF_ONE, values: [roles, id] }
        : { name: "secret-version-of-one", text: VERSION_OF_ONE, values: [roles, id, version] };
    return (await db.query<SecretRow>(query)).rows;
  });
  if (rows.length === 0) readGrants.forget(roleId, id);
  else remember(db, roleId, rows);
  return rows[0];
}

/** Many distinct variables, latest values: a row for each id that exists. */
export async function loadBatchRows(db: Queryable, roleId: string, ids: string[]): Promise<Map<string, BatchRow>> {
  const grants = ids.map((id) => readGrants.get(roleId, id));
  if (grants.every((g) => g !== undefined)) {
    const version = grants[0]!.version;
    if (ids.length > JOINED_UP_TO && grants.every((g) => g.version === version)) {
      // Every id granted and a value for each, under the version the grants were decided under.
      const rows = await latestValuesIfCurrent(db, ids, version);
      if (rows.length === ids.length) return new Map(rows.map((row) => [row.resource_id, row]));
    } else {
      const rows = await latestValues(db, ids);
      if (ids.every((id, i) => rows.get(id)?.authorization_version === grants[i]!.version)) {
        return new Map(ids.map((id) => [id, { ...rows.get(id)!, allowed: true }]));
      }
    }
  }
  const rows = await roleClosures.withClosure(
    db,
    roleId,
    async (roles) =>
      (await db.query<SecretRow>({ name: "secret-latest-of-many", text: LATEST_OF_MANY, values: [roles, ids] })).rows,
  );
  remember(db, roleId, rows);
  return new Map(rows.map((row) => [row.resource_id, row]));
}

/** Secret values are bound to their variable and version. */
export const secretAad = (resourceId: string, version: number): string => `${resourceId}#${version}`;

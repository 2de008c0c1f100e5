/**
 * The one read query behind single and batch retrieval: for a list of ids, in one
 * statement, whether each exists, is visible to the caller and may be executed, plus the
 * requested (or latest) version's ciphertext and the variable's mime type.
 */
import { CLOSURE_CTE, VISIBLE, permitted } from "../authz/permissions.js";
import type { Queryable } from "../storage/database.js";

export interface SecretRow {
  resource_id: string;
  visible: boolean;
  allowed: boolean;
  version: number | null;
  value: Buffer | null;
  mime_type: string | null;
}

export async function loadSecretRows(db: Queryable, roleId: string, ids: string[], version: number | null): Promise<SecretRow[]> {
  // Named, so Postgres plans it once per connection: this is the hottest query we have.
  const { rows } = await db.query<SecretRow>({
    name: "load-secret-rows",
    text: `WITH RECURSIVE ${CLOSURE_CTE}
     SELECT r.resource_id, ${VISIBLE} AS visible, ${permitted("'execute'")} AS allowed, s.version, s.value,
            (SELECT a.value FROM annotations a WHERE a.resource_id = r.resource_id AND a.name = 'conjur/mime_type') AS mime_type
     FROM resources r
     LEFT JOIN LATERAL (
       SELECT version, value FROM secrets
       WHERE resource_id = r.resource_id AND ($3::integer IS NULL OR version = $3)
       ORDER BY version DESC LIMIT 1
     ) s ON true
     WHERE r.resource_id = ANY($2::text[])`,
    values: [roleId, ids, version],
  });
  return rows;
}

/** Secret values are bound to their variable and version. */
export const secretAad = (resourceId: string, version: number): string => `${resourceId}#${version}`;

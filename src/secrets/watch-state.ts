/**
 * What a watcher compares: a cursor over the latest version of each watched variable.
 * Authorized as a batch read (Conjur's order): 403 if any found variable may not be
 * executed, then 404 naming the first requested id that is missing or has no value.
 * Reads versions only, never values.
 */
import { createHash } from "node:crypto";
import { CLOSURE_CTE, permitted } from "../authz/permissions.js";
import { errors } from "../errors.js";
import type { Queryable } from "../storage/database.js";

export async function watchCursor(db: Queryable, roleId: string, ids: readonly string[]): Promise<string> {
  const unique = [...new Set(ids)];
  const { rows } = await db.query<{ resource_id: string; allowed: boolean; version: number | null }>({
    name: "watch-cursor",
    text: `WITH RECURSIVE ${CLOSURE_CTE}
     SELECT r.resource_id, ${permitted("'execute'")} AS allowed,
            (SELECT max(version) FROM secrets s WHERE s.resource_id = r.resource_id) AS version
     FROM resources r WHERE r.resource_id = ANY($2::text[])`,
    values: [roleId, unique],
  });
  const byId = new Map(rows.map((r) => [r.resource_id, r]));
  if (rows.some((r) => !r.allowed)) throw errors.forbidden();
  const missing = unique.find((id) => byId.get(id)?.version == null);
  if (missing !== undefined) throw errors.secretNotFound(missing);
  const hash = createHash("sha256");
  for (const id of [...unique].sort()) hash.update(`${id}\0${byId.get(id)!.version}\n`);
  return hash.digest("base64url").slice(0, 22);
}

/**
 * Batch retrieval, Conjur's order of checks: 403 if any found variable may not be
 * executed, then 404 naming the first requested id (request order) that is missing or
 * has no value. Duplicated ids are answered once. One query for the whole batch; the
 * Kubernetes controller calls this same function.
 */
import type { Aead } from "../crypto/aead.js";
import { errors } from "../errors.js";
import type { Queryable } from "../storage/database.js";
import { loadSecretRows, secretAad } from "./secret-rows.js";

export async function fetchBatch(deps: { db: Queryable; aead: Aead }, roleId: string, ids: string[]): Promise<Map<string, Buffer>> {
  const unique = [...new Set(ids)];
  const rows = new Map((await loadSecretRows(deps.db, roleId, unique, null)).map((r) => [r.resource_id, r]));
  for (const row of rows.values()) if (!row.allowed) throw errors.forbidden();
  const values = new Map<string, Buffer>();
  for (const id of unique) {
    const row = rows.get(id);
    if (!row || row.value === null || row.version === null) throw errors.secretNotFound(id);
    values.set(id, deps.aead.decrypt(row.value, secretAad(id, row.version)));
  }
  return values;
}

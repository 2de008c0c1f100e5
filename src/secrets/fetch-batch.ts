/**
 * Batch retrieval, Conjur's order of checks: 403 if any found variable may not be
 * executed, then 404 naming the first requested id (request order) that is missing or
 * has no value. Duplicated ids are answered once. One query for the whole batch; the
 * Kubernetes controller calls this same function.
 */
import type { Aead } from "../crypto/aead.js";
import { errors, type ApiError } from "../errors.js";
import type { Queryable } from "../storage/database.js";
import { loadBatchRows, secretAad } from "./secret-rows.js";

export async function fetchBatch(
  deps: { db: Queryable; aead: Aead },
  roleId: string,
  ids: string[],
): Promise<Map<string, Buffer>> {
  const result = await fetchBatchAccounted(deps, roleId, ids);
  if ("error" in result) throw result.error;
  return result.values;
}

/** Why each requested id was not returned (for the audit): forbidden, not found, or refused with the batch. */
export type BatchRefusals = Map<string, "forbidden" | "not found" | "batch refused">;

/** `fetchBatch` that, on refusal, also says what happened to every requested id. */
export async function fetchBatchAccounted(
  deps: { db: Queryable; aead: Aead },
  roleId: string,
  ids: string[],
): Promise<{ values: Map<string, Buffer> } | { error: ApiError; refusals: BatchRefusals }> {
  const unique = [...new Set(ids)];
  const rows = await loadBatchRows(deps.db, roleId, unique);
  const refusals: BatchRefusals = new Map();
  for (const id of unique) {
    const row = rows.get(id);
    if (row && !row.allowed) refusals.set(id, "forbidden");
    else if (!row || row.value === null || row.version === null) refusals.set(id, "not found");
  }
  if (refusals.size > 0) {
    const forbidden = [...refusals.values()].includes("forbidden");
    const error = forbidden ? errors.forbidden() : errors.secretNotFound([...refusals.keys()][0]!);
    for (const id of unique) if (!refusals.has(id)) refusals.set(id, "batch refused");
    return { error, refusals: new Map(unique.map((id) => [id, refusals.get(id)!])) };
  }
  const values = new Map<string, Buffer>();
  for (const id of unique) {
    const row = rows.get(id)!;
    values.set(id, deps.aead.decrypt(row.value!, secretAad(id, row.version!)));
  }
  return { values };
}

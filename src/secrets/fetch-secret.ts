/** Read one variable's value (latest or a given version). */
import type { Aead } from "../crypto/aead.js";
import { errors } from "../errors.js";
import type { Queryable } from "../storage/database.js";
import { loadSecretRow, secretAad } from "./secret-rows.js";

export interface FetchedSecret {
  value: Buffer;
  mimeType: string;
  version: number;
}

export async function fetchSecret(
  deps: { db: Queryable; aead: Aead },
  roleId: string,
  resourceId: string,
  version: number | null,
): Promise<FetchedSecret> {
  const row = await loadSecretRow(deps.db, roleId, resourceId, version);
  // Invisible looks exactly like missing, so existence does not leak.
  if (!row || !row.visible) throw errors.secretNotFound(resourceId);
  if (!row.allowed) throw errors.forbidden();
  if (row.value === null || row.version === null) throw errors.secretNotFound(resourceId);
  return {
    value: deps.aead.decrypt(row.value, secretAad(resourceId, row.version)),
    mimeType: row.mime_type ?? "application/octet-stream",
    version: row.version,
  };
}

/**
 * Users' `public_keys` from policy: each key is the latest secret of its `public_key`
 * resource (`acct:public_key:user/<login>/<name>`), written through the one AEAD module like
 * any secret, with a new version only when the key changed (Conjur's PublicKey handler).
 */
import type pg from "pg";
import type { Aead } from "../crypto/aead.js";
import { secretAad } from "../secrets/secret-rows.js";

const VERSIONS_KEPT = 20;

export async function storePublicKeys(
  db: pg.PoolClient,
  aead: Aead,
  keys: readonly { resource: string; value: string }[],
): Promise<void> {
  for (const { resource, value } of keys) {
    const latest = (
      await db.query<{ version: number; value: Buffer }>(
        "SELECT version, value FROM secrets WHERE resource_id = $1 ORDER BY version DESC LIMIT 1",
        [resource],
      )
    ).rows[0];
    const bytes = Buffer.from(value, "utf8");
    if (latest && aead.decrypt(latest.value, secretAad(resource, latest.version)).equals(bytes)) continue;
    const version = (latest?.version ?? 0) + 1;
    await db.query("INSERT INTO secrets (resource_id, version, value) VALUES ($1, $2, $3)", [
      resource,
      version,
      aead.encrypt(bytes, secretAad(resource, version)),
    ]);
    await db.query("DELETE FROM secrets WHERE resource_id = $1 AND version <= $2", [resource, version - VERSIONS_KEPT]);
  }
}

/** `GET /public_keys`: the latest value of every `public_key` resource under `<kind>/<identifier>/`, by id. */
export async function latestPublicKeys(
  db: pg.Pool,
  aead: Aead,
  account: string,
  kind: string,
  identifier: string,
): Promise<string[]> {
  const escape = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);
  const { rows } = await db.query<{ resource_id: string; version: number; value: Buffer }>(
    `SELECT DISTINCT ON (s.resource_id) s.resource_id, s.version, s.value FROM secrets s
     WHERE s.resource_id LIKE $1 ORDER BY s.resource_id, s.version DESC`,
    [`${escape(account)}:public_key:${escape(kind)}/${escape(identifier)}/%`],
  );
  return rows.map((r) => aead.decrypt(r.value, secretAad(r.resource_id, r.version)).toString("utf8"));
}

/**
 * `POST /host_factories/hosts` (Conjur's HostBuilder): a factory token enrolls a host with no
 * admin key. The id is used as written (not put under the factory's policy); the host is owned
 * by the factory's role and joins each of its layers. A host the factory already owns gets a
 * fresh API key; any other existing host is refused.
 */
import type pg from "pg";
import { rotateApiKey } from "../authn/credentials.js";
import { fullId, parseFullId } from "../authz/ids.js";
import type { Aead } from "../crypto/aead.js";
import { errors } from "../errors.js";
import { inTransaction } from "../storage/database.js";

export interface HostRequest {
  factoryId: string;
  id: string;
  annotations: Record<string, string>;
}

export async function createHost(
  pool: pg.Pool,
  aead: Aead,
  req: HostRequest,
): Promise<{ hostId: string; apiKey: string }> {
  const account = parseFullId(req.factoryId)!.account;
  const hostId = fullId(account, "host", req.id);
  return inTransaction(pool, async (db) => {
    // One enrolment of a given id at a time: two concurrent requests must not both create it.
    await db.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`host:${hostId}`]);
    const existing = await db.query<{ owner_id: string }>("SELECT owner_id FROM resources WHERE resource_id = $1", [
      hostId,
    ]);
    if (existing.rows[0] && existing.rows[0].owner_id !== req.factoryId) throw errors.forbidden();
    if (!existing.rows[0]) {
      await db.query("INSERT INTO roles (role_id) VALUES ($1) ON CONFLICT DO NOTHING", [hostId]);
      await db.query("INSERT INTO resources (resource_id, owner_id) VALUES ($1, $2)", [hostId, req.factoryId]);
      await db.query(
        `INSERT INTO role_memberships (role_id, member_id, admin_option, ownership)
         SELECT role_id, $2, false, false FROM role_memberships WHERE member_id = $1 AND split_part(role_id, ':', 2) = 'layer'
         ON CONFLICT DO NOTHING`,
        [req.factoryId, hostId],
      );
    }
    const names = Object.keys(req.annotations);
    await db.query(
      `INSERT INTO annotations (resource_id, name, value) SELECT $1, * FROM unnest($2::text[], $3::text[])
       ON CONFLICT (resource_id, name) DO UPDATE SET value = EXCLUDED.value`,
      [hostId, names, names.map((n) => req.annotations[n]!)],
    );
    return { hostId, apiKey: await rotateApiKey(db, aead, hostId) };
  });
}

/**
 * Writes a resolved plan. Each kind of row is written with one statement over arrays
 * (unnest), so a large policy costs a handful of round trips, not one per record.
 */
import type pg from "pg";
import { canLogIn } from "../authz/ids.js";
import { ROLE_RECORD_KINDS } from "./statements.js";
import type { Plan } from "./resolve.js";

/** Returns the ids of role records that did not exist before. */
export async function applyPlan(db: pg.PoolClient, plan: Plan, appendOnly: boolean): Promise<string[]> {
  const roleRecords = plan.records.filter((r) => ROLE_RECORD_KINDS.has(r.kind));
  const createdRoles = await db.query<{ role_id: string }>(
    `INSERT INTO roles (role_id, policy_id) SELECT * FROM unnest($1::text[], $2::text[])
     ON CONFLICT (role_id) DO ${appendOnly ? "NOTHING" : "UPDATE SET policy_id = EXCLUDED.policy_id"}
     RETURNING role_id, (xmax = 0) AS inserted`,
    [roleRecords.map((r) => r.id), roleRecords.map((r) => r.policy)],
  );
  // restricted_to: POST adds CIDRs to those a role has; PATCH and PUT replace them (absent = none), as Conjur.
  const restricted = roleRecords.filter((r) => canLogIn(r.kind) && (appendOnly ? r.restrictedTo?.length : true));
  await db.query(
    `UPDATE roles r SET restricted_to = ${appendOnly ? "ARRAY(SELECT DISTINCT c FROM unnest(r.restricted_to || x.cidrs) AS c ORDER BY c)" : "x.cidrs"}
     FROM json_to_recordset($1::json) AS x(role_id text, cidrs text[]) WHERE r.role_id = x.role_id`,
    [JSON.stringify(restricted.map((r) => ({ role_id: r.id, cidrs: r.restrictedTo ?? [] })))],
  );
  await db.query(
    `INSERT INTO resources (resource_id, owner_id, policy_id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
     ON CONFLICT (resource_id) DO ${appendOnly ? "NOTHING" : "UPDATE SET owner_id = EXCLUDED.owner_id, policy_id = EXCLUDED.policy_id"}`,
    [plan.records.map((r) => r.id), plan.records.map((r) => r.owner), plan.records.map((r) => r.policy)],
  );
  const annotations = plan.records.flatMap((r) =>
    Object.entries(r.annotations).map(([name, value]) => ({ id: r.id, name, value, policy: r.policy })),
  );
  await db.query(
    `INSERT INTO annotations (resource_id, name, value, policy_id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
     ON CONFLICT (resource_id, name) DO ${appendOnly ? "NOTHING" : "UPDATE SET value = EXCLUDED.value, policy_id = EXCLUDED.policy_id"}`,
    [
      annotations.map((a) => a.id),
      annotations.map((a) => a.name),
      annotations.map((a) => a.value),
      annotations.map((a) => a.policy),
    ],
  );
  // Later grants of the same pair win (e.g. an explicit admin grant after ownership).
  const grants = new Map(plan.grants.map((g) => [`${g.role}\n${g.member}`, g]));
  const g = [...grants.values()];
  await db.query(
    `INSERT INTO role_memberships (role_id, member_id, admin_option, ownership, policy_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::boolean[], $5::text[])
     ON CONFLICT (role_id, member_id) DO ${appendOnly ? "NOTHING" : "UPDATE SET admin_option = EXCLUDED.admin_option, ownership = EXCLUDED.ownership, policy_id = EXCLUDED.policy_id"}`,
    [
      g.map((x) => x.role),
      g.map((x) => x.member),
      g.map((x) => x.admin),
      g.map((x) => x.ownership),
      g.map((x) => x.policy),
    ],
  );
  await db.query(
    `INSERT INTO permissions (privilege, resource_id, role_id, policy_id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
     ON CONFLICT DO NOTHING`,
    [
      plan.permits.map((p) => p.privilege),
      plan.permits.map((p) => p.resource),
      plan.permits.map((p) => p.role),
      plan.permits.map((p) => p.policy),
    ],
  );
  await db.query(
    "DELETE FROM role_memberships m USING unnest($1::text[], $2::text[]) AS x(role_id, member_id) WHERE m.role_id = x.role_id AND m.member_id = x.member_id",
    [plan.revokes.map((r) => r.role), plan.revokes.map((r) => r.member)],
  );
  await db.query(
    `DELETE FROM permissions p USING unnest($1::text[], $2::text[], $3::text[]) AS x(privilege, resource_id, role_id)
     WHERE p.privilege = x.privilege AND p.resource_id = x.resource_id AND p.role_id = x.role_id`,
    [plan.denies.map((d) => d.privilege), plan.denies.map((d) => d.resource), plan.denies.map((d) => d.role)],
  );
  await db.query("DELETE FROM resources WHERE resource_id = ANY($1)", [plan.deletes]);
  await db.query("DELETE FROM roles WHERE role_id = ANY($1)", [plan.deletes]);
  return createdRoles.rows.filter((r) => (r as { inserted?: boolean }).inserted).map((r) => r.role_id);
}

/** PUT: delete rows defined by this policy or its descendants that the plan does not keep. */
export async function deleteOmitted(
  db: pg.PoolClient,
  plan: Plan,
  policyId: string,
  descendantPattern: string,
): Promise<void> {
  const scope = "(policy_id = $1 OR policy_id LIKE $2)";
  const keepIds = plan.records.map((r) => r.id);
  await db.query(`DELETE FROM resources WHERE ${scope} AND NOT (resource_id = ANY($3))`, [
    policyId,
    descendantPattern,
    keepIds,
  ]);
  await db.query(`DELETE FROM roles WHERE ${scope} AND NOT (role_id = ANY($3))`, [
    policyId,
    descendantPattern,
    keepIds,
  ]);
  await db.query(
    `DELETE FROM role_memberships m WHERE ${scope.replaceAll("policy_id", "m.policy_id")}
     AND NOT EXISTS (SELECT 1 FROM unnest($3::text[], $4::text[]) AS k(role_id, member_id) WHERE k.role_id = m.role_id AND k.member_id = m.member_id)`,
    [policyId, descendantPattern, plan.grants.map((g) => g.role), plan.grants.map((g) => g.member)],
  );
  await db.query(
    `DELETE FROM permissions p WHERE ${scope.replaceAll("policy_id", "p.policy_id")}
     AND NOT EXISTS (SELECT 1 FROM unnest($3::text[], $4::text[], $5::text[]) AS k(privilege, resource_id, role_id)
                     WHERE k.privilege = p.privilege AND k.resource_id = p.resource_id AND k.role_id = p.role_id)`,
    [
      policyId,
      descendantPattern,
      plan.permits.map((p) => p.privilege),
      plan.permits.map((p) => p.resource),
      plan.permits.map((p) => p.role),
    ],
  );
  const annotations = plan.records.flatMap((r) => Object.keys(r.annotations).map((name) => [r.id, name] as const));
  await db.query(
    `DELETE FROM annotations a WHERE ${scope.replaceAll("policy_id", "a.policy_id")}
     AND NOT EXISTS (SELECT 1 FROM unnest($3::text[], $4::text[]) AS k(resource_id, name) WHERE k.resource_id = a.resource_id AND k.name = a.name)`,
    [policyId, descendantPattern, annotations.map((a) => a[0]), annotations.map((a) => a[1])],
  );
}

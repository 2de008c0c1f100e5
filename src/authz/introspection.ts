/**
 * Read models for `/resources` and `/roles` in Conjur's JSON shapes. Lists are built with
 * a fixed number of queries (rows, then permissions/annotations/secrets for all of them).
 */
import type { Queryable } from "../storage/database.js";
import { CLOSURE_CTE, VISIBLE } from "./permissions.js";
import { canLogIn, parseFullId } from "./ids.js";
import { escapeLike } from "../storage/like-pattern.js";

/** Rails' JSON time format: `2021-03-23T16:37:14.455+00:00`. */
export const railsTime = (d: Date): string => d.toISOString().replace("Z", "+00:00");

export interface ListQuery {
  /** Undefined for `GET /resources`, which spans accounts. */
  account?: string | undefined;
  kind?: string | undefined;
  search?: string | undefined;
  limit?: number | undefined;
  offset: number;
}

function listWhere(q: ListQuery): { sql: string; params: unknown[] } {
  const params: unknown[] = [
    q.account === undefined ? "%" : `${escapeLike(q.account)}:${q.kind ? `${escapeLike(q.kind)}:` : ""}%`,
  ];
  let sql = `r.resource_id LIKE $2 AND ${VISIBLE}`;
  if (q.search) {
    params.push(`%${escapeLike(q.search)}%`);
    sql += ` AND (r.resource_id ILIKE $3 OR EXISTS (SELECT 1 FROM annotations a WHERE a.resource_id = r.resource_id AND a.value ILIKE $3))`;
  }
  return { sql, params };
}

export async function countVisible(db: Queryable, roleId: string, q: ListQuery): Promise<number> {
  const where = listWhere(q);
  const { rows } = await db.query<{ count: string }>(
    `WITH RECURSIVE ${CLOSURE_CTE} SELECT count(*) FROM resources r WHERE ${where.sql}`,
    [roleId, ...where.params],
  );
  return Number(rows[0]!.count);
}

export async function listVisible(db: Queryable, roleId: string, q: ListQuery): Promise<string[]> {
  const where = listWhere(q);
  const n = where.params.length + 2;
  const { rows } = await db.query<{ resource_id: string }>(
    `WITH RECURSIVE ${CLOSURE_CTE} SELECT r.resource_id FROM resources r WHERE ${where.sql}
     ORDER BY r.resource_id ${q.limit !== undefined ? `LIMIT $${n}` : ""} OFFSET $${q.limit !== undefined ? n + 1 : n}`,
    [roleId, ...where.params, ...(q.limit !== undefined ? [q.limit] : []), q.offset],
  );
  return rows.map((r) => r.resource_id);
}

export async function isVisible(db: Queryable, roleId: string, resourceId: string): Promise<boolean> {
  const { rows } = await db.query(
    `WITH RECURSIVE ${CLOSURE_CTE} SELECT 1 FROM resources r WHERE r.resource_id = $2 AND ${VISIBLE}`,
    [roleId, resourceId],
  );
  return rows.length > 0;
}

/** Resource JSON for each id, in the order given. */
export async function describeResources(db: Queryable, ids: string[]): Promise<Record<string, unknown>[]> {
  const [resources, permissions, annotations, secrets, versions, restrictions] = await Promise.all([
    db.query<{ resource_id: string; owner_id: string; policy_id: string | null; created_at: Date }>(
      "SELECT resource_id, owner_id, policy_id, created_at FROM resources WHERE resource_id = ANY($1)",
      [ids],
    ),
    db.query<{ resource_id: string; privilege: string; role_id: string; policy_id: string | null }>(
      "SELECT resource_id, privilege, role_id, policy_id FROM permissions WHERE resource_id = ANY($1) ORDER BY role_id, privilege",
      [ids],
    ),
    db.query<{ resource_id: string; name: string; value: string; policy_id: string | null }>(
      "SELECT resource_id, name, value, policy_id FROM annotations WHERE resource_id = ANY($1) ORDER BY name",
      [ids],
    ),
    db.query<{ resource_id: string; version: number; expires_at: Date | null }>(
      "SELECT resource_id, version, expires_at FROM secrets WHERE resource_id = ANY($1) ORDER BY version",
      [ids],
    ),
    db.query<{
      resource_id: string;
      version: number;
      created_at: Date;
      policy_sha256: string;
      role_id: string;
      client_ip: string | null;
    }>(
      "SELECT resource_id, version, created_at, policy_sha256, role_id, client_ip FROM policy_versions WHERE resource_id = ANY($1) ORDER BY version",
      [ids],
    ),
    db.query<{ role_id: string; restricted_to: string[] }>(
      "SELECT role_id, restricted_to FROM roles WHERE role_id = ANY($1) AND cardinality(restricted_to) > 0",
      [ids],
    ),
  ]);
  const restrictedTo = new Map(restrictions.rows.map((r) => [r.role_id, r.restricted_to]));
  const byId = new Map(resources.rows.map((r) => [r.resource_id, r]));
  return ids.flatMap((id) => {
    const r = byId.get(id);
    if (!r) return [];
    const kind = parseFullId(id)!.kind;
    const json: Record<string, unknown> = {
      created_at: railsTime(r.created_at),
      id,
      owner: r.owner_id,
      ...(r.policy_id ? { policy: r.policy_id } : {}),
      permissions: permissions.rows
        .filter((p) => p.resource_id === id)
        .map((p) => withPolicy({ privilege: p.privilege, role: p.role_id }, p.policy_id)),
      annotations: annotations.rows
        .filter((a) => a.resource_id === id)
        .map((a) => withPolicy({ name: a.name, value: a.value }, a.policy_id)),
    };
    if (kind === "variable")
      json.secrets = secrets.rows
        .filter((s) => s.resource_id === id)
        .map((s) => ({ version: s.version, expires_at: s.expires_at && railsTime(s.expires_at) }));
    if (canLogIn(kind)) json.restricted_to = restrictedTo.get(id) ?? [];
    if (kind === "policy") {
      json.policy_versions = versions.rows
        .filter((v) => v.resource_id === id)
        .map((v) => ({
          version: v.version,
          created_at: railsTime(v.created_at),
          policy_sha256: v.policy_sha256,
          role: v.role_id,
          client_ip: v.client_ip,
          id,
        }));
    }
    return [json];
  });
}

/**
 * Conjur's `write_id_to_json`: a record's `policy` appears only when it has one (grants and
 * permissions made through the API, not a policy, have none): never `"policy": null`.
 */
function withPolicy<T extends object>(json: T, policyId: string | null): T & { policy?: string } {
  return policyId ? { ...json, policy: policyId } : json;
}

export interface MembershipRow {
  admin_option: boolean;
  ownership: boolean;
  role: string;
  member: string;
  policy?: string;
}

export async function memberships(
  db: Queryable,
  column: "role_id" | "member_id",
  roleId: string,
): Promise<MembershipRow[]> {
  const { rows } = await db.query<Omit<MembershipRow, "policy"> & { policy_id: string | null }>(
    `SELECT admin_option, ownership, role_id AS role, member_id AS member, policy_id FROM role_memberships WHERE ${column} = $1 ORDER BY role_id, member_id`,
    [roleId],
  );
  return rows.map(({ policy_id, ...row }) => withPolicy(row, policy_id));
}

export async function roleRow(
  db: Queryable,
  roleId: string,
): Promise<{ created_at: Date; policy_id: string | null } | undefined> {
  return (
    await db.query<{ created_at: Date; policy_id: string | null }>(
      "SELECT created_at, policy_id FROM roles WHERE role_id = $1",
      [roleId],
    )
  ).rows[0];
}

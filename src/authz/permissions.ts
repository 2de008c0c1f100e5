/**
 * Authorization, set-based: one SQL statement answers for a whole list of resources.
 * A role has what any role in its transitive membership closure (itself included) has;
 * ownership implies every privilege; a resource is visible if some role in the closure
 * owns it or holds any permission on it.
 */
import type { Queryable } from "../storage/database.js";

/** Recursive CTE of every role `$1` has, itself included. UNION stops at cycles. */
export const CLOSURE_CTE = `closure(role_id) AS (
  SELECT $1::text
  UNION
  SELECT m.role_id FROM role_memberships m JOIN closure c ON m.member_id = c.role_id
)`;

/** SQL expressions over a `resources r` row, against the closure. */
export const OWNS = "r.owner_id IN (SELECT role_id FROM closure)";
export const VISIBLE = `(${OWNS} OR EXISTS (SELECT 1 FROM permissions p WHERE p.resource_id = r.resource_id AND p.role_id IN (SELECT role_id FROM closure)))`;
export const permitted = (privilegeParam: string): string =>
  `(${OWNS} OR EXISTS (SELECT 1 FROM permissions p WHERE p.resource_id = r.resource_id AND p.privilege = ${privilegeParam} AND p.role_id IN (SELECT role_id FROM closure)))`;

export interface Access {
  visible: boolean;
  allowed: boolean;
}

/** For each existing resource in `resourceIds`: is it visible to `roleId`, and may it `privilege`? */
export async function accessTo(
  db: Queryable,
  roleId: string,
  resourceIds: string[],
  privilege: string,
): Promise<Map<string, Access>> {
  const { rows } = await db.query<{ resource_id: string; visible: boolean; allowed: boolean }>(
    `WITH RECURSIVE ${CLOSURE_CTE}
     SELECT r.resource_id, ${VISIBLE} AS visible, ${permitted("$3")} AS allowed
     FROM resources r WHERE r.resource_id = ANY($2::text[])`,
    [roleId, resourceIds, privilege],
  );
  return new Map(rows.map((r) => [r.resource_id, { visible: r.visible, allowed: r.allowed }]));
}

export async function accessToOne(
  db: Queryable,
  roleId: string,
  resourceId: string,
  privilege: string,
): Promise<Access> {
  return (await accessTo(db, roleId, [resourceId], privilege)).get(resourceId) ?? { visible: false, allowed: false };
}

/** Every role `roleId` has, transitively, itself included. */
export async function allRoles(db: Queryable, roleId: string): Promise<string[]> {
  const { rows } = await db.query<{ role_id: string }>(
    `WITH RECURSIVE ${CLOSURE_CTE} SELECT role_id FROM closure ORDER BY role_id`,
    [roleId],
  );
  return rows.map((r) => r.role_id);
}

export async function hasRole(db: Queryable, roleId: string, otherRoleId: string): Promise<boolean> {
  const { rows } = await db.query(`WITH RECURSIVE ${CLOSURE_CTE} SELECT 1 FROM closure WHERE role_id = $2`, [
    roleId,
    otherRoleId,
  ]);
  return rows.length > 0;
}

export async function roleExists(db: Queryable, roleId: string): Promise<boolean> {
  return ((await db.query("SELECT 1 FROM roles WHERE role_id = $1", [roleId])).rowCount ?? 0) > 0;
}

export async function resourceExists(db: Queryable, resourceId: string): Promise<boolean> {
  return ((await db.query("SELECT 1 FROM resources WHERE resource_id = $1", [resourceId])).rowCount ?? 0) > 0;
}

/** Roles that hold `privilege` on the resource (directly or by ownership) and all their members. */
export async function permittedRoles(db: Queryable, resourceId: string, privilege: string): Promise<string[]> {
  const { rows } = await db.query<{ role_id: string }>(
    `WITH RECURSIVE holders(role_id) AS (
       SELECT owner_id FROM resources WHERE resource_id = $1
       UNION SELECT role_id FROM permissions WHERE resource_id = $1 AND privilege = $2
       UNION SELECT m.member_id FROM role_memberships m JOIN holders h ON m.role_id = h.role_id
     ) SELECT role_id FROM holders ORDER BY role_id`,
    [resourceId, privilege],
  );
  return rows.map((r) => r.role_id);
}

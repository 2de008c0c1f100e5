/**
 * Loads a policy document into a policy, in one transaction, all or nothing.
 * POST appends (no deletion statements), PATCH updates, PUT replaces: rows this policy
 * (or a policy beneath it) defined that the new text omits are deleted.
 */
import { createHash } from "node:crypto";
import type pg from "pg";
import { rotateApiKey } from "../authn/credentials.js";
import { accessTo, accessToOne } from "../authz/permissions.js";
import { canLogIn, fullId, parseFullId } from "../authz/ids.js";
import type { Aead } from "../crypto/aead.js";
import { errors } from "../errors.js";
import { inTransaction, type Queryable } from "../storage/database.js";
import { parsePolicyOffThread } from "./parse-off-thread.js";
import { resolvePolicy, type Plan } from "./resolve.js";
import { applyPlan, deleteOmitted } from "./apply-plan.js";
import { storePublicKeys } from "./public-keys.js";
import { escapeLike } from "../storage/like-pattern.js";

export type LoadMode = "POST" | "PATCH" | "PUT";

export interface LoadRequest {
  account: string;
  policy: string; // identifier of the target policy, e.g. "root" or "prod/db"
  mode: LoadMode;
  roleId: string; // the caller
  text: string;
  clientIp?: string | undefined;
}

export interface LoadResult {
  created_roles: Record<string, { id: string; api_key: string }>;
  version: number;
}

const VERSIONS_KEPT = 20;
const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

async function checkPrivileges(db: Queryable, req: LoadRequest, policyId: string): Promise<void> {
  const privilege = req.mode === "POST" ? "create" : "update";
  const access = await accessToOne(db, req.roleId, policyId, privilege);
  if (!access.visible) throw errors.recordNotFound(req.account, "policy", req.policy);
  if (!access.allowed) throw errors.forbidden();
  if (req.mode !== "PUT") return;
  // Replacing a policy may delete what its descendants defined: update on all of them.
  const descendants = await db.query<{ resource_id: string }>(
    "SELECT resource_id FROM resources WHERE resource_id LIKE $1",
    [descendantPattern(req)],
  );
  const ids = descendants.rows.map((r) => r.resource_id).filter((id) => id !== policyId);
  const all = await accessTo(db, req.roleId, ids, "update");
  if ([...all.values()].some((a) => !a.allowed)) throw errors.forbidden();
}

function descendantPattern(req: LoadRequest): string {
  return req.policy === "root"
    ? `${escapeLike(req.account)}:policy:%`
    : `${escapeLike(fullId(req.account, "policy", req.policy))}/%`;
}

/** Every role and resource the plan relies on must exist already or be created by it. */
async function checkReferences(db: pg.PoolClient, plan: Plan, deleted: Set<string>): Promise<void> {
  const defined = new Set(plan.records.map((r) => r.id));
  const needed = new Set<string>();
  for (const r of plan.records) needed.add(r.owner);
  for (const g of plan.grants) needed.add(g.role).add(g.member);
  for (const p of plan.permits) needed.add(p.role).add(p.resource);
  const unknown = [...needed].filter((id) => !defined.has(id));
  const { rows } = await db.query<{ id: string }>(
    "SELECT resource_id AS id FROM resources WHERE resource_id = ANY($1) UNION SELECT role_id FROM roles WHERE role_id = ANY($1)",
    [unknown],
  );
  const existing = new Set(rows.map((r) => r.id));
  for (const id of needed) {
    if ((defined.has(id) || existing.has(id)) && !deleted.has(id)) continue;
    const parsed = parseFullId(id)!;
    const ref = plan.references.get(id);
    throw errors.policyInvalid(
      `${capitalize(parsed.kind)} '${parsed.identifier}' not found in account '${parsed.account}'`,
      ref?.at,
    );
  }
}

async function recordVersion(db: pg.PoolClient, req: LoadRequest, policyId: string): Promise<number> {
  const { rows } = await db.query<{ version: number }>(
    `INSERT INTO policy_versions (resource_id, version, role_id, policy_text, policy_sha256, client_ip)
     SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5 FROM policy_versions WHERE resource_id = $1
     RETURNING version`,
    [policyId, req.roleId, req.text, createHash("sha256").update(req.text).digest("hex"), req.clientIp ?? null],
  );
  const version = rows[0]!.version;
  await db.query("DELETE FROM policy_versions WHERE resource_id = $1 AND version <= $2", [
    policyId,
    version - VERSIONS_KEPT,
  ]);
  return version;
}

/**
 * A dry run (src/policy/dry-run.ts) watches the same load: `before` sees the database after
 * the checks and before any write, `after` once everything is written; it then throws to roll
 * the transaction back. So a dry run and a real load can never disagree.
 */
export interface Rehearsal {
  before(db: pg.PoolClient, plan: Plan, policyId: string, scope: string): Promise<void>;
  after(db: pg.PoolClient, plan: Plan): Promise<never>;
}

export async function loadPolicy(
  pool: pg.Pool,
  aead: Aead,
  req: LoadRequest,
  rehearsal?: Rehearsal,
): Promise<LoadResult> {
  const policyId = fullId(req.account, "policy", req.policy);
  // Privileges before parsing: parsing is the expensive part, and its input is the caller's.
  await checkPrivileges(pool, req, policyId);
  if (req.text.trim() === "") throw errors.validationFailed("policy_text", "is not present");
  const statements = await parsePolicyOffThread(req.text);
  return inTransaction(pool, async (db) => {
    // One policy load at a time per account: loads read-then-write the role graph.
    await db.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`policy:${req.account}`]);
    // Again under the lock: the role graph may have changed while we parsed.
    await checkPrivileges(db, req, policyId);
    const owner = await db.query<{ owner_id: string }>("SELECT owner_id FROM resources WHERE resource_id = $1", [
      policyId,
    ]);
    const isRoot = req.policy === "root";
    const plan = resolvePolicy(statements, {
      account: req.account,
      namespace: isRoot ? "" : req.policy,
      owner: isRoot ? owner.rows[0]!.owner_id : policyId,
      policy: policyId,
    });
    if (req.mode === "POST" && (plan.revokes.length || plan.denies.length || plan.deletes.length)) {
      throw errors.validationFailed("policy_text", "may not contain deletion statements");
    }
    const deleted = new Set(plan.deletes);
    await checkReferences(db, plan, deleted);
    await rehearsal?.before(db, plan, policyId, descendantPattern(req));
    if (req.mode === "PUT") await deleteOmitted(db, plan, policyId, descendantPattern(req));
    const created = await applyPlan(db, plan, req.mode === "POST");
    await storePublicKeys(db, aead, plan.publicKeys);
    if (rehearsal) {
      await recordVersion(db, req, policyId);
      return rehearsal.after(db, plan);
    }
    const createdRoles: LoadResult["created_roles"] = {};
    for (const id of created) {
      if (deleted.has(id)) continue;
      const kind = parseFullId(id)!.kind;
      if (canLogIn(kind)) createdRoles[id] = { id, api_key: await rotateApiKey(db, aead, id) };
    }
    return { created_roles: createdRoles, version: await recordVersion(db, req, policyId) };
  });
}

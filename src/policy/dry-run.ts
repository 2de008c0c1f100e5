/**
 * `?dryRun=true` (Conjur ≥ 1.21.2, conjur-api-second-pass.md §3): the real load, in the
 * real transaction, rolled back at the end. The report compares every affected role and
 * resource before and after: created, updated (before/after) and deleted items in Conjur's
 * shapes, with ids the caller cannot see redacted. Nothing persists, no API key is issued.
 */
import type pg from "pg";
import type { Aead } from "../crypto/aead.js";
import { parseFullId } from "../authz/ids.js";
import { CLOSURE_CTE, VISIBLE } from "../authz/permissions.js";
import { ApiError } from "../errors.js";
import { loadPolicy, type LoadRequest } from "./load-policy.js";
import type { Plan } from "./resolve.js";

type Item = Record<string, unknown>;
export interface DryRunReport {
  status: "Valid YAML";
  created: { items: Item[] };
  updated: { before: { items: Item[] }; after: { items: Item[] } };
  deleted: { items: Item[] };
}

export interface DryRunInvalid {
  status: "Invalid YAML";
  errors: {
    line: number | null;
    column: number | null;
    message: string;
    context?: { policy_id: string; offending_lines?: number[] };
  }[];
}

const ROLE_TYPES = new Set(["user", "host", "group", "layer", "policy", "host_factory"]);

class Rehearsed extends Error {
  constructor(readonly report: DryRunReport) {
    super("dry run rolled back");
  }
}

/** Every id the plan touches; under PUT also everything the policy and its descendants defined. */
function affectedIds(plan: Plan): Set<string> {
  const ids = new Set<string>();
  for (const r of plan.records) ids.add(r.id);
  for (const g of plan.grants) ids.add(g.role).add(g.member);
  for (const r of plan.revokes) ids.add(r.role).add(r.member);
  for (const p of [...plan.permits, ...plan.denies]) ids.add(p.role).add(p.resource);
  for (const d of plan.deletes) ids.add(d);
  return ids;
}

const group = (rows: { key: string; privilege: string; other: string }[], id: string): Record<string, string[]> => {
  const out: Record<string, string[]> = {};
  for (const r of rows) if (r.key === id) (out[r.privilege] ??= []).push(r.other);
  return out;
};

/** The items for `ids` as the database holds them now (within the transaction). */
async function snapshot(
  db: pg.PoolClient,
  callerRoleId: string,
  ids: string[],
): Promise<Map<string, { item: Item; full: string }>> {
  // One client, one query at a time (a transaction's client cannot pipeline).
  const resources = await db.query<{ id: string; owner_id: string; policy_id: string | null }>(
    "SELECT resource_id AS id, owner_id, policy_id FROM resources WHERE resource_id = ANY($1)",
    [ids],
  );
  const roles = await db.query<{ id: string; restricted_to: string[] }>(
    "SELECT role_id AS id, restricted_to FROM roles WHERE role_id = ANY($1)",
    [ids],
  );
  const perms = await db.query<{ resource_id: string; role_id: string; privilege: string }>(
    "SELECT resource_id, role_id, privilege FROM permissions WHERE resource_id = ANY($1) OR role_id = ANY($1) ORDER BY resource_id, role_id, privilege",
    [ids],
  );
  const annotations = await db.query<{ resource_id: string; name: string; value: string }>(
    "SELECT resource_id, name, value FROM annotations WHERE resource_id = ANY($1) ORDER BY name",
    [ids],
  );
  const memberships = await db.query<{ role_id: string; member_id: string }>(
    "SELECT role_id, member_id FROM role_memberships WHERE role_id = ANY($1) OR member_id = ANY($1) ORDER BY role_id, member_id",
    [ids],
  );
  const mentioned = new Set([
    ...ids,
    ...resources.rows.flatMap((r) => [r.owner_id, r.policy_id ?? r.id]),
    ...perms.rows.flatMap((p) => [p.resource_id, p.role_id]),
    ...memberships.rows.flatMap((m) => [m.role_id, m.member_id]),
  ]);
  const visible = await db.query<{ id: string }>(
    `WITH RECURSIVE ${CLOSURE_CTE} SELECT r.resource_id AS id FROM resources r WHERE r.resource_id = ANY($2) AND ${VISIBLE}`,
    [callerRoleId, [...mentioned]],
  );
  const canSee = new Set(visible.rows.map((r) => r.id));
  const redact = (id: string): string => {
    if (canSee.has(id)) return id;
    const parsed = parseFullId(id);
    return parsed ? `${parsed.account}:${parsed.kind}:[REDACTED]` : id;
  };
  const roleById = new Map(roles.rows.map((r) => [r.id, r]));
  const describe = (r: (typeof resources.rows)[number], redact: (id: string) => string): Item => {
    const parsed = parseFullId(r.id)!;
    if (redact(r.id) !== r.id) return { identifier: redact(r.id), type: parsed.kind };
    const item: Item = {
      identifier: r.id,
      id: parsed.identifier,
      type: parsed.kind,
      owner: redact(r.owner_id),
      policy: r.policy_id && redact(r.policy_id),
    };
    if (ROLE_TYPES.has(parsed.kind)) {
      item.permissions = group(
        perms.rows.map((p) => ({ key: p.role_id, privilege: p.privilege, other: redact(p.resource_id) })),
        r.id,
      );
      item.annotations = Object.fromEntries(
        annotations.rows.filter((a) => a.resource_id === r.id).map((a) => [a.name, a.value]),
      );
      item.members = memberships.rows.filter((m) => m.role_id === r.id).map((m) => redact(m.member_id));
      item.memberships = memberships.rows.filter((m) => m.member_id === r.id).map((m) => redact(m.role_id));
      item.restricted_to = roleById.get(r.id)?.restricted_to ?? []; // every role kind, as Conjur (policies, groups: [])
    } else {
      item.permitted = group(
        perms.rows.map((p) => ({ key: p.resource_id, privilege: p.privilege, other: redact(p.role_id) })),
        r.id,
      );
      item.annotations = Object.fromEntries(
        annotations.rows.filter((a) => a.resource_id === r.id).map((a) => [a.name, a.value]),
      );
    }
    return item;
  };
  // Changes are found on the full rows (an invisible record still counts as updated), shown redacted.
  return new Map(
    resources.rows.map((r) => [r.id, { item: describe(r, redact), full: JSON.stringify(describe(r, (id) => id)) }]),
  );
}

export async function dryRunPolicy(pool: pg.Pool, aead: Aead, req: LoadRequest): Promise<DryRunReport> {
  let ids: string[] = [];
  let before = new Map<string, { item: Item; full: string }>();
  try {
    await loadPolicy(pool, aead, req, {
      async before(db, plan, policyId, descendants) {
        const affected = affectedIds(plan);
        if (req.mode === "PUT") {
          const scoped = await db.query<{ id: string }>(
            "SELECT resource_id AS id FROM resources WHERE policy_id = $1 OR policy_id LIKE $2",
            [policyId, descendants],
          );
          for (const r of scoped.rows) affected.add(r.id);
        }
        // Conjur also reports the roles whose memberships change with them: a deleted user's owner
        // (a member of it) is "updated". Only those that do change are reported (see after()).
        const related = await db.query<{ role_id: string; member_id: string }>(
          "SELECT role_id, member_id FROM role_memberships WHERE role_id = ANY($1) OR member_id = ANY($1)",
          [[...affected]],
        );
        for (const m of related.rows) affected.add(m.role_id).add(m.member_id);
        ids = [...affected].sort();
        before = await snapshot(db, req.roleId, ids);
      },
      async after(db) {
        const after = await snapshot(db, req.roleId, ids);
        const report: DryRunReport = {
          status: "Valid YAML",
          created: { items: [] },
          updated: { before: { items: [] }, after: { items: [] } },
          deleted: { items: [] },
        };
        for (const id of ids) {
          const was = before.get(id);
          const is = after.get(id);
          if (!was && is) report.created.items.push(is.item);
          else if (was && !is) report.deleted.items.push(was.item);
          else if (was && is && was.full !== is.full) {
            report.updated.before.items.push(was.item);
            report.updated.after.items.push(is.item);
          }
        }
        throw new Rehearsed(report);
      },
    });
  } catch (err) {
    if (err instanceof Rehearsed) return err.report;
    throw err;
  }
  throw new Error("a dry run must end in its rehearsal");
}

/** A 422 from parsing or validation in Conjur's dry-run shape; undefined for other errors. */
export function invalidPolicyReport(err: unknown, policyId: string): DryRunInvalid | undefined {
  if (!(err instanceof ApiError) || err.status !== 422 || !err.body) return undefined;
  const inner = err.body.error.innererror as { line?: number; column?: number } | undefined;
  const line = inner?.line ?? null;
  const message =
    line !== null ? err.body.error.message.replace(/^line \d+, column \d+: /, "") : err.body.error.message;
  return {
    status: "Invalid YAML",
    errors: [
      {
        line,
        column: inner?.column ?? null,
        message,
        context: { policy_id: policyId, ...(line !== null ? { offending_lines: [line] } : {}) },
      },
    ],
  };
}

/**
 * `GET /policies/{account}/policy/{id}` (Conjur ≥ 1.21.1, conjur-api-second-pass.md §4): the
 * policy as the database holds it now — records, grants and permits defined under it,
 * rebuilt as statements (not the text that was loaded). Nested policies nest; ids are
 * relative inside the policy and absolute (`/…`) outside it; `depth` bounds the nesting,
 * `limit` the rows. Rendered as Conjur's YAML (tags) or JSON (`{"variable":{"id":"v"}}`).
 */
import { Document, Scalar, YAMLMap, YAMLSeq, type Node } from "yaml";
import { parseFullId } from "../authz/ids.js";
import type { Queryable } from "../storage/database.js";
import { escapeLike } from "../storage/like-pattern.js";

/** Ids read from the database are always full (account:kind:identifier); anything else is a bug, said at once. */
function partsOf(id: string): NonNullable<ReturnType<typeof parseFullId>> {
  const parts = parseFullId(id);
  if (!parts) throw new Error(`not a full id in the database: ${id.slice(0, 200)}`);
  return parts;
}

export const EFFECTIVE_POLICY_MAX_DEPTH = 64;
export const EFFECTIVE_POLICY_MAX_LIMIT = 100_000;

interface Ref {
  ref: string; // kind
  id: string;
}
type Value = string | string[] | Ref | Ref[] | Statement[] | Record<string, string>;
interface Statement {
  tag: string; // policy, variable, grant, permit, …
  fields: Record<string, Value>;
}

export class PolicyTooLarge extends Error {
  constructor(
    readonly limit: number,
    readonly size: number,
  ) {
    super(`CONJ00164E Policy max allowed 'limit' = ${limit} exceeded. Value for policy is: ${size}`);
  }
}

const isRef = (v: unknown): v is Ref => typeof v === "object" && v !== null && "ref" in v;

/** An id written inside policy `base` (identifier, '' for root): relative when under it, else absolute. */
function relative(id: string, base: string): string {
  const { kind, identifier } = partsOf(id);
  if (!base) return identifier;
  if (identifier.startsWith(`${base}/`)) return identifier.slice(base.length + 1);
  const userSuffix = `@${base.replaceAll("/", "-")}`;
  if (kind === "user" && identifier.endsWith(userSuffix)) return identifier.slice(0, -userSuffix.length);
  return `/${identifier}`;
}

export async function effectivePolicy(
  db: Queryable,
  policyId: string,
  depth: number,
  limit: number,
): Promise<Statement[]> {
  const { account, identifier: target } = partsOf(policyId);
  const isRoot = target === "root";
  const scope = isRoot ? `${escapeLike(account)}:%` : `${escapeLike(policyId)}/%`;
  const inScope = "(policy_id = $1 OR policy_id LIKE $2)";
  const resources = await db.query<{ id: string; owner_id: string; policy_id: string }>(
    `SELECT resource_id AS id, owner_id, policy_id FROM resources WHERE ${inScope} AND split_part(resource_id, ':', 2) <> 'public_key' ORDER BY resource_id`,
    [policyId, scope],
  );
  const annotations = await db.query<{ resource_id: string; name: string; value: string }>(
    `SELECT resource_id, name, value FROM annotations WHERE resource_id IN (SELECT resource_id FROM resources WHERE ${inScope}) ORDER BY name`,
    [policyId, scope],
  );
  const grants = await db.query<{ role_id: string; member_id: string; policy_id: string }>(
    `SELECT role_id, member_id, policy_id FROM role_memberships WHERE ${inScope} AND NOT ownership ORDER BY role_id, member_id`,
    [policyId, scope],
  );
  const permits = await db.query<{ role_id: string; resource_id: string; privilege: string; policy_id: string }>(
    `SELECT role_id, resource_id, privilege, policy_id FROM permissions WHERE ${inScope} ORDER BY role_id, resource_id, privilege`,
    [policyId, scope],
  );
  const roles = await db.query<{ role_id: string; restricted_to: string[] }>(
    `SELECT role_id, restricted_to FROM roles WHERE ${inScope} AND cardinality(restricted_to) > 0`,
    [policyId, scope],
  );
  const size = resources.rows.length + annotations.rows.length + permits.rows.length;
  if (size > limit) throw new PolicyTooLarge(limit, size);
  const restricted = new Map(roles.rows.map((r) => [r.role_id, r.restricted_to]));
  // Records loaded into root are owned by root's owner (an account's admin) unless they say otherwise.
  const rootOwner = isRoot
    ? (await db.query<{ owner_id: string }>("SELECT owner_id FROM resources WHERE resource_id = $1", [policyId]))
        .rows[0]?.owner_id
    : undefined;

  const body = (policy: string, base: string, level: number): Statement[] => {
    if (level > depth) return [];
    const out: Statement[] = [];
    for (const r of resources.rows.filter((x) => x.policy_id === policy)) {
      const kind = partsOf(r.id).kind;
      const fields: Record<string, Value> = { id: relative(r.id, base) };
      if (r.owner_id !== policy && !(policy === policyId && r.owner_id === rootOwner))
        fields.owner = { ref: partsOf(r.owner_id).kind, id: relative(r.owner_id, base) };
      const own = annotations.rows.filter((a) => a.resource_id === r.id);
      for (const [name, attribute] of [
        ["conjur/kind", "kind"],
        ["conjur/mime_type", "mime_type"],
      ] as const) {
        const found = own.find((a) => a.name === name);
        if (found && kind === "variable") fields[attribute] = found.value;
      }
      const rest = own.filter(
        (a) => kind !== "variable" || (a.name !== "conjur/kind" && a.name !== "conjur/mime_type"),
      );
      if (rest.length) fields.annotations = Object.fromEntries(rest.map((a) => [a.name, a.value]));
      if (restricted.has(r.id)) fields.restricted_to = restricted.get(r.id)!;
      if (kind === "host_factory")
        fields.layers = grants.rows
          .filter((g) => g.member_id === r.id && partsOf(g.role_id).kind === "layer")
          .map((g) => ({ ref: "layer", id: relative(g.role_id, base) }));
      if (kind === "policy") fields.body = body(r.id, partsOf(r.id).identifier, level + 1);
      out.push({ tag: kind, fields });
    }
    const layerOf = (g: { role_id: string; member_id: string }) =>
      partsOf(g.role_id).kind === "layer" && partsOf(g.member_id).kind === "host_factory";
    for (const role of [
      ...new Set(grants.rows.filter((g) => g.policy_id === policy && !layerOf(g)).map((g) => g.role_id)),
    ]) {
      const members = grants.rows
        .filter((g) => g.policy_id === policy && g.role_id === role && !layerOf(g))
        .map((g) => ({ ref: partsOf(g.member_id).kind, id: relative(g.member_id, base) }));
      out.push({ tag: "grant", fields: { role: { ref: partsOf(role).kind, id: relative(role, base) }, members } });
    }
    const pairs = new Map<string, string[]>();
    for (const p of permits.rows.filter((x) => x.policy_id === policy))
      pairs.set(`${p.role_id}\n${p.resource_id}`, [
        ...(pairs.get(`${p.role_id}\n${p.resource_id}`) ?? []),
        p.privilege,
      ]);
    for (const [key, privileges] of pairs) {
      const [role, resource] = key.split("\n") as [string, string];
      out.push({
        tag: "permit",
        fields: {
          role: { ref: partsOf(role).kind, id: relative(role, base) },
          privileges,
          resource: { ref: partsOf(resource).kind, id: relative(resource, base) },
        },
      });
    }
    return out;
  };
  if (isRoot) return body(policyId, "", 1);
  return [{ tag: "policy", fields: { id: target.split("/").pop()!, body: body(policyId, target, 1) } }];
}

const tagName = (kind: string): string => `!${kind.replace("_", "-")}`;

export function toJson(statements: Statement[]): unknown {
  const value = (v: Value): unknown => {
    if (isRef(v)) return { [v.ref.replace("_", "-")]: v.id };
    if (Array.isArray(v))
      return (v as unknown[]).map((item) =>
        isRef(item) ? value(item) : typeof item === "object" ? (toJson([item as Statement]) as unknown[])[0] : item,
      );
    return v;
  };
  return statements.map((s) => ({
    [s.tag.replace("_", "-")]: Object.fromEntries(Object.entries(s.fields).map(([k, v]) => [k, value(v)])),
  }));
}

export function toYaml(statements: Statement[]): string {
  const doc = new Document();
  const node = (v: Value): Node => {
    if (isRef(v)) {
      const s = new Scalar(v.id);
      s.tag = tagName(v.ref);
      return s;
    }
    if (Array.isArray(v)) {
      const seq = new YAMLSeq();
      for (const item of v as unknown[])
        seq.items.push(
          isRef(item) ? node(item) : typeof item === "object" ? statementNode(item as Statement) : doc.createNode(item),
        );
      return seq;
    }
    return doc.createNode(v);
  };
  const statementNode = (s: Statement): Node => {
    // Conjur writes a record that has nothing but its id in the short form, `- !host bob`.
    const keys = Object.keys(s.fields);
    if (keys.length === 1 && keys[0] === "id" && typeof s.fields.id === "string") {
      const short = new Scalar(s.fields.id);
      short.tag = tagName(s.tag);
      return short;
    }
    const map = new YAMLMap();
    for (const [k, v] of Object.entries(s.fields)) map.set(k, node(v));
    map.tag = tagName(s.tag);
    return map;
  };
  const seq = new YAMLSeq();
  for (const s of statements) seq.items.push(statementNode(s));
  doc.contents = seq;
  // Psych's layout: a sequence under a key is not indented (`body:\n  - !host bob`).
  return `---\n${doc.toString({ indentSeq: false })}`;
}

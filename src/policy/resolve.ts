/**
 * Turns parsed statements into a plan of fully qualified rows, applying Conjur's naming
 * rules: ids are relative to the enclosing policy, a blank id means the policy itself, users
 * inside a policy get `name@policy-path` ids; on the grantee side (owner, members, permitted
 * roles) `/x` is absolute and `../` climbs, while a statement's subject stays inside the
 * policy (`subjectId`).
 */
import { errors } from "../errors.js";
import { fullId } from "../authz/ids.js";
import { ROLE_RECORD_KINDS, type Position, type Ref, type Statement } from "./statements.js";

export interface PlannedRecord {
  id: string;
  kind: string;
  owner: string;
  policy: string;
  annotations: Record<string, string>;
  /** Users and hosts: normalised CIDRs, undefined when the policy does not say. */
  restrictedTo?: string[] | undefined;
}

export interface Grant {
  role: string;
  member: string;
  admin: boolean;
  ownership: boolean;
  policy: string;
}

export interface Permission {
  privilege: string;
  resource: string;
  role: string;
  policy: string;
}

export interface Plan {
  records: PlannedRecord[];
  grants: Grant[];
  revokes: { role: string; member: string }[];
  permits: Permission[];
  denies: Omit<Permission, "policy">[];
  deletes: string[];
  /** Public keys of users (`public_key` resources) and the value each must hold. */
  publicKeys: { resource: string; value: string }[];
  /** Every id the plan relies on, with where it was written (checked for existence). */
  references: Map<string, Ref>;
}

interface Scope {
  account: string;
  namespace: string; // identifier of the enclosing policy, '' for root
  owner: string; // full id of the default owner
  policy: string; // full id of the enclosing policy resource
}

function absolute(kind: string, raw: string, namespace: string, at: Position): string {
  if (raw.startsWith("/")) return raw.slice(1);
  let id = raw;
  const parts = namespace ? namespace.split("/") : [];
  while (id.startsWith("../")) {
    if (parts.length === 0) throw errors.policyInvalid(`'${raw}' climbs above the root policy`, at);
    parts.pop();
    id = id.slice(3);
  }
  const base = parts.join("/");
  if (id === "") {
    if (!base) throw errors.policyInvalid("resource has a blank id", at);
    return base;
  }
  if (kind === "user" && base) return `${id}@${base.replaceAll("/", "-")}`;
  return base ? `${base}/${id}` : id;
}

/**
 * The subject of a statement — a declared record, a grant's or revoke's role, a permit's or
 * deny's resource, a deleted record — stays under the policy being loaded (Conjur's
 * AbsoluteChecker): `/x` is "Illegal absolute id" and `../` is not climbed. Whoever may load
 * policy P can only create, grant, permit on or delete what lies under P. The grantee side
 * (owner, members, permitted roles) may name any role, as in Conjur. Conjur keeps a record's
 * `../` literally (`P/../x`); we refuse it, which no load can mistake for the record above.
 */
function subjectId(kind: string, raw: string, namespace: string, at: Position): string {
  if (raw.startsWith("/")) throw errors.policyInvalid(`Illegal absolute id: ${raw}`, at);
  if (raw.split("/").includes(".."))
    throw errors.policyInvalid(`Invalid relative reference: ${namespace ? `${namespace}/` : ""}${raw}`, at);
  return absolute(kind, raw, namespace, at);
}

export function resolvePolicy(statements: Statement[], root: Scope): Plan {
  const plan: Plan = {
    records: [],
    grants: [],
    revokes: [],
    permits: [],
    denies: [],
    deletes: [],
    publicKeys: [],
    references: new Map(),
  };
  // Conjur's DuplicateResolver: one record, one declaration (two rows for one id would also
  // make PUT/PATCH's upsert touch a row twice in one statement).
  const declared = new Set<string>();
  const declare = (id: string, kind: string, identifier: string, at: Position): void => {
    if (declared.has(id)) throw errors.policyInvalid(`${kind} '${identifier}' is declared more than once`, at);
    declared.add(id);
  };
  const subjectRef = (scope: Scope, ref: Ref): string => {
    const id = fullId(scope.account, ref.kind, subjectId(ref.kind, ref.id, scope.namespace, ref.at));
    if (!plan.references.has(id)) plan.references.set(id, ref);
    return id;
  };
  const refId = (scope: Scope, ref: Ref): string => {
    const id = fullId(scope.account, ref.kind, absolute(ref.kind, ref.id, scope.namespace, ref.at));
    if (!plan.references.has(id)) plan.references.set(id, ref);
    return id;
  };

  const walk = (items: Statement[], scope: Scope): void => {
    for (const s of items) {
      switch (s.type) {
        case "record": {
          const identifier = subjectId(s.kind, s.id, scope.namespace, s.at);
          const id = fullId(scope.account, s.kind, identifier);
          declare(id, s.kind, identifier, s.at);
          const owner = s.owner ? refId(scope, s.owner) : scope.owner;
          plan.records.push({
            id,
            kind: s.kind,
            owner,
            policy: scope.policy,
            annotations: s.annotations,
            restrictedTo: s.restrictedTo,
          });
          if (ROLE_RECORD_KINDS.has(s.kind))
            plan.grants.push({ role: id, member: owner, admin: true, ownership: true, policy: scope.policy });
          // A host factory is a member of each of its layers: hosts it makes join them (Conjur's HostFactory#create!).
          for (const layer of s.layers ?? [])
            plan.grants.push({
              // The factory joins the layer: the layer is granted, so it is a subject too.
              role: subjectRef(scope, layer),
              member: id,
              admin: false,
              ownership: false,
              policy: scope.policy,
            });
          for (const key of s.publicKeys ?? []) {
            const resource = fullId(scope.account, "public_key", `user/${identifier}/${key.split(" ")[2]!}`);
            if (declared.has(resource)) continue; // the same key listed twice: one resource
            declared.add(resource);
            plan.records.push({ id: resource, kind: "public_key", owner, policy: scope.policy, annotations: {} });
            plan.publicKeys.push({ resource, value: key });
          }
          if (s.body) walk(s.body, { account: scope.account, namespace: identifier, owner: id, policy: id });
          break;
        }
        case "grant":
        case "revoke": {
          const role = subjectRef(scope, s.role);
          for (const m of s.members) {
            const member = refId(scope, m.ref);
            if (s.type === "grant")
              plan.grants.push({ role, member, admin: m.admin, ownership: false, policy: scope.policy });
            else plan.revokes.push({ role, member });
          }
          break;
        }
        case "permit":
        case "deny":
          for (const r of s.roles) {
            const role = refId(scope, r);
            for (const res of s.resources) {
              const resource = subjectRef(scope, res);
              for (const privilege of s.privileges) {
                if (s.type === "permit") plan.permits.push({ privilege, resource, role, policy: scope.policy });
                else plan.denies.push({ privilege, resource, role });
              }
            }
          }
          break;
        case "delete":
          for (const r of s.records) plan.deletes.push(subjectRef(scope, r));
          break;
      }
    }
  };
  walk(statements, root);
  return plan;
}

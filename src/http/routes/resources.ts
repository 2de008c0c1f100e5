/** `/resources` (list, show, check, permitted_roles) and `/roles` (show, members, memberships, all). */
import { Router, type Request, type Response } from "express";
import {
  countVisible,
  describeResources,
  isVisible,
  listVisible,
  memberships,
  railsTime,
  roleRow,
} from "../../authz/introspection.js";
import { accessToOne, allRoles, hasRole, permittedRoles, resourceExists, roleExists } from "../../authz/permissions.js";
import { fullId, makeFullRoleId, parseFullId, RESOURCE_KINDS, ROLE_KINDS } from "../../authz/ids.js";
import { ApiError, errors } from "../../errors.js";
import { filterGrants, pageGrants, type GrantFilter } from "../../authz/membership-filter.js";
import { describeFactory } from "../../hostfactory/tokens.js";
import { boundedInteger, LIMITS } from "../../input/limits.js";
import { callerOf, requireToken, type Caller } from "../middleware/authenticate.js";
import { assertCallerExists } from "../middleware/deleted-caller.js";
import { accountOf, hasQuery, identifierOf, isTrue, queryList, queryString } from "../params.js";
import type { Services } from "../services.js";

const LIST_LIMIT_MAX = 1000;
const fail = (error: ApiError): never => {
  throw error;
};

function pagination(req: Request): { limit: number | undefined; offset: number } {
  const limit = queryString(req, "limit");
  const offset = queryString(req, "offset");
  if (limit !== undefined && !/^[1-9]\d*$/.test(limit))
    throw errors.argument("'limit' contains an invalid value. 'limit' must be a positive integer.");
  const parsedOffset = offset === undefined ? 0 : boundedInteger(offset, 0);
  if (parsedOffset === undefined)
    throw errors.argument(
      `'offset' contains an invalid value. 'offset' must be an integer from 0 to ${LIMITS.queryNumber}.`,
    );
  if (limit !== undefined && (limit.length > 10 || Number(limit) > LIST_LIMIT_MAX))
    throw errors.argument(`'Limit' parameter must not exceed ${LIST_LIMIT_MAX}`);
  if (limit !== undefined) return { limit: Number(limit), offset: parsedOffset };
  return { limit: offset !== undefined ? 10 : LIST_LIMIT_MAX, offset: parsedOffset };
}

/** `kind` / `kind[]` and `search` from the query string (a path's own `kind` never counts), for /roles member lists. */
function grantFilter(req: Request): GrantFilter {
  const kinds = queryList(req, "kind");
  const search = queryString(req, "search");
  return { ...(kinds ? { kinds } : {}), ...(search !== undefined ? { search } : {}) };
}

function optionalInteger(req: Request, name: string, min: number): number | undefined {
  const raw = queryString(req, name);
  if (raw === undefined) return undefined;
  return (
    boundedInteger(raw, min) ??
    fail(
      errors.argument(
        `'${name}' contains an invalid value. '${name}' must be an integer from ${min} to ${LIMITS.queryNumber}.`,
      ),
    )
  );
}

/** The `{account}/{kind}/{identifier}` a request names, and its full id. */
function targetOf(req: Request): { account: string; kind: string; identifier: string; id: string } {
  const account = accountOf(req);
  const kind = req.params.kind as string;
  const identifier = identifierOf(req);
  return { account, kind, identifier, id: fullId(account, kind, identifier) };
}

export function resourcesRouter(services: Services): Router {
  const router = Router();
  const db = services.pool;
  const auth = requireToken(services);
  /** Invisible is 404, unless the caller's role was deleted and the resource exists: then 403, as Conjur. */
  const notVisible = async (id: string, caller: Caller, notFound: () => ApiError): Promise<ApiError> =>
    (await roleExists(db, caller.roleId)) || !(await resourceExists(db, id)) ? notFound() : errors.forbidden();

  const list = async (req: Request, res: Response): Promise<void> => {
    const caller = callerOf(res);
    // The Go SDK sends the kind as a query parameter; the path form wins.
    const kind = (req.params.kind as string | undefined) ?? queryString(req, "kind");
    if (kind !== undefined && !(RESOURCE_KINDS as readonly string[]).includes(kind))
      throw errors.argument(`Invalid resource kind: ${kind}`);
    const account = req.params.account === undefined ? undefined : accountOf(req);
    const query = {
      account,
      kind: account === undefined ? undefined : kind,
      search: queryString(req, "search"),
      ...pagination(req),
    };
    const subject = await listSubject(req, caller);
    if (isTrue(req, "count")) {
      const total = await countVisible(db, subject, { ...query, limit: undefined, offset: 0 });
      if (total === 0) await assertCallerExists(services, caller);
      // Conjur counts the page its search would return (Sequel counts the limited dataset): an
      // explicit limit and offset apply (offset alone pages by 10); the list's own cap does not.
      const pageLimit =
        queryString(req, "limit") !== undefined || queryString(req, "offset") !== undefined ? query.limit : undefined;
      const afterOffset = Math.max(0, total - query.offset);
      res.json({ count: pageLimit === undefined ? afterOffset : Math.min(afterOffset, pageLimit) });
      return;
    }
    const ids = await listVisible(db, subject, query);
    if (ids.length === 0) await assertCallerExists(services, caller);
    res.json(await describeResources(db, ids));
  };
  /** `role=` or `acting_as=`: list as a role the caller has (a full id), else 403, as Conjur. */
  const listSubject = async (req: Request, caller: Caller): Promise<string> => {
    const actingAs = queryString(req, "acting_as") ?? queryString(req, "role");
    if (actingAs === undefined || actingAs === caller.roleId) return caller.roleId;
    if (!parseFullId(actingAs) || !(await hasRole(db, caller.roleId, actingAs))) throw errors.forbidden();
    return actingAs;
  };
  router.get("/resources", auth, list);
  router.get("/resources/:account", auth, list);
  router.get("/resources/:account/:kind", auth, list);

  router.get("/resources/:account/:kind/*identifier", auth, async (req: Request, res: Response) => {
    const caller = callerOf(res);
    const { account, kind, identifier, id } = targetOf(req);
    if (isTrue(req, "check")) {
      const privilege = queryString(req, "privilege");
      if (!privilege) throw errors.argument("privilege");
      const roleParam = queryString(req, "role");
      let subject = caller.roleId;
      if (roleParam) {
        if (!parseFullId(roleParam) || !(await hasRole(db, caller.roleId, roleParam))) throw errors.forbidden();
        subject = roleParam;
      }
      if (!(await isVisible(db, caller.roleId, id)))
        throw await notVisible(id, caller, () => errors.recordNotFound(account, kind, identifier));
      const access = await accessToOne(db, subject, id, privilege);
      res.status(access.allowed ? 204 : 404).end();
      return;
    }
    if (!(await isVisible(db, caller.roleId, id)))
      throw await notVisible(id, caller, () => errors.recordNotFound(account, kind, identifier));
    if (hasQuery(req, "permitted_roles")) {
      const privilege = queryString(req, "privilege");
      if (!privilege) throw errors.argument("privilege");
      res.json(await permittedRoles(db, id, privilege));
      return;
    }
    const [shown] = await describeResources(db, [id]);
    // A host factory also shows its layers and live tokens (their values are never stored, so never shown).
    res.json(kind === "host_factory" ? { ...shown, ...(await describeFactory(db, id)) } : shown);
  });

  router.get("/roles/:account/:kind/*identifier", auth, async (req: Request, res: Response) => {
    const caller = callerOf(res);
    const { account, kind, identifier, id } = targetOf(req);
    const role = (ROLE_KINDS as readonly string[]).includes(kind) ? await roleRow(db, id) : undefined;
    if (!role || !(await isVisible(db, caller.roleId, id))) throw errors.recordNotFound(account, kind, identifier);
    const counted = <T>(items: T[]): T[] | { count: number } =>
      isTrue(req, "count") ? { count: items.length } : items;
    if (hasQuery(req, "all")) {
      const filter = queryList(req, "filter")?.map(
        (f) => makeFullRoleId(f, account) ?? fail(errors.argument(`Expected at least 2 tokens in ${f}`)),
      );
      const all = await allRoles(db, id);
      res.json(counted(filter ? all.filter((r) => filter.includes(r)) : all));
    } else if (hasQuery(req, "memberships")) {
      res.json(counted(filterGrants(await memberships(db, "member_id", id), "role", grantFilter(req))));
    } else if (hasQuery(req, "members")) {
      const members = filterGrants(await memberships(db, "role_id", id), "member", grantFilter(req));
      if (isTrue(req, "count")) res.json({ count: members.length });
      else res.json(pageGrants(members, optionalInteger(req, "limit", 1), optionalInteger(req, "offset", 0)));
    } else {
      res.json({
        created_at: railsTime(role.created_at),
        id,
        ...(role.policy_id ? { policy: role.policy_id } : {}),
        members: await memberships(db, "role_id", id),
      });
    }
  });

  return router;
}

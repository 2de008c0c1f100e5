/**
 * `POST` / `DELETE /roles/{account}/{kind}/{id}?members&member=<full role id>`
 * (conjur-api-second-pass.md §8): add or remove a member outside any policy. The caller
 * needs `create` (add) or `update` (remove) on the policy that defined the role; the member
 * id is read from the query string only and must be fully qualified. Both answer 204.
 */
import { Router, type NextFunction, type Request, type Response } from "express";
import { accessTo, roleExists } from "../../authz/permissions.js";
import { isVisible } from "../../authz/introspection.js";
import { fullId, parseFullId } from "../../authz/ids.js";
import { errors } from "../../errors.js";
import { callerOf, requireToken } from "../middleware/authenticate.js";
import { accountOf, hasQuery, identifierOf, queryString } from "../params.js";
import type { Services } from "../services.js";
import type { Queryable } from "../../storage/database.js";

const MEMBER_ROLE_KINDS = new Set(["user", "host", "layer", "group", "policy", "host_factory"]);

/**
 * Conjur checks the policy a role's document was loaded into (root, for a group written inside
 * `!policy dev` loaded into root); we record the enclosing policy instead, so we accept the
 * privilege on it or on any policy above it — exactly the policies whose loads could make the
 * same grant, so this gives no power a policy load would not.
 */
async function mayChangePolicy(db: Queryable, roleId: string, policyId: string, privilege: string): Promise<boolean> {
  const { account, identifier } = parseFullId(policyId)!;
  const parts = identifier === "root" ? [] : identifier.split("/");
  const chain = [
    fullId(account, "policy", "root"),
    ...parts.map((_, i) => fullId(account, "policy", parts.slice(0, i + 1).join("/"))),
  ];
  return [...(await accessTo(db, roleId, chain, privilege)).values()].some((a) => a.allowed);
}

export function roleMembersRouter(services: Services): Router {
  const router = Router();
  const db = services.pool;

  const change =
    (adding: boolean) =>
    async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      // Conjur's routes need the `members` key; without it there is no such route.
      if (!hasQuery(req, "members")) return next();
      const caller = callerOf(res);
      const account = accountOf(req);
      const kind = req.params.kind as string;
      const identifier = identifierOf(req);
      if (!MEMBER_ROLE_KINDS.has(kind)) throw errors.routeNotFound(req.method, req.path);
      const roleId = fullId(account, kind, identifier);
      if (!(await isVisible(db, caller.roleId, roleId)) || !(await roleExists(db, roleId)))
        throw errors.recordNotFound(account, kind, identifier);
      const defining = await db.query<{ policy_id: string | null }>(
        "SELECT policy_id FROM resources WHERE resource_id = $1",
        [roleId],
      );
      const policyId = defining.rows[0]?.policy_id;
      // A role no policy defined (an account's admin, root): Conjur fails on it; nobody may change it here.
      if (!policyId || !(await mayChangePolicy(db, caller.roleId, policyId, adding ? "create" : "update")))
        throw errors.forbidden();
      const memberParam = queryString(req, "member");
      const member = memberParam ? parseFullId(memberParam) : undefined;
      if (!member) throw errors.argument("member");
      const memberId = fullId(member.account, member.kind, member.identifier);
      if (adding) {
        if (!(await roleExists(db, memberId)))
          throw errors.recordNotFound(member.account, member.kind, member.identifier);
        await db.query(
          "INSERT INTO role_memberships (role_id, member_id, admin_option, ownership) VALUES ($1, $2, false, false) ON CONFLICT DO NOTHING",
          [roleId, memberId],
        );
      } else {
        const removed = await db.query("DELETE FROM role_memberships WHERE role_id = $1 AND member_id = $2", [
          roleId,
          memberId,
        ]);
        if (removed.rowCount === 0) throw errors.recordNotFound(member.account, member.kind, member.identifier);
      }
      res.status(204).end();
    };

  const auth = requireToken(services);
  router.post("/roles/:account/:kind/*identifier", auth, change(true));
  router.delete("/roles/:account/:kind/*identifier", auth, change(false));
  return router;
}

/** `/policies/{account}/policy/{id}`: POST appends, PATCH updates, PUT replaces. */
import { Router, type Request, type Response } from "express";
import { ApiError, errors } from "../../errors.js";
import { fullId } from "../../authz/ids.js";
import { isVisible } from "../../authz/introspection.js";
import { CLOSURE_CTE } from "../../authz/permissions.js";
import { boundedInteger } from "../../input/limits.js";
import {
  EFFECTIVE_POLICY_MAX_DEPTH,
  EFFECTIVE_POLICY_MAX_LIMIT,
  effectivePolicy,
  PolicyTooLarge,
  toJson,
  toYaml,
} from "../../policy/effective-policy.js";
import type { Queryable } from "../../storage/database.js";
import { loadPolicy, type LoadMode } from "../../policy/load-policy.js";
import { callerOf, requireToken } from "../middleware/authenticate.js";
import { accountOf, identifierOf, queryString, rawBody } from "../params.js";
import { dryRunPolicy, invalidPolicyReport } from "../../policy/dry-run.js";
import { auditContext } from "../audit-context.js";
import type { Services } from "../services.js";

async function ownsResource(db: Queryable, roleId: string, resourceId: string): Promise<boolean> {
  const { rows } = await db.query(
    `WITH RECURSIVE ${CLOSURE_CTE} SELECT 1 FROM resources WHERE resource_id = $2 AND owner_id IN (SELECT role_id FROM closure)`,
    [roleId, resourceId],
  );
  return rows.length > 0;
}

function boundedParam(req: Request, name: string, max: number): number {
  const raw = queryString(req, name);
  if (raw === undefined) return max;
  const value = boundedInteger(raw, 0);
  if (value === undefined || value > max) throw new ApiError(400, null);
  return value;
}

export function policiesRouter(services: Services): Router {
  const router = Router();
  const handler = (mode: LoadMode) => async (req: Request, res: Response) => {
    const account = accountOf(req);
    const caller = callerOf(res);
    const body = rawBody(req);
    const text = body.toString("utf8");
    if (!Buffer.from(text, "utf8").equals(body)) throw errors.validationFailed("policy_text", "is not valid UTF-8");
    const policy = identifierOf(req);
    const load = { account, policy, mode, roleId: caller.roleId, text, clientIp: req.ip };
    // `?dryRun=true` (Conjur strips and lower-cases it): the same load, rolled back; 200, or 422 in the dry-run shape.
    if ((queryString(req, "dryRun") ?? "").trim().toLowerCase() === "true") {
      const report = await dryRunPolicy(services.pool, services.aead, load).catch((err: unknown) => {
        const invalid = invalidPolicyReport(err, policy);
        if (!invalid) throw err;
        return invalid;
      });
      res.status(report.status === "Valid YAML" ? 200 : 422).json(report);
      return;
    }
    const context = auditContext(req, res, "load-policy", { resource: `${account}:policy:${policy}` });
    const result = await services.audit.around(context, () => loadPolicy(services.pool, services.aead, load));
    res.status(201).json(result);
  };
  const path = "/policies/:account/policy/*identifier";
  const auth = requireToken(services);
  router.post(path, auth, handler("POST"));
  router.patch(path, auth, handler("PATCH"));
  router.put(path, auth, handler("PUT"));
  router.get(path, auth, async (req: Request, res: Response) => {
    const account = accountOf(req);
    const caller = callerOf(res);
    const policy = identifierOf(req);
    const policyId = fullId(account, "policy", policy);
    // Conjur: invisible → 404; visible but not owned by the caller (or a role it has) → 403; bad depth/limit → 400, empty.
    if (!(await isVisible(services.pool, caller.roleId, policyId)))
      throw errors.recordNotFound(account, "policy", policy);
    if (!(await ownsResource(services.pool, caller.roleId, policyId))) throw errors.forbidden();
    const depth = boundedParam(req, "depth", EFFECTIVE_POLICY_MAX_DEPTH);
    const limit = boundedParam(req, "limit", EFFECTIVE_POLICY_MAX_LIMIT);
    let statements;
    try {
      statements = await effectivePolicy(services.pool, policyId, depth, limit);
    } catch (err) {
      if (err instanceof PolicyTooLarge) throw errors.unprocessable(err.message);
      throw err;
    }
    // The request's Content-Type chooses the format (the Go SDK sets it), not Accept.
    if ((req.get("content-type") ?? "").trim().toLowerCase() === "application/json") res.json(toJson(statements));
    else res.type("application/x-yaml").send(toYaml(statements));
  });
  return router;
}

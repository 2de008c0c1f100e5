/** `/policies/{account}/policy/{id}`: POST appends, PATCH updates, PUT replaces. */
import { Router, type Request, type Response } from "express";
import { errors } from "../../errors.js";
import { loadPolicy, type LoadMode } from "../../policy/load-policy.js";
import { callerOf, requireToken } from "../middleware/authenticate.js";
import { accountOf, identifierOf, queryString, rawBody } from "../params.js";
import { dryRunPolicy, invalidPolicyReport } from "../../policy/dry-run.js";
import { auditContext } from "../audit-context.js";
import type { Services } from "../services.js";

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
  return router;
}

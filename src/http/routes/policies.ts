/** `/policies/{account}/policy/{id}`: POST appends, PATCH updates, PUT replaces. */
import { Router, type Request, type Response } from "express";
import { errors } from "../../errors.js";
import { loadPolicy, type LoadMode } from "../../policy/load-policy.js";
import { callerOf, requireToken } from "../middleware/authenticate.js";
import { accountOf, identifierOf, rawBody } from "../params.js";
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
    const context = auditContext(req, res, "load-policy", { resource: `${account}:policy:${policy}` });
    const result = await services.audit.around(context, () => loadPolicy(services.pool, services.aead, { account, policy, mode, roleId: caller.roleId, text, clientIp: req.ip }));
    res.status(201).json(result);
  };
  const path = "/policies/:account/policy/*identifier";
  const auth = requireToken(services);
  router.post(path, auth, handler("POST"));
  router.patch(path, auth, handler("PATCH"));
  router.put(path, auth, handler("PUT"));
  return router;
}

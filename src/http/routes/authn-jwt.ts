/**
 * authn-jwt as Conjur serves it: `POST /authn-jwt/{service_id}/{account}[/{host_id}]/authenticate`
 * (form body `jwt=…`, read whatever the Content-Type), `GET …/{account}/status`, and the
 * authenticator listing `GET /authenticators`. The logic is in authn/jwt/; this adapter
 * maps its failures to Conjur's answers and audits every attempt.
 */
import { Router, type NextFunction, type Request, type Response } from "express";
import { enabledFromBody, listAuthenticators, setAuthenticatorEnabled } from "../../authn/authenticators.js";
import { fullId } from "../../authz/ids.js";
import { accessToOne, resourceExists } from "../../authz/permissions.js";
import { authenticateJwt, type JwtAuthnDeps, type JwtAuthnProgress } from "../../authn/jwt/authenticate.js";
import { JwtAuthnFailure } from "../../authn/jwt/failures.js";
import { SigningKeyCache } from "../../authn/jwt/signing-keys.js";
import { isClientAllowed, ORIGIN_REFUSED, restrictionsOf } from "../../authn/restrictions.js";
import { checkJwtStatus } from "../../authn/jwt/status.js";
import { reasonOf } from "../../audit/audit.js";
import { ApiError, errors } from "../../errors.js";
import { auditContext } from "../audit-context.js";
import { authenticateRequest } from "../middleware/authenticate.js";
import { accountOf, rawBody } from "../params.js";
import type { Services } from "../services.js";
import { countTokenFailure, refuseThrottledAddress } from "../token-authn-throttle.js";
import { sendAccessToken } from "../token-response.js";

function toApiError(failure: JwtAuthnFailure): ApiError {
  switch (failure.outcome) {
    case "bad-request":
      return errors.emptyBadRequest();
    case "expired":
      return errors.unauthorized(failure.message);
    case "forbidden":
      return errors.forbidden();
    default:
      return errors.unauthorized();
  }
}

/** `/status` answers: 403 for a missing privilege, 404 for a missing webservice, else 500. */
function statusCodeOf(failure: JwtAuthnFailure): number {
  if (failure.conjurClass.endsWith("::RoleNotAuthorizedOnResource")) return 403;
  if (failure.conjurClass.endsWith("::WebserviceNotFound")) return 404;
  return 500;
}

/** Conjur's service ids are one path segment without dots (Rails' default segment pattern). */
function serviceIdOf(req: Request): string {
  const serviceId = req.params.service_id as string;
  if (serviceId.includes(".")) throw errors.routeNotFound(req.method, req.path);
  return serviceId;
}

export function authnJwtRouter(services: Services): Router {
  const router = Router();
  const { pool, audit, metrics, config } = services;
  const deps: JwtAuthnDeps = { pool, aead: services.aead, keys: new SigningKeyCache(), enabled: config.authenticators };

  const authenticate = async (req: Request, res: Response): Promise<void> => {
    const account = accountOf(req);
    const serviceId = serviceIdOf(req);
    const urlLogin = typeof req.params.host_id === "string" ? req.params.host_id : undefined;
    const progress: JwtAuthnProgress = {};
    const record = async (ok: boolean, reason?: string): Promise<void> => {
      metrics.authn.inc({ outcome: ok ? "success" : "failure" });
      await audit.record({
        ...auditContext(req, res, "authenticate", {
          role: progress.roleId,
          resource: `${account}:webservice:conjur/authn-jwt/${serviceId}`,
        }),
        outcome: ok ? "success" : "failure",
        ...(reason ? { reason } : {}),
      });
    };
    await refuseThrottledAddress(services, req, record);
    let login: string;
    try {
      ({ login } = await authenticateJwt(deps, { account, serviceId, urlLogin, body: rawBody(req) }, progress));
    } catch (err) {
      if (!(err instanceof JwtAuthnFailure)) {
        await record(false, reasonOf(err));
        throw err;
      }
      const apiError = toApiError(err);
      // The CONJ message names the failed step; by construction it carries no token data.
      await record(false, `${apiError.status} ${err.message}`);
      // A refused token counts against its address; our own trouble (5xx) does not.
      if (apiError.status < 500) countTokenFailure(services, req);
      throw apiError;
    }
    // Conjur's last step: the role's restricted_to CIDRs must admit the client address.
    if (progress.roleId && !isClientAllowed(await restrictionsOf(pool, progress.roleId), req.ip)) {
      await record(false, `401 ${ORIGIN_REFUSED}`);
      throw errors.unauthorized();
    }
    await record(true);
    sendAccessToken(req, res, await services.tokens.issue(account, login));
  };
  router.post("/authn-jwt/:service_id/:account/authenticate", authenticate);
  router.post("/authn-jwt/:service_id/:account/:host_id/authenticate", authenticate);

  router.get("/authn-jwt/:service_id/:account/status", async (req: Request, res: Response) => {
    const account = accountOf(req);
    const serviceId = serviceIdOf(req);
    const caller = await authenticateRequest(services, req, res);
    try {
      await checkJwtStatus(deps, { account, serviceId, callerRoleId: caller.roleId, callerLogin: caller.login });
    } catch (err) {
      if (!(err instanceof JwtAuthnFailure)) throw err;
      res.status(statusCodeOf(err)).json({ status: "error", error: err.inspect() });
      return;
    }
    res.json({ status: "ok" });
  });

  // Conjur's UpdateAuthenticatorConfig: `update` on the webservice; 401 for an unknown account
  // or webservice, 403 without the privilege, 204 when done; every answer has an empty body.
  const updateConfig = async (req: Request, res: Response, serviceId: string): Promise<void> => {
    const account = accountOf(req);
    const caller = await authenticateRequest(services, req, res);
    const enabled = enabledFromBody(rawBody(req), req.get("content-type"));
    if (enabled === "malformed") throw errors.emptyBadRequest();
    const webservice = fullId(account, "webservice", `conjur/authn-jwt/${serviceId}`);
    const access = await accessToOne(pool, caller.roleId, webservice, "update");
    if (!(await resourceExists(pool, webservice))) throw errors.unauthorized();
    if (!access.allowed) throw errors.forbidden();
    await setAuthenticatorEnabled(pool, webservice, enabled);
    await audit.record({
      ...auditContext(req, res, "configure-authenticator", { role: caller.roleId, resource: webservice }),
      outcome: "success",
      reason: `enabled=${enabled}`,
    });
    res.status(204).end();
  };
  router.patch("/authn-jwt/:service_id/:account", (req: Request, res: Response) =>
    updateConfig(req, res, serviceIdOf(req)),
  );
  // Conjur's route is `/:authenticator(/:service_id)/:account`, so the id may also come as one
  // escaped segment: the Python SDK's set_authenticator_state sends PATCH /authn-jwt%2F{id}/{account}.
  router.patch("/:authenticator/:account", (req: Request, res: Response, next: NextFunction) => {
    const combined = /^authn-jwt\/([^/.]+)$/.exec(req.params.authenticator as string);
    if (!combined) {
      next();
      return;
    }
    return updateConfig(req, res, combined[1]!);
  });

  router.get("/authenticators", async (_req: Request, res: Response, _next: NextFunction) => {
    res.json(await listAuthenticators(pool, config.authenticators));
  });

  return router;
}

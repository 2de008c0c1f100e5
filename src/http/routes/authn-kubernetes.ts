/**
 * authn-kubernetes: `POST /authn-kubernetes/{account}[/{host_id}]/authenticate` with the form
 * body `jwt=<service-account token>`. The logic is in authn/kubernetes-sa/; this adapter
 * throttles per client address, audits every attempt, checks restricted_to (the last step of
 * every authenticator) and answers as every authenticator does: 401 with an empty body for
 * any credential problem, 503 when the issuer's keys cannot be read or the API server cannot
 * review the token (--kubernetes-token-review).
 */
import { Router, type Request, type Response } from "express";
import {
  authenticateServiceAccount,
  AUTHENTICATOR,
  type ServiceAccountAuthnDeps,
  type ServiceAccountAuthnProgress,
} from "../../authn/kubernetes-sa/authenticate.js";
import { ServiceAccountAuthnFailure } from "../../authn/kubernetes-sa/failures.js";
import { issuerKeys } from "../../authn/kubernetes-sa/issuer-keys.js";
import { isClientAllowed, ORIGIN_REFUSED, restrictionsOf } from "../../authn/restrictions.js";
import { reasonOf } from "../../audit/audit.js";
import { errors } from "../../errors.js";
import { auditContext } from "../audit-context.js";
import { accountOf, rawBody } from "../params.js";
import type { Services } from "../services.js";
import { countTokenFailure, refuseThrottledAddress } from "../token-authn-throttle.js";
import { sendAccessToken } from "../token-response.js";

export function authnKubernetesRouter(services: Services): Router {
  const router = Router();
  const { pool, audit, metrics, config } = services;
  const settings = config.kubernetesAuthn;
  const deps: ServiceAccountAuthnDeps = {
    db: pool,
    keys: issuerKeys({ jwksUri: settings.jwksUri, caFile: settings.jwksCaFile, tokenFile: settings.jwksTokenFile }),
    expected: { issuer: settings.issuer, audience: settings.audience },
    enabled: config.authenticators,
    ...(services.tokenReviewer ? { review: services.tokenReviewer } : {}),
  };

  const authenticate = async (req: Request, res: Response): Promise<void> => {
    const account = accountOf(req);
    const urlLogin = typeof req.params.host_id === "string" ? req.params.host_id : undefined;
    const progress: ServiceAccountAuthnProgress = {};
    const record = async (ok: boolean, reason?: string): Promise<void> => {
      metrics.authn.inc({ outcome: ok ? "success" : "failure" });
      await audit.record({
        ...auditContext(req, res, "authenticate", {
          role: progress.roleId,
          resource: `${account}:webservice:conjur/${AUTHENTICATOR}`,
        }),
        outcome: ok ? "success" : "failure",
        ...(reason ? { reason } : {}),
      });
    };
    await refuseThrottledAddress(services, req, record);
    let granted: { roleId: string; login: string };
    try {
      granted = await authenticateServiceAccount(deps, { account, urlLogin, body: rawBody(req) }, progress);
    } catch (err) {
      if (!(err instanceof ServiceAccountAuthnFailure)) {
        await record(false, reasonOf(err));
        throw err;
      }
      await record(false, `${err.status} ${err.reason}`);
      if (err.status === 503) throw errors.unavailable(err.publicMessage ?? "try again");
      countTokenFailure(services, req);
      throw errors.unauthorized();
    }
    if (!isClientAllowed(await restrictionsOf(pool, granted.roleId), req.ip)) {
      await record(false, `401 ${ORIGIN_REFUSED}`);
      throw errors.unauthorized();
    }
    await record(true);
    sendAccessToken(req, res, await services.tokens.issue(account, granted.login));
  };
  router.post("/authn-kubernetes/:account/authenticate", authenticate);
  router.post("/authn-kubernetes/:account/:host_id/authenticate", authenticate);
  return router;
}

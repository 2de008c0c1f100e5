/**
 * `GET /authn-jwt/{service_id}/{account}/status` (validate_status.rb): may the caller
 * `read` the `…/status` webservice, and is the service configured well enough to work —
 * enabled, keys fetchable, issuer, audience, claim lists and identity settings valid.
 * Throws the first JwtAuthnFailure; the adapter renders it as Conjur does.
 */
import { accountExists } from "../../accounts/accounts.js";
import { isAuthenticatorEnabled } from "../authenticators.js";
import { checkCanAccess, restrictionSettings, type JwtAuthnDeps } from "./authenticate.js";
import { failures } from "./failures.js";
import { checkIdentitySettings } from "./identity.js";
import { audienceValue, issuerValue, signingKeySource } from "./settings.js";
import { loadServiceVariables, resourceExists, webserviceId } from "./variables.js";

export async function checkJwtStatus(
  deps: JwtAuthnDeps,
  request: { account: string; serviceId: string; callerRoleId: string; callerLogin: string },
): Promise<void> {
  const { account, serviceId } = request;
  const authenticator = `authn-jwt/${serviceId}`;
  if (!(await accountExists(deps.pool, account))) throw failures.accountNotDefined(account);
  const webservice = webserviceId(account, serviceId);
  await checkCanAccess(
    deps.pool,
    request.callerRoleId,
    request.callerLogin,
    `${webservice}/status`,
    `${authenticator}/status`,
    "read",
  );
  if (!(await resourceExists(deps.pool, webservice))) throw failures.webserviceNotFound(authenticator);
  if (!(await isAuthenticatorEnabled(deps.pool, deps.enabled, authenticator))) throw failures.notEnabled(authenticator);
  const vars = await loadServiceVariables({ db: deps.pool, aead: deps.aead }, account, serviceId);
  await deps.keys.resolverFor(signingKeySource(vars)).load();
  issuerValue(vars);
  audienceValue(vars);
  restrictionSettings(vars);
  checkIdentitySettings(vars);
}

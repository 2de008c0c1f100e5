/**
 * `POST /authn-jwt/{service_id}/{account}[/{host_id}]/authenticate`, framework-free, in
 * Conjur's order (orchestrate_authentication.rb, authenticator.rb): account, enabled,
 * body, keys, signature, claims, identity, role, webservice, privilege, restrictions.
 * Throws a JwtAuthnFailure for every refusal; the caller issues the access token.
 */
import type pg from "pg";
import { accountExists } from "../../accounts/accounts.js";
import { loginForRole, roleIdForLogin } from "../../authz/ids.js";
import { accessToOne, roleExists } from "../../authz/permissions.js";
import type { Aead } from "../../crypto/aead.js";
import type { Queryable } from "../../storage/database.js";
import { isAuthenticatorEnabled } from "../authenticators.js";
import { parseClaimAliases, parseEnforcedClaims } from "./claim-lists.js";
import { failures } from "./failures.js";
import { resolveLogin } from "./identity.js";
import { checkRestrictions } from "./restrictions.js";
import { audienceValue, issuerValue, signingKeySource } from "./settings.js";
import type { SigningKeyCache } from "./signing-keys.js";
import { checkClaims, jwtFromBody, verifySignature } from "./verify-token.js";
import { loadServiceVariables, resourceExists, webserviceId, type ServiceVariables } from "./variables.js";

export interface JwtAuthnDeps {
  pool: pg.Pool;
  aead: Aead;
  keys: SigningKeyCache;
  /** Enabled authenticator names (`authn`, `authn-jwt/k8s`, …). */
  enabled: readonly string[];
  now?: () => Date;
}

export interface JwtAuthnRequest {
  account: string;
  serviceId: string;
  /** The URL's `{host_id}` segment, decoded (`host/apps/myapp`), if any. */
  urlLogin: string | undefined;
  body: Buffer;
}

/** Filled in as the attempt progresses, so a failure can still be audited against its role. */
export interface JwtAuthnProgress {
  roleId?: string;
}

export async function authenticateJwt(
  deps: JwtAuthnDeps,
  request: JwtAuthnRequest,
  progress: JwtAuthnProgress = {},
): Promise<{ roleId: string; login: string }> {
  const { account, serviceId } = request;
  const now = deps.now?.() ?? new Date();
  const authenticator = `authn-jwt/${serviceId}`;
  if (!(await accountExists(deps.pool, account))) throw failures.accountNotDefined(account);
  if (!(await isAuthenticatorEnabled(deps.pool, deps.enabled, authenticator))) throw failures.notEnabled(authenticator);
  const jwt = jwtFromBody(request.body);
  const vars = await loadServiceVariables({ db: deps.pool, aead: deps.aead }, account, serviceId);
  const keys = deps.keys.resolverFor(signingKeySource(vars));
  const claims = await verifySignature(jwt, keys, now);
  checkClaims(claims, () => ({ audience: audienceValue(vars), issuer: issuerValue(vars) }), now);
  const roleId = roleIdForLogin(account, resolveLogin(vars, request.urlLogin, claims));
  progress.roleId = roleId;
  const login = loginForRole(roleId);
  const webservice = webserviceId(account, serviceId);
  await checkCanAccess(deps.pool, roleId, login, webservice, authenticator, "authenticate");
  // Step 13 of Conjur (restricted_to CIDRs) belongs to the origin check of every authenticator.
  checkRestrictions({
    serviceId,
    annotations: await annotationsOf(deps.pool, roleId),
    claims,
    ...restrictionSettings(vars),
  });
  return { roleId, login };
}

/** Role exists (CONJ00007E), webservice exists (CONJ00005E), privilege (CONJ00006E, 403). */
export async function checkCanAccess(
  db: Queryable,
  roleId: string,
  login: string,
  webservice: string,
  webserviceName: string,
  privilege: string,
): Promise<void> {
  if (!(await roleExists(db, roleId))) throw failures.roleNotFound(login);
  if (!(await resourceExists(db, webservice))) throw failures.webserviceNotFound(webserviceName);
  if (!(await accessToOne(db, roleId, webservice, privilege)).allowed)
    throw failures.notAuthorized(login, privilege, webservice);
}

export function restrictionSettings(vars: ServiceVariables): {
  enforcedClaims: string[];
  aliases: Map<string, string>;
} {
  const enforced = vars.optional("enforced-claims");
  const aliases = vars.optional("claim-aliases");
  return {
    enforcedClaims: enforced === undefined ? [] : parseEnforcedClaims(enforced),
    aliases: aliases === undefined ? new Map() : parseClaimAliases(aliases),
  };
}

async function annotationsOf(db: Queryable, resourceId: string): Promise<Map<string, string>> {
  const { rows } = await db.query<{ name: string; value: string }>(
    "SELECT name, value FROM annotations WHERE resource_id = $1 AND name LIKE 'authn-jwt/%' ORDER BY name",
    [resourceId],
  );
  return new Map(rows.map((r) => [r.name, r.value]));
}

/**
 * Who is logging in (identity_providers/*.rb). Exactly one source must be configured:
 * the `token-app-property` variable (the identity is a claim; always a host, under
 * `identity-path`) or a `{host_id}` in the URL (any login: `host/x` or a user).
 */
import { claimAt, isBlank, isValidClaimPath, joinPath, rubyTypeOf, type Claims } from "./claim-path.js";
import { failures } from "./failures.js";
import type { ServiceVariables } from "./variables.js";

/** The login (`host/apps/myapp`, `alice`) the JWT identifies. */
export function resolveLogin(vars: ServiceVariables, urlLogin: string | undefined, claims: Claims): string {
  const fromToken = vars.has("token-app-property");
  const fromUrl = urlLogin !== undefined && !isBlank(urlLogin);
  if (fromToken === fromUrl) throw failures.identityMisconfigured();
  if (fromUrl && urlLogin !== undefined) return urlLogin;
  const property = vars.required("token-app-property");
  const value = identityClaim(claims, property);
  if (value === undefined || value === "" || (Array.isArray(value) && value.length === 0))
    throw failures.fieldNotInToken(property);
  if (typeof value !== "string") throw failures.identityNotString(property, rubyTypeOf(value));
  return joinPath("host", identityPath(vars), value);
}

/** `token[property]`, else the nested lookup (whose path must be valid: CONJ00117E). */
function identityClaim(claims: Claims, property: string): unknown {
  if (Object.hasOwn(claims, property) && claims[property] !== null && claims[property] !== false)
    return claims[property];
  checkTokenAppProperty(property);
  return claimAt(claims, property);
}

export function checkTokenAppProperty(property: string): void {
  if (!isValidClaimPath(property))
    throw failures.invalidTokenAppProperty(failures.invalidClaimPath(property).inspect());
}

export function identityPath(vars: ServiceVariables): string {
  return vars.optional("identity-path") ?? "";
}

/** What `/status` checks of the identity settings. */
export function checkIdentitySettings(vars: ServiceVariables): void {
  if (!vars.has("token-app-property")) return;
  checkTokenAppProperty(vars.required("token-app-property"));
  identityPath(vars);
}

/**
 * The two list-valued configuration variables, parsed and validated exactly as Conjur
 * does (parse_enforced_claims.rb, parse_claim_aliases.rb, validate_claim_name.rb):
 * `enforced-claims` ("ref, sub") and `claim-aliases` ("branch:ref, ns:kubernetes.io/namespace").
 */
import { isBlank, isValidClaimPath } from "./claim-path.js";
import { DENY_LIST, failures, JwtAuthnFailure } from "./failures.js";

/** Ruby's `String#split`: trailing empty fields are dropped. */
function rubySplit(value: string, separator: string): string[] {
  const parts = value.split(separator);
  while (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  return parts;
}

export function validateClaimName(name: string): void {
  if (isBlank(name)) throw failures.claimNameEmpty();
  if (!isValidClaimPath(name)) throw failures.claimNameForbidden(name);
  if ((DENY_LIST as readonly string[]).includes(name)) throw failures.claimNameDenied(name);
}

export function parseEnforcedClaims(value: string): string[] {
  if (isBlank(value)) throw failures.enforcedClaimsEmpty();
  const claims = rubySplit(value, ",").map((claim) => claim.trim());
  if (value.startsWith(",") || value.endsWith(",") || claims.includes("")) throw failures.enforcedClaimsFormat(value);
  if (new Set(claims).size !== claims.length) throw failures.enforcedClaimsDuplicated(value);
  for (const claim of claims) validateClaimName(claim);
  return claims;
}

/** Returns annotation name → claim path. */
export function parseClaimAliases(value: string): Map<string, string> {
  if (isBlank(value)) throw failures.claimAliasesEmpty();
  const tuples = rubySplit(value, ",").map((tuple) => tuple.trim());
  if (value.endsWith(",") || tuples.length === 0) throw failures.claimAliasesBlank(value);
  const aliases = new Map<string, string>();
  const claimsSeen = new Set<string>();
  for (const tuple of tuples) {
    if (tuple === "") throw failures.claimAliasesBlank(value);
    const parts = rubySplit(tuple, ":").map((part) => part.trim());
    if (parts.length !== 2) throw failures.claimAliasFormat(tuple);
    const [annotation, claim] = parts as [string, string];
    if (annotation.includes("/")) throw failures.claimAliasSlash(annotation);
    checkAliasSide(annotation, tuple);
    checkAliasSide(claim, tuple);
    if (aliases.has(annotation)) throw failures.claimAliasDuplicated("annotation name", annotation);
    if (claimsSeen.has(claim)) throw failures.claimAliasDuplicated("claim name", claim);
    aliases.set(annotation, claim);
    claimsSeen.add(claim);
  }
  return aliases;
}

function checkAliasSide(side: string, tuple: string): void {
  if (side === "") throw failures.claimAliasFormat(tuple);
  try {
    validateClaimName(side);
  } catch (err) {
    if (err instanceof JwtAuthnFailure) throw failures.claimAliasClaimFormat(tuple, err.inspect());
    throw err;
  }
}

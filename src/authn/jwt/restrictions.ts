/**
 * Host restrictions: annotations `authn-jwt/<service_id>/<claim path>` on the role must
 * all equal the token's claims (configuration_jwt_generic_vendor.rb#validate_restrictions,
 * constraints/*.rb, validate_restrictions_one_to_one.rb). At least one is required;
 * `enforced-claims` lists those every role must carry; `claim-aliases` renames
 * (annotation `branch` checks claim `ref`, and `ref` itself may then not be an annotation).
 * General `authn-jwt/<claim>` annotations and other services' annotations are ignored.
 */
import { claimAt, isBlank, isValidClaimPath, type Claims } from "./claim-path.js";
import { DENY_LIST, failures } from "./failures.js";

export interface RestrictionInput {
  serviceId: string;
  /** All annotations of the authenticating role's resource: name → value. */
  annotations: ReadonlyMap<string, string>;
  claims: Claims;
  enforcedClaims: readonly string[];
  /** annotation name → claim path. */
  aliases: ReadonlyMap<string, string>;
}

/** This service's restrictions: annotation `authn-jwt/<svc>/<name>` → (name, value). */
export function serviceRestrictions(serviceId: string, annotations: ReadonlyMap<string, string>): Map<string, string> {
  const prefix = `authn-jwt/${serviceId}/`;
  const restrictions = new Map<string, string>();
  for (const [name, value] of annotations) {
    if (!name.startsWith(prefix)) continue;
    const restriction = name.slice(prefix.length);
    if (restriction === "" || !isValidClaimPath(restriction)) throw failures.invalidRestrictionName(restriction);
    restrictions.set(restriction, value);
  }
  return restrictions;
}

export function checkRestrictions(input: RestrictionInput): void {
  const restrictions = serviceRestrictions(input.serviceId, input.annotations);
  const names = [...restrictions.keys()];
  if (names.length === 0) throw failures.noRelevantAnnotation();
  // An enforced claim that has an alias must be present under the alias's name.
  const annotationForClaim = new Map([...input.aliases].map(([annotation, claim]) => [claim, annotation]));
  const required = input.enforcedClaims.map((claim) => annotationForClaim.get(claim) ?? claim);
  const missing = required.filter((name) => !restrictions.has(name));
  if (missing.length > 0) throw failures.missingConstraints(missing);
  const forbidden = new Set<string>([...DENY_LIST, ...annotationForClaim.keys()]);
  const notPermitted = names.filter((name) => forbidden.has(name));
  if (notPermitted.length > 0) throw failures.nonPermittedAnnotation(notPermitted);
  for (const [name, expected] of restrictions) {
    if (isBlank(expected)) throw failures.emptyAnnotation(name);
    const claim = input.aliases.get(name) ?? name;
    const actual = claimAt(input.claims, claim);
    if (actual === undefined) throw failures.claimMissing(claim === name ? name : `${claim} (annotation: ${name})`);
    // Conjur compares the annotation string with the claim with Ruby `==`: only strings can match.
    if (actual !== expected) throw failures.restrictionMismatch(name);
  }
}

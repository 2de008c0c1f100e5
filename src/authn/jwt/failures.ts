/**
 * Why an authn-jwt attempt (or a status check) failed. Conjur answers almost every failure
 * with an empty 401; the CONJ message only goes to the audit log, and to the body of
 * `/status` as Ruby's `#<Class: message>`. So a failure carries both the Conjur error
 * class (for `/status`) and how the HTTP adapter must answer (`outcome`).
 */
export type FailureOutcome =
  /** 400, empty body (missing `jwt` field). */
  | "bad-request"
  /** 401, empty body. */
  | "unauthorized"
  /** 401 with `{"error":{"code":"unauthorized","message":"CONJ00016E Token expired"}}`. */
  | "expired"
  /** 403, empty body (no `authenticate` privilege; on /status no `read`). */
  | "forbidden";

export class JwtAuthnFailure extends Error {
  constructor(
    /** Conjur's Ruby error class, e.g. `Errors::Authentication::AuthnJwt::InvalidPublicKeys`. */
    readonly conjurClass: string,
    message: string,
    readonly outcome: FailureOutcome = "unauthorized",
  ) {
    super(message);
  }

  /** Ruby's `exception.inspect`, which Conjur's `/status` puts in its body. */
  inspect(): string {
    return `#<${this.conjurClass}: ${this.message}>`;
  }
}

const JWT = "Errors::Authentication::AuthnJwt::";
const SECURITY = "Errors::Authentication::Security::";
const fail = (cls: string, message: string, outcome?: FailureOutcome): JwtAuthnFailure =>
  new JwtAuthnFailure(cls, message, outcome);

/** Conjur's messages for each step, with their CONJ codes (app/domain/errors.rb). */
export const failures = {
  accountNotDefined: (account: string) =>
    fail(`${SECURITY}AccountNotDefined`, `CONJ00008E Account '${account}' is not defined in Conjur`),
  notEnabled: (name: string) => fail(`${SECURITY}AuthenticatorNotWhitelisted`, `CONJ00004E '${name}' is not enabled`),
  webserviceNotFound: (name: string) =>
    fail(`${SECURITY}WebserviceNotFound`, `CONJ00005E Webservice '${name}' not found`),
  notAuthorized: (login: string, privilege: string, resourceId: string) =>
    fail(
      `${SECURITY}RoleNotAuthorizedOnResource`,
      `CONJ00006E '${login}' does not have '${privilege}' privilege on ${resourceId}`,
      "forbidden",
    ),
  roleNotFound: (login: string) => fail(`${SECURITY}RoleNotFound`, `CONJ00007E '${login}' not found`),
  missingJwtField: () =>
    fail(
      "Errors::Authentication::RequestBody::MissingRequestParam",
      "CONJ00009E Field 'jwt' is missing or empty in request body",
      "bad-request",
    ),
  notAJwt: () =>
    fail(
      "Errors::Authentication::Jwt::RequestBodyMissingJWTToken",
      "CONJ00077E The request body does not contain JWT token",
    ),
  missingValue: (resourceId: string) =>
    fail("Errors::Conjur::RequiredSecretMissing", `CONJ00037E Missing value for resource: ${resourceId}`),
  signingKeySettings: (reason: string) =>
    fail(`${JWT}InvalidSigningKeySettings`, `CONJ00122E Invalid signing key settings: ${reason}`),
  invalidPublicKeys: (reason: string) =>
    fail(`${JWT}InvalidPublicKeys`, `CONJ00120E Failed to parse 'public-keys': ${reason}`),
  fetchJwksFailed: (uri: string, reason: string) =>
    fail(`${JWT}FetchJwksKeysFailed`, `CONJ00087E Failed to fetch JWKS from '${uri}'. Reason: '${reason}'`),
  jwksHttpError: (uri: string, reason: string) =>
    fail(`${JWT}FailedToFetchJwksData`, `CONJ00123E Failed to fetch JWKS data from '${uri}' with error: ${reason}`),
  jwksNotJson: (reason: string) =>
    fail(
      `${JWT}FailedToConvertResponseToJwks`,
      `CONJ00093E Failed to convert HTTP response to JWKS type. Reason: '${reason}'`,
    ),
  jwksKeysMissing: () => fail(`${JWT}FetchJwksUriKeysNotFound`, "CONJ00088E JWKS not found in response"),
  invalidIssuerConfiguration: () =>
    fail(
      `${JWT}InvalidIssuerConfiguration`,
      "CONJ00078E Issuer authenticator configuration is invalid. You should configured as authenticator variables: 'issuer' or one of the following: 'provider-uri','jwks-uri'",
    ),
  hostnameMissing: (uri: string) =>
    fail(`${JWT}FailedToParseHostnameFromUri`, `CONJ00079E Failed to extract hostname from URI '${uri}'`),
  invalidUri: (uri: string) =>
    fail(`${JWT}InvalidUriFormat`, `CONJ00080E Failed to parse URI '${uri}'. Reason: 'invalid URI'`),
  audienceEmpty: () =>
    fail(`${JWT}AudienceValueIsEmpty`, "CONJ00115E Failed to fetch audience value: audience value is empty"),
  tokenDecode: (reason: string) =>
    fail(`${JWT}TokenDecodeFailed`, `CONJ00035E Failed to decode token (3rdPartyError ='${reason}')`),
  tokenExpired: () => fail(`${JWT}TokenExpired`, "CONJ00016E Token expired", "expired"),
  mandatoryClaimMissing: (claim: string) =>
    fail(`${JWT}MissingMandatoryClaim`, `CONJ00091E Failed to validate token: mandatory claim '${claim}' is missing.`),
  identityMisconfigured: () => fail(`${JWT}IdentityMisconfigured`, "CONJ00098E JWT identity configuration is invalid"),
  fieldNotInToken: (claim: string) =>
    fail(`${JWT}NoSuchFieldInToken`, `CONJ00081E '${claim}' field not found in the token`),
  identityNotString: (claim: string, type: string) =>
    fail(
      `${JWT}TokenAppPropertyValueIsNotString`,
      `CONJ00118E '${claim}' value in token has type '${type}'. An identity must be a String.`,
    ),
  invalidTokenAppProperty: (error: string) =>
    fail(
      `${JWT}InvalidTokenAppPropertyValue`,
      `CONJ00117E Failed to parse 'token-app-property' value. Error: '${error}'`,
    ),
  invalidClaimPath: (claim: string) =>
    fail(
      `${JWT}InvalidClaimPath`,
      `CONJ00116E Failed to parse claim path: '${claim}'. The valid format should meet the following regex: '${CLAIM_PATH_SOURCE}'`,
    ),
  // Claim-list parsing (enforced-claims, claim-aliases).
  claimNameEmpty: () =>
    fail(
      `${JWT}FailedToValidateClaimMissingClaimName`,
      "CONJ00103E Failed to validate claim: claim name is empty or was not found.",
    ),
  claimNameForbidden: (claim: string) =>
    fail(
      `${JWT}FailedToValidateClaimForbiddenClaimName`,
      `CONJ00104E Failed to validate claim: claim name '${claim}' does not match regular expression: '${CLAIM_PATH_SOURCE}'.`,
    ),
  claimNameDenied: (claim: string) =>
    fail(
      `${JWT}FailedToValidateClaimClaimNameInDenyList`,
      `CONJ00105E Failed to validate claim: claim name '${claim}' is in denylist '${JSON.stringify(DENY_LIST)}'`,
    ),
  enforcedClaimsEmpty: () =>
    fail(
      `${JWT}FailedToParseEnforcedClaimsMissingInput`,
      "CONJ00106E Failed to parse enforced claims: enforced claim value is empty or was not found.",
    ),
  enforcedClaimsFormat: (value: string) =>
    fail(
      `${JWT}InvalidEnforcedClaimsFormat`,
      `CONJ00107E Failed to parse enforced claims: the enforced claims value '${value}' is in an invalid format. Separate claim names with commas.`,
    ),
  enforcedClaimsDuplicated: (value: string) =>
    fail(
      `${JWT}InvalidEnforcedClaimsFormatContainsDuplication`,
      `CONJ00108E List of enforced claims '${value}' must not contain duplications.`,
    ),
  claimAliasesEmpty: () =>
    fail(
      `${JWT}ClaimAliasesMissingInput`,
      "CONJ00109E Failed to parse claim aliases: the claim aliases value is empty or was not found.",
    ),
  claimAliasesBlank: (value: string) =>
    fail(
      `${JWT}ClaimAliasesBlankOrEmpty`,
      `CONJ00110E Failed to parse claim aliases: one of the claim aliases is blank or empty in '${value}'.`,
    ),
  claimAliasFormat: (tuple: string) =>
    fail(
      `${JWT}ClaimAliasInvalidFormat`,
      `CONJ00111E Failed to parse claim aliases: the claim alias '${tuple}' is in an invalid format. The correct format is: 'annotation_name:claim_name'`,
    ),
  claimAliasClaimFormat: (tuple: string, error: string) =>
    fail(
      `${JWT}ClaimAliasInvalidClaimFormat`,
      `CONJ00112E Failed to parse claim aliases: the claim alias '${tuple}' is in an invalid format : ${error}.`,
    ),
  claimAliasDuplicated: (purpose: string, value: string) =>
    fail(
      `${JWT}ClaimAliasDuplicationError`,
      `CONJ00113E Failed to parse claim aliases: ${purpose} value '${value}' appears more than once`,
    ),
  claimAliasSlash: (name: string) =>
    fail(
      `${JWT}ClaimAliasNameInvalidCharacter`,
      `CONJ00114E Failed to parse claim aliases: the claim alias name '${name}' contains '/'.`,
    ),
  // Host restrictions (annotations).
  noRelevantAnnotation: () =>
    fail(
      "Errors::Authentication::Constraints::RoleMissingAnyRestrictions",
      "CONJ00099E Role must have at least one relevant annotation",
    ),
  missingConstraints: (names: string[]) =>
    fail(
      "Errors::Authentication::Constraints::RoleMissingConstraints",
      `CONJ00057E Role does not have the required constraints: '${JSON.stringify(names)}'`,
    ),
  nonPermittedAnnotation: (names: string[]) =>
    fail(
      `${JWT}RoleWithRegisteredOrClaimAliasError`,
      `CONJ00069E Role can't have registered or aliased claim. Error: '#<Errors::Authentication::Constraints::NonPermittedRestrictionGiven: CONJ00069E Role can't have one of these none permitted restrictions '${JSON.stringify(names)}'>'`,
    ),
  invalidRestrictionName: (name: string) =>
    fail(
      `${JWT}InvalidRestrictionName`,
      `CONJ00119E Restriction '${name}' is invalid and not representing claim path in the token`,
    ),
  emptyAnnotation: (name: string) =>
    fail(
      "Errors::Authentication::ResourceRestrictions::EmptyAnnotationGiven",
      `CONJ00100E Annotation, '${name}', is empty`,
    ),
  claimMissing: (name: string) =>
    fail(
      `${JWT}JwtTokenClaimIsMissing`,
      `CONJ00084E Claim '${name}' is missing from JWT token. Verify that you configured the host with permitted restrictions.`,
    ),
  restrictionMismatch: (name: string) =>
    fail(
      "Errors::Authentication::ResourceRestrictions::InvalidResourceRestrictions",
      `CONJ00049E Resource restriction '${name}' does not match with the corresponding value in the request`,
    ),
};

/** Conjur's claim path syntax (PURE_NESTED_CLAIM_NAME_REGEX), `|` and all, as Conjur writes it. */
export const CLAIM_PATH_SOURCE = "^[a-zA-Z|$|_][a-zA-Z|$|_|\\-|0-9|.]*(/[a-zA-Z|$|_][a-zA-Z|$|_|\\-|0-9|.]*)*$";
/** Registered claims that may be neither enforced, aliased nor used as annotations. */
export const DENY_LIST = ["iss", "exp", "nbf", "iat", "jti", "aud"] as const;

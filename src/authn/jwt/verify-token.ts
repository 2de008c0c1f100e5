/**
 * From request body to verified claims, in Conjur's order and with its rules:
 * the form field `jwt` (whatever the Content-Type), its shape, then the signature with
 * RS256/384/512 only and a `kid` that names a key, `exp`/`nbf` with no leeway, then the
 * mandatory claims and the values of `iss`, `aud` and `iat` (validate_and_decode_token.rb,
 * ruby-jwt 2.7.1). The JOSE work is jose's; no JWT parsing by hand. Messages name what
 * was expected, never what the token carried (they go to the audit log).
 */
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from "jose";
import { isBlank, type Claims } from "./claim-path.js";
import { failures, JwtAuthnFailure } from "./failures.js";
import type { KeyResolver } from "./signing-keys.js";

export const ALGORITHMS = ["RS256", "RS384", "RS512"];
/** Real JWTs are a few KiB; bigger bodies are refused before any parsing. */
export const MAX_JWT_BYTES = 64 * 1024;
const JWT_SHAPE = /^[-A-Za-z0-9_=]+\.[-A-Za-z0-9_=]+\.[-A-Za-z0-9_=]+$/;

/** The `jwt` form field, stripped; 400 when missing or empty, 401 when not three base64url parts. */
export function jwtFromBody(body: Buffer): string {
  if (body.length > MAX_JWT_BYTES + 1024) throw failures.notAJwt();
  const all = new URLSearchParams(body.toString("utf8")).getAll("jwt");
  // Ruby's Hash[decode_www_form] keeps the last occurrence.
  const raw = all[all.length - 1];
  if (raw === undefined || raw === "") throw failures.missingJwtField();
  const jwt = raw.trim();
  if (jwt.length > MAX_JWT_BYTES || !JWT_SHAPE.test(jwt)) throw failures.notAJwt();
  return jwt;
}

/** Verify signature, `exp` and `nbf`; refetch keys once when the key was missing or wrong. */
export async function verifySignature(jwt: string, keys: KeyResolver, now: Date): Promise<Claims> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jwt);
  } catch (err) {
    throw failures.tokenDecode(`#<JWT::DecodeError: ${(err as Error).message}>`);
  }
  if (typeof header.alg !== "string" || !ALGORITHMS.includes(header.alg))
    throw failures.tokenDecode("#<JWT::IncorrectAlgorithm: Expected a different algorithm>");
  if (typeof header.kid !== "string")
    throw failures.tokenDecode("#<JWT::DecodeError: No key id (kid) found from token headers>");
  await keys.load();
  const verify = async (): Promise<Claims> =>
    (await jwtVerify(jwt, keys.getKey, { algorithms: ALGORITHMS, clockTolerance: 0, currentDate: now })).payload;
  try {
    return await verify();
  } catch (err) {
    // Maybe the issuer rotated its keys: refetch (if allowed now) and try once more.
    if (!isKeyMiss(err) || !(await keys.refresh())) throw conjurFailure(err);
  }
  try {
    return await verify();
  } catch (err) {
    throw conjurFailure(err);
  }
}

const isKeyMiss = (err: unknown): boolean =>
  err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWSSignatureVerificationFailed;

/** jose's errors as Conjur (ruby-jwt) names them; our own failures (JWKS fetch) pass through. */
function conjurFailure(err: unknown): JwtAuthnFailure {
  if (err instanceof JwtAuthnFailure) return err;
  if (err instanceof joseErrors.JWTExpired) return failures.tokenExpired();
  if (err instanceof joseErrors.JWKSNoMatchingKey)
    return failures.tokenDecode("#<JWT::DecodeError: Could not find public key for kid>");
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return failures.tokenDecode("#<JWT::VerificationError: Signature verification failed>");
  if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === "nbf")
    return failures.tokenDecode("#<JWT::ImmatureSignature: Signature nbf has not been reached>");
  return failures.tokenDecode(`#<JWT::DecodeError: ${(err as Error).message}>`);
}

export interface ExpectedClaims {
  /** "" when not configured. */
  issuer: string;
  audience: string;
}

/** Mandatory claims present, then `iss`, `aud`, `iat` values. Lazy getters keep Conjur's order of config errors. */
export function checkClaims(claims: Claims, expected: () => ExpectedClaims, now: Date): void {
  const { issuer, audience } = expected();
  const mandatory = ["exp", ...(audience !== "" ? ["aud"] : []), ...(issuer !== "" ? ["iss"] : [])];
  for (const claim of mandatory) if (isBlank(claims[claim])) throw failures.mandatoryClaimMissing(claim);
  if (issuer !== "" && claims.iss !== issuer) {
    throw failures.tokenDecode(`#<JWT::InvalidIssuerError: Invalid issuer. Expected ${JSON.stringify([issuer])}>`);
  }
  if (audience !== "") {
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(audience))
      throw failures.tokenDecode(`#<JWT::InvalidAudError: Invalid audience. Expected ${JSON.stringify(audience)}>`);
  }
  if (claims.iat !== undefined && claims.iat !== null && claims.iat !== false) {
    if (typeof claims.iat !== "number" || claims.iat > now.getTime() / 1000)
      throw failures.tokenDecode("#<JWT::InvalidIatError: Invalid iat>");
  }
}

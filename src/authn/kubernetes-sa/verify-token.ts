/**
 * A Kubernetes service-account token, from request body to the workload it names. jose does
 * every JOSE step: signature with RS256 or ES256 only (what kube-apiserver signs with), `exp`
 * required, `iss` and `aud` as configured, a bounded clock leeway. Then the `kubernetes.io`
 * claims: namespace and service-account name (shaped as Kubernetes names them, and agreeing
 * with `sub`), and the pod the token is bound to when there is one.
 */
import { errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { refuse, ServiceAccountAuthnFailure } from "./failures.js";

export const ALGORITHMS = ["RS256", "ES256"];
/** Projected tokens are 1–2 KiB; anything far bigger is not one. */
export const MAX_TOKEN_BYTES = 16 * 1024;
/** Clock skew tolerated between the issuer and this server, for exp, nbf and iat. */
export const CLOCK_LEEWAY_SECONDS = 30;

const JWT_SHAPE = /^[-A-Za-z0-9_]+\.[-A-Za-z0-9_]+\.[-A-Za-z0-9_]*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export interface ServiceAccountSubject {
  namespace: string;
  serviceAccount: string;
  /** The pod the token is bound to (projected tokens), if any. */
  pod: string | undefined;
}

export interface ExpectedToken {
  issuer: string;
  audience: string;
}

/** The form field `jwt` (whatever the Content-Type, as authn-jwt reads it). */
export function tokenFromBody(body: Buffer): string {
  if (body.length > MAX_TOKEN_BYTES + 64) throw refuse("request body too large for a service-account token");
  const values = new URLSearchParams(body.toString("utf8")).getAll("jwt");
  const jwt = values[values.length - 1]?.trim();
  if (!jwt) throw refuse("no jwt form field");
  if (jwt.length > MAX_TOKEN_BYTES || !JWT_SHAPE.test(jwt)) throw refuse("the jwt field is not a compact JWT");
  return jwt;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** What went wrong, in words that name the expectation, never the token's values. */
function reasonOf(err: unknown, expected: ExpectedToken): ServiceAccountAuthnFailure {
  if (err instanceof ServiceAccountAuthnFailure) return err;
  if (err instanceof joseErrors.JWTExpired) return refuse("token expired");
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return refuse(`token algorithm not allowed (expected one of ${ALGORITHMS.join(", ")})`);
  if (err instanceof joseErrors.JWKSNoMatchingKey) return refuse("no key of the issuer matches the token's kid");
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys)
    return refuse("several keys of the issuer match the token's kid");
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return refuse("signature verification failed");
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === "iss") return refuse(`issuer mismatch (expected ${expected.issuer})`);
    if (err.claim === "aud") return refuse(`audience mismatch (expected ${expected.audience})`);
    return refuse(`claim ${err.claim} invalid (${err.reason})`);
  }
  return refuse("not a valid signed JWT");
}

export async function verifyServiceAccountToken(
  jwt: string,
  keys: JWTVerifyGetKey,
  expected: ExpectedToken,
  now: Date,
): Promise<ServiceAccountSubject> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(jwt, keys, {
      algorithms: ALGORITHMS,
      issuer: expected.issuer,
      audience: expected.audience,
      requiredClaims: ["exp"],
      clockTolerance: CLOCK_LEEWAY_SECONDS,
      currentDate: now,
    }));
  } catch (err) {
    throw reasonOf(err, expected);
  }
  if (typeof payload.iat === "number" && payload.iat > now.getTime() / 1000 + CLOCK_LEEWAY_SECONDS)
    throw refuse("token issued in the future");
  const k8s = payload["kubernetes.io"];
  if (!isObject(k8s)) throw refuse("no kubernetes.io claim (not a service-account token)");
  const namespace = k8s.namespace;
  const serviceAccount = isObject(k8s.serviceaccount) ? k8s.serviceaccount.name : undefined;
  if (typeof namespace !== "string" || !DNS_LABEL.test(namespace))
    throw refuse("kubernetes.io.namespace missing or not a namespace name");
  if (typeof serviceAccount !== "string" || !DNS_SUBDOMAIN.test(serviceAccount))
    throw refuse("kubernetes.io.serviceaccount.name missing or not a service-account name");
  if (payload.sub !== `system:serviceaccount:${namespace}:${serviceAccount}`)
    throw refuse("sub does not name the token's namespace and service account");
  let pod: string | undefined;
  if (k8s.pod !== undefined) {
    if (
      !isObject(k8s.pod) ||
      typeof k8s.pod.name !== "string" ||
      !DNS_SUBDOMAIN.test(k8s.pod.name) ||
      typeof k8s.pod.uid !== "string" ||
      k8s.pod.uid === ""
    ) {
      throw refuse("kubernetes.io.pod present but without a pod name and uid");
    }
    pod = k8s.pod.name;
  }
  return { namespace, serviceAccount, pod };
}

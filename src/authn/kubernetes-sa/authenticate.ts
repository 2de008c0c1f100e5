/**
 * authn-kubernetes: a pod logs in with its own service-account token and becomes exactly the
 * host Secret mode reads as — `kubernetes/<namespace>/<serviceaccount>`, or the host named
 * in the URL when that host's `kubernetes/namespace` and `kubernetes/service-account`
 * annotations name the token's service account. Both go through `resolveIdentity`, the
 * controller's own function, so no policy beyond Secret mode's is needed (ADR 0019).
 * Framework-free: the HTTP adapter is src/http/routes/authn-kubernetes.ts.
 */
import type { JWTVerifyGetKey } from "jose";
import { resolveIdentity } from "../kubernetes-identity.js";
import type { Queryable } from "../../storage/database.js";
import { refuse, reviewUnavailable } from "./failures.js";
import {
  tokenFromBody,
  verifyServiceAccountToken,
  type ExpectedToken,
  type ServiceAccountSubject,
} from "./verify-token.js";

export const AUTHENTICATOR = "authn-kubernetes";
/** Host ids in the URL are Conjur logins (`host/<id>`); ids longer than this are not ours. */
const MAX_LOGIN_LENGTH = 1024;

export interface ServiceAccountAuthnDeps {
  db: Queryable;
  keys: JWTVerifyGetKey;
  expected: ExpectedToken;
  enabled: readonly string[];
  now?: () => Date;
  /**
   * Asks the API server about a token that verified offline (TokenReview): true = still good.
   * Absent = offline verification only (a deleted ServiceAccount's token works until it expires).
   */
  review?: (token: string) => Promise<boolean>;
}

export interface ServiceAccountAuthnRequest {
  account: string;
  /** The URL's `{host_id}` (`host/<id>`), when the pod claims a host other than its default. */
  urlLogin: string | undefined;
  body: Buffer;
}

/** Filled in as the steps succeed, for the audit record of a failure. */
export interface ServiceAccountAuthnProgress {
  roleId?: string;
  subject?: ServiceAccountSubject;
}

function claimedHost(urlLogin: string | undefined): string | undefined {
  if (urlLogin === undefined) return undefined;
  if (urlLogin.length > MAX_LOGIN_LENGTH || !urlLogin.startsWith("host/") || urlLogin.length === 5)
    throw refuse("only a host (host/<id>) may be named in the URL");
  return urlLogin.slice(5);
}

/** Only after the offline checks: a forged or foreign token never reaches the API server. */
async function reviewed(review: (token: string) => Promise<boolean>, jwt: string): Promise<void> {
  let accepted: boolean;
  try {
    accepted = await review(jwt);
  } catch (err) {
    throw reviewUnavailable(err instanceof Error ? err.message : String(err));
  }
  if (!accepted)
    throw refuse("the API server no longer accepts this token (TokenReview: its ServiceAccount or pod is gone)");
}

/** The role and login an access token is issued to; throws ServiceAccountAuthnFailure. */
export async function authenticateServiceAccount(
  deps: ServiceAccountAuthnDeps,
  request: ServiceAccountAuthnRequest,
  progress: ServiceAccountAuthnProgress = {},
): Promise<{ roleId: string; login: string }> {
  if (!deps.enabled.includes(AUTHENTICATOR)) throw refuse(`CONJ00004E '${AUTHENTICATOR}' is not enabled`);
  const urlHost = claimedHost(request.urlLogin);
  const jwt = tokenFromBody(request.body);
  const subject = await verifyServiceAccountToken(jwt, deps.keys, deps.expected, (deps.now ?? (() => new Date()))());
  progress.subject = subject;
  if (deps.review) await reviewed(deps.review, jwt);
  const defaultHost = `kubernetes/${subject.namespace}/${subject.serviceAccount}`;
  // Naming the default host in the URL is the same as naming none: no binding annotations needed.
  const host = urlHost === defaultHost ? undefined : urlHost;
  const identity = await resolveIdentity(deps.db, request.account, {
    namespace: subject.namespace,
    serviceAccount: subject.serviceAccount,
    host,
  });
  if ("denied" in identity) throw refuse(identity.denied);
  progress.roleId = identity.roleId;
  return { roleId: identity.roleId, login: `host/${host ?? defaultHost}` };
}

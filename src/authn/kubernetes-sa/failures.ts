/**
 * Why a service-account login failed. `reason` goes to the audit log: it names what was
 * expected, never what the token carried (no claim values, no kid, never the token).
 * `status` is what the client sees: 401 (empty body) for every credential problem, 503
 * when the issuer's keys cannot be read or the API server cannot review the token (the
 * agent retries; it is not a denial).
 */
export class ServiceAccountAuthnFailure extends Error {
  constructor(
    readonly reason: string,
    readonly status: 401 | 503 = 401,
    /** For a 503: what the client is told (a 401's body is always empty). */
    readonly publicMessage?: string,
  ) {
    super(reason);
  }
}

export const refuse = (reason: string): ServiceAccountAuthnFailure => new ServiceAccountAuthnFailure(reason);
export const keysUnavailable = (reason: string): ServiceAccountAuthnFailure =>
  new ServiceAccountAuthnFailure(
    `cannot read the issuer's keys: ${reason}`,
    503,
    "the cluster's service-account keys cannot be read; try again",
  );
export const reviewUnavailable = (reason: string): ServiceAccountAuthnFailure =>
  new ServiceAccountAuthnFailure(
    `cannot ask the API server (TokenReview): ${reason.slice(0, 200)}`,
    503,
    "the API server cannot review service-account tokens right now; try again",
  );

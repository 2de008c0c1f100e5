/**
 * Why a service-account login failed. `reason` goes to the audit log: it names what was
 * expected, never what the token carried (no claim values, no kid, never the token).
 * `status` is what the client sees: 401 (empty body) for every credential problem, 503
 * when the issuer's keys cannot be read (the agent retries; it is not a denial).
 */
export class ServiceAccountAuthnFailure extends Error {
  constructor(
    readonly reason: string,
    readonly status: 401 | 503 = 401,
  ) {
    super(reason);
  }
}

export const refuse = (reason: string): ServiceAccountAuthnFailure => new ServiceAccountAuthnFailure(reason);
export const keysUnavailable = (reason: string): ServiceAccountAuthnFailure =>
  new ServiceAccountAuthnFailure(`cannot read the issuer's keys: ${reason}`, 503);

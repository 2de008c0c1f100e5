/**
 * The brute-force throttle for authenticators whose credential is a signed token (authn-jwt,
 * authn-kubernetes). A signature cannot be guessed, so only the client address is counted:
 * a per-role count would let anyone lock a workload out. It bounds the cost of token spam,
 * and keeps the README's rule true that every failed `POST …/authenticate` counts.
 */
import type { Request } from "express";
import { errors } from "../errors.js";
import type { Services } from "./services.js";

/** Refuses (429, audited via `record`) an address past its failure budget, before any work. */
export async function refuseThrottledAddress(
  services: Services,
  req: Request,
  record: (ok: boolean, reason: string) => Promise<void>,
): Promise<void> {
  const refusal = services.authnThrottle.addressRefusal(req.ip);
  if (!refusal) return;
  services.metrics.authnThrottled.inc({ reason: refusal.reason });
  await record(false, `429 throttled by ${refusal.reason}`);
  throw errors.tooManyAuthnFailures(refusal.retryAfterSeconds);
}

/** Counts a refused credential against the client's address. */
export function countTokenFailure(services: Services, req: Request): void {
  services.authnThrottle.addressFailed(req.ip);
}

/**
 * `restricted_to` on users and hosts: an access token is issued only to a client whose
 * address (src/authn/client-ip.ts) lies in one of the role's CIDRs; an empty list means
 * anywhere. Checked at token issuance only, as Conjur does (`Role#valid_origin?`): a token
 * carries no address, so one obtained from an allowed address works from anywhere.
 * Every authenticator calls `assertClientAllowed` after the credential checks out.
 */
import type { Queryable } from "../storage/database.js";
import { addressInAny, parseCidrs } from "./cidr.js";

/** Conjur's audit text for this refusal (CONJ00003E). */
export const ORIGIN_REFUSED = "CONJ00003E User is not authorized to login from the current origin";

export class OriginRefused extends Error {
  constructor() {
    super(ORIGIN_REFUSED);
  }
}

export async function restrictionsOf(db: Queryable, roleId: string): Promise<string[]> {
  const { rows } = await db.query<{ restricted_to: string[] }>({
    name: "load-restrictions",
    text: "SELECT restricted_to FROM roles WHERE role_id = $1",
    values: [roleId],
  });
  return rows[0]?.restricted_to ?? [];
}

export function isClientAllowed(restrictedTo: readonly string[], clientIp: string | undefined): boolean {
  if (restrictedTo.length === 0) return true;
  return clientIp !== undefined && addressInAny(clientIp, parseCidrs(restrictedTo));
}

/** Throws OriginRefused when `roleId` is restricted and `clientIp` lies outside its CIDRs. */
export async function assertClientAllowed(db: Queryable, roleId: string, clientIp: string | undefined): Promise<void> {
  if (!isClientAllowed(await restrictionsOf(db, roleId), clientIp)) throw new OriginRefused();
}

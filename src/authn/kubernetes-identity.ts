/**
 * Which Strongroom host a pod (or a SecretBinding) acts as. By default the host
 * `kubernetes/<namespace>/<serviceaccount>`; an explicit `strongroom.io/host` only if that
 * host carries the annotations `kubernetes/namespace` and `kubernetes/service-account`
 * matching the pod. Anything else is a denial with a reason.
 */
import { fullId } from "../authz/ids.js";
import type { Queryable } from "../storage/database.js";

export type Identity = { roleId: string } | { denied: string; reason: "HostNotFound" | "HostNotBound" };

export async function resolveIdentity(
  db: Queryable,
  account: string,
  subject: { namespace: string; serviceAccount: string; host: string | undefined },
): Promise<Identity> {
  const hostId = subject.host ?? `kubernetes/${subject.namespace}/${subject.serviceAccount}`;
  const roleId = fullId(account, "host", hostId);
  const { rows } = await db.query<{ name: string | null; value: string | null }>(
    `SELECT a.name, a.value FROM roles r LEFT JOIN annotations a ON a.resource_id = r.role_id
       AND a.name IN ('kubernetes/namespace', 'kubernetes/service-account')
     WHERE r.role_id = $1`,
    [roleId],
  );
  if (!rows.length)
    return { denied: `host '${hostId}' does not exist in account '${account}'`, reason: "HostNotFound" };
  if (!subject.host) return { roleId };
  const annotations = new Map(rows.filter((r) => r.name).map((r) => [r.name!, r.value]));
  if (
    annotations.get("kubernetes/namespace") !== subject.namespace ||
    annotations.get("kubernetes/service-account") !== subject.serviceAccount
  ) {
    return {
      denied: `host '${hostId}' is not bound to service account ${subject.namespace}/${subject.serviceAccount} (its annotations kubernetes/namespace and kubernetes/service-account must match)`,
      reason: "HostNotBound",
    };
  }
  return { roleId };
}

/**
 * Resolves a set of files (file → variable id) as an identity, through the same
 * `fetchBatch` the REST API's batch endpoint uses: one call, one query.
 */
import { fullId } from "../../authz/ids.js";
import type { Aead } from "../../crypto/aead.js";
import { ApiError } from "../../errors.js";
import { fetchBatch } from "../../secrets/fetch-batch.js";
import type { Queryable } from "../../storage/database.js";
import { resolveIdentity } from "../../authn/kubernetes-identity.js";

export type Resolution =
  | { ok: true; roleId: string; data: Record<string, string>; variables: string[] }
  | { ok: false; reason: string; message: string; variables: string[] };

export async function resolveFiles(
  deps: { db: Queryable; aead: Aead; account: string },
  subject: { namespace: string; serviceAccount: string; host: string | undefined },
  files: Record<string, string>,
): Promise<Resolution> {
  const variables = Object.values(files).map((v) => fullId(deps.account, "variable", v));
  const identity = await resolveIdentity(deps.db, deps.account, subject);
  if ("denied" in identity) return { ok: false, reason: identity.reason, message: identity.denied, variables };
  try {
    const values = await fetchBatch(deps, identity.roleId, variables);
    const data: Record<string, string> = {};
    for (const [file, variable] of Object.entries(files)) data[file] = values.get(fullId(deps.account, "variable", variable))!.toString("base64");
    return { ok: true, roleId: identity.roleId, data, variables };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 403) return { ok: false, reason: "Forbidden", message: `${identity.roleId} may not execute every variable in ${variables.join(", ")}`, variables };
    if (err.status === 404) return { ok: false, reason: "VariableNotFound", message: err.body?.error.message ?? "a variable is missing or empty", variables };
    throw err;
  }
}

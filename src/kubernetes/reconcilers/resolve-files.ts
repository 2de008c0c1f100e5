/**
 * Resolves variables as an identity, through the same `fetchBatch` the REST API's batch
 * endpoint uses: one call, one query. `resolveVariables` gives the values (pod Secrets
 * render files from them); `resolveFiles` maps file → variable id to Secret data.
 */
import { fullId } from "../../authz/ids.js";
import type { Aead } from "../../crypto/aead.js";
import { ApiError } from "../../errors.js";
import { fetchBatch } from "../../secrets/fetch-batch.js";
import type { Queryable } from "../../storage/database.js";
import { resolveIdentity } from "../../authn/kubernetes-identity.js";

type Denial = { ok: false; reason: string; message: string; variables: string[] };

export type Resolution = { ok: true; roleId: string; data: Record<string, string>; variables: string[] } | Denial;

/** Values by variable id as the annotations name it (relative to the account). */
export type VariableResolution =
  { ok: true; roleId: string; values: Map<string, Buffer>; variables: string[] } | Denial;

type Deps = { db: Queryable; aead: Aead; account: string };
type Subject = { namespace: string; serviceAccount: string; host: string | undefined };

export async function resolveVariables(
  deps: Deps,
  subject: Subject,
  ids: readonly string[],
): Promise<VariableResolution> {
  const unique = [...new Set(ids)];
  const variables = unique.map((v) => fullId(deps.account, "variable", v));
  const identity = await resolveIdentity(deps.db, deps.account, subject);
  if ("denied" in identity) return { ok: false, reason: identity.reason, message: identity.denied, variables };
  try {
    const fetched = await fetchBatch(deps, identity.roleId, variables);
    const values = new Map(unique.map((id, i) => [id, fetched.get(variables[i]!)!]));
    return { ok: true, roleId: identity.roleId, values, variables };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 403)
      return {
        ok: false,
        reason: "Forbidden",
        message: `${identity.roleId} may not execute every variable in ${variables.join(", ")}`,
        variables,
      };
    if (err.status === 404)
      return {
        ok: false,
        reason: "VariableNotFound",
        message: err.body?.error.message ?? "a variable is missing or empty",
        variables,
      };
    throw err;
  }
}

export async function resolveFiles(deps: Deps, subject: Subject, files: Record<string, string>): Promise<Resolution> {
  const resolution = await resolveVariables(deps, subject, Object.values(files));
  if (!resolution.ok) return resolution;
  const data: Record<string, string> = {};
  for (const [file, variable] of Object.entries(files))
    data[file] = resolution.values.get(variable)!.toString("base64");
  return { ok: true, roleId: resolution.roleId, data, variables: resolution.variables };
}

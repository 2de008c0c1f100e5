/**
 * An authn-jwt service's configuration lives in variables under
 * `conjur/authn-jwt/<service_id>/`. "Configured" means the variable exists; a configured
 * variable without a value is an error (CONJ00037E) whichever variable it is. The server
 * reads them itself, as Conjur does: no caller privilege is involved.
 */
import type { Aead } from "../../crypto/aead.js";
import { secretAad } from "../../secrets/secret-rows.js";
import type { Queryable } from "../../storage/database.js";
import { failures } from "./failures.js";

export const VARIABLE_NAMES = [
  "jwks-uri",
  "public-keys",
  "provider-uri",
  "ca-cert",
  "issuer",
  "audience",
  "token-app-property",
  "identity-path",
  "enforced-claims",
  "claim-aliases",
] as const;
export type VariableName = (typeof VARIABLE_NAMES)[number];

export const webserviceId = (account: string, serviceId: string): string =>
  `${account}:webservice:conjur/authn-jwt/${serviceId}`;
export const variableId = (account: string, serviceId: string, name: VariableName): string =>
  `${account}:variable:conjur/authn-jwt/${serviceId}/${name}`;

export class ServiceVariables {
  constructor(
    private readonly ids: (name: VariableName) => string,
    /** Existing variables → their latest value, or null when they have none. */
    private readonly values: ReadonlyMap<VariableName, string | null>,
  ) {}

  has(name: VariableName): boolean {
    return this.values.has(name);
  }

  /** The value of a variable that must exist; CONJ00037E when it has no value. */
  required(name: VariableName): string {
    const value = this.values.get(name);
    if (value === undefined || value === null) throw failures.missingValue(this.ids(name));
    return value;
  }

  /** The value when the variable exists (CONJ00037E if it has none), else undefined. */
  optional(name: VariableName): string | undefined {
    return this.has(name) ? this.required(name) : undefined;
  }
}

/** One query for all ten variables and their latest values. */
export async function loadServiceVariables(
  deps: { db: Queryable; aead: Aead },
  account: string,
  serviceId: string,
): Promise<ServiceVariables> {
  const ids = (name: VariableName): string => variableId(account, serviceId, name);
  const byId = new Map(VARIABLE_NAMES.map((name) => [ids(name), name]));
  const { rows } = await deps.db.query<{ resource_id: string; version: number | null; value: Buffer | null }>(
    `SELECT r.resource_id, s.version, s.value
     FROM resources r
     LEFT JOIN LATERAL (SELECT version, value FROM secrets WHERE resource_id = r.resource_id ORDER BY version DESC LIMIT 1) s ON true
     WHERE r.resource_id = ANY($1::text[])`,
    [[...byId.keys()]],
  );
  const values = new Map<VariableName, string | null>();
  for (const row of rows) {
    const plain =
      row.value && row.version !== null
        ? deps.aead.decrypt(row.value, secretAad(row.resource_id, row.version)).toString("utf8")
        : null;
    values.set(byId.get(row.resource_id)!, plain);
  }
  return new ServiceVariables(ids, values);
}

export async function resourceExists(db: Queryable, resourceId: string): Promise<boolean> {
  return ((await db.query("SELECT 1 FROM resources WHERE resource_id = $1", [resourceId])).rowCount ?? 0) > 0;
}

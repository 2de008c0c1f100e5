/**
 * Which authenticators exist, are configured and are enabled, as Conjur's
 * `GET /authenticators` reports them. Enabled is the server setting `--authenticators`
 * (Conjur's CONJUR_AUTHENTICATORS; default `authn`) united with what `PATCH
 * /authn-jwt/{service_id}/{account}` enabled in the database (Conjur's authenticator_configs;
 * not account-scoped, as in Conjur). `authn` itself always works.
 */
import type { Queryable } from "../storage/database.js";

/** Authenticator types this server implements. */
export const INSTALLED_AUTHENTICATORS = ["authn", "authn-jwt", "authn-kubernetes"] as const;

export function isEnabled(enabled: readonly string[], name: string): boolean {
  return name === "authn" || enabled.includes(name);
}

/** Authenticator names (`authn-jwt/x`) enabled through the API, in any account. */
export async function enabledInDatabase(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ name: string | null }>({
    name: "authenticators-enabled-in-db",
    text: `SELECT DISTINCT substring(resource_id from '^[^:]+:webservice:conjur/(authn(?:-[^/]+)?(?:/[^/]+)?)$') AS name
     FROM authenticator_configs WHERE enabled`,
  });
  return rows.map((r) => r.name).filter((name): name is string => name !== null);
}

/** Enabled by the server setting, or through the API (an env-enabled one cannot be disabled there). */
export async function isAuthenticatorEnabled(
  db: Queryable,
  setting: readonly string[],
  name: string,
): Promise<boolean> {
  return isEnabled(setting, name) || (await enabledInDatabase(db)).includes(name);
}

/** Conjur's `to_s.strip.downcase == "true"` on a form or JSON `enabled`; anything else disables. */
export function enabledFromBody(body: Buffer, contentType: string | undefined): boolean | "malformed" {
  const text = body.subarray(0, 4096).toString("utf8");
  let value: unknown;
  if (/^application\/json/i.test(contentType ?? "")) {
    try {
      value = (JSON.parse(text) as { enabled?: unknown } | null)?.enabled;
    } catch {
      return "malformed";
    }
  } else {
    value = new URLSearchParams(text).get("enabled");
  }
  const flag =
    typeof value === "string" || typeof value === "boolean" || typeof value === "number" ? String(value) : "";
  return flag.trim().toLowerCase() === "true";
}

/** Upserts the row for `conjur/<authenticator>` (the caller checked `update` on it). */
export async function setAuthenticatorEnabled(db: Queryable, webserviceId: string, enabled: boolean): Promise<void> {
  await db.query(
    "INSERT INTO authenticator_configs (resource_id, enabled) VALUES ($1, $2) ON CONFLICT (resource_id) DO UPDATE SET enabled = $2",
    [webserviceId, enabled],
  );
}

/** `authn` plus every webservice `conjur/<authenticator>[/<service_id>]`, in any account. */
export async function configuredAuthenticators(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT DISTINCT substring(resource_id from '^[^:]+:webservice:conjur/(authn(?:-[^/]+)?(?:/[^/]+)?)$') AS name
     FROM resources WHERE resource_id LIKE '%:webservice:conjur/authn%'`,
  );
  const names = new Set(["authn", ...rows.map((r) => r.name).filter((name) => name !== null)]);
  return [...names].sort();
}

export interface AuthenticatorListing {
  installed: string[];
  configured: string[];
  enabled: string[];
}

export async function listAuthenticators(db: Queryable, setting: readonly string[]): Promise<AuthenticatorListing> {
  const enabled = [...new Set([...setting, ...(await enabledInDatabase(db))])];
  // authn-kubernetes has no webservice: its configuration is the server's --kubernetes-* settings.
  const configured = [
    ...(await configuredAuthenticators(db)),
    ...(enabled.includes("authn-kubernetes") ? ["authn-kubernetes"] : []),
  ].sort();
  return { installed: [...INSTALLED_AUTHENTICATORS].sort(), configured, enabled: [...enabled].sort() };
}

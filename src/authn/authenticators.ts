/**
 * Which authenticators exist, are configured and are enabled, as Conjur's
 * `GET /authenticators` reports them. Enabled is the server setting `--authenticators`
 * (Conjur's CONJUR_AUTHENTICATORS; default `authn`). `authn` itself always works.
 */
import type { Queryable } from "../storage/database.js";

/** Authenticator types this server implements. */
export const INSTALLED_AUTHENTICATORS = ["authn", "authn-jwt", "authn-kubernetes"] as const;

export function isEnabled(enabled: readonly string[], name: string): boolean {
  return name === "authn" || enabled.includes(name);
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

export async function listAuthenticators(db: Queryable, enabled: readonly string[]): Promise<AuthenticatorListing> {
  // authn-kubernetes has no webservice: its configuration is the server's --kubernetes-* settings.
  const configured = [...(await configuredAuthenticators(db)), ...(enabled.includes("authn-kubernetes") ? ["authn-kubernetes"] : [])].sort();
  return { installed: [...INSTALLED_AUTHENTICATORS].sort(), configured, enabled: [...enabled].sort() };
}

/**
 * Conjur ids: `account:kind:identifier`, split on the first two colons only, so the
 * identifier may hold ':' and '/'. Logins map to roles: `alice` → user, `host/app` → host.
 */
import { checkStorable, LIMITS } from "../input/limits.js";

export const ROLE_KINDS = ["user", "host", "group", "layer", "policy"] as const;
/** Users and hosts are the roles that log in: they have API keys, passwords (users) and `restricted_to`. */
export function canLogIn(kind: string): boolean {
  return kind === "user" || kind === "host";
}

/** Kinds a resource list may filter by (Conjur's list: the CLI's `conjur list -k host_factory`). */
export const RESOURCE_KINDS = [
  ...ROLE_KINDS,
  "variable",
  "webservice",
  "host_factory",
  "public_key",
  "configuration",
] as const;

export interface ParsedId {
  account: string;
  kind: string;
  identifier: string;
}

/**
 * Every id that reaches SQL is built here, so this is where the storable bounds hold
 * (no NUL, lengths within LIMITS): a bad one is the client's 422, never a database 500.
 */
export function fullId(account: string, kind: string, identifier: string): string {
  checkStorable("account", account, LIMITS.accountBytes);
  checkStorable("kind", kind, LIMITS.wordBytes);
  checkStorable("identifier", identifier, LIMITS.identifierBytes);
  return `${account}:${kind}:${identifier}`;
}

export function parseFullId(id: string): ParsedId | undefined {
  const first = id.indexOf(":");
  const second = first < 0 ? -1 : id.indexOf(":", first + 1);
  if (first <= 0 || second <= first + 1 || second === id.length - 1) return undefined;
  return { account: id.slice(0, first), kind: id.slice(first + 1, second), identifier: id.slice(second + 1) };
}

/** `kind:identifier` or `account:kind:identifier` (as `?role=` takes), defaulting the account. */
export function parseRoleParam(value: string, account: string): ParsedId | undefined {
  const full = parseFullId(value);
  if (full && (ROLE_KINDS as readonly string[]).includes(full.kind)) return full;
  const colon = value.indexOf(":");
  if (colon <= 0 || colon === value.length - 1) return undefined;
  return { account, kind: value.slice(0, colon), identifier: value.slice(colon + 1) };
}

/** Conjur's `Role.make_full_id`: `kind:id` gets the account; fewer than two parts is an error. */
export function makeFullRoleId(value: string, account: string): string | undefined {
  const parsed = parseFullId(value);
  if (parsed) return fullId(parsed.account, parsed.kind, parsed.identifier);
  const colon = value.indexOf(":");
  return colon < 0 ? undefined : fullId(account, value.slice(0, colon), value.slice(colon + 1));
}

/** Conjur's login → role id rule. Only `user/` and `host/` prefixes mean a kind. */
export function roleIdForLogin(account: string, login: string): string {
  if (login.startsWith("host/")) return fullId(account, "host", login.slice(5));
  if (login.startsWith("user/")) return fullId(account, "user", login.slice(5));
  return fullId(account, "user", login);
}

/** The token `sub` for a role: `alice` or `host/app`. */
export function loginForRole(roleId: string): string {
  const parsed = parseFullId(roleId)!;
  return parsed.kind === "user" ? parsed.identifier : `${parsed.kind}/${parsed.identifier}`;
}

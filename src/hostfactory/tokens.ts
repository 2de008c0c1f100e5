/**
 * Host factory tokens (Conjur's HostFactoryToken): 256 random bits in the API key alphabet,
 * each with an expiry and optional CIDRs. Only their SHA-256 is stored, so a database dump
 * yields no usable token; they are found by hash, which is a constant-time lookup with
 * respect to the token's value (no byte-wise comparison of secrets happens in our code).
 */
import { createHash } from "node:crypto";
import { generateApiKey } from "../authn/api-keys.js";
import { addressInAny, parseCidrs } from "../authn/cidr.js";
import type { Queryable } from "../storage/database.js";

export interface IssuedToken {
  expiration: string;
  cidr: string[];
  token: string;
}

export interface StoredToken {
  factoryId: string;
  expiration: Date;
  cidr: string[];
}

/** Tokens longer than this are not ours (ours are ≤ 56 characters); never hashed or looked up. */
export const MAX_TOKEN_CHARS = 128;

const hashOf = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex");

/** Conjur's JSON time for a token: UTC, whole seconds, `Z`. */
export const expirationText = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z");

export async function issueTokens(
  db: Queryable,
  factoryId: string,
  expiration: Date,
  cidr: readonly string[],
  count: number,
): Promise<IssuedToken[]> {
  const tokens = Array.from({ length: count }, () => generateApiKey());
  await db.query(
    "INSERT INTO host_factory_tokens (token_sha256, resource_id, expiration, cidr) SELECT h, $2, $3, $4 FROM unnest($1::text[]) AS h",
    [tokens.map(hashOf), factoryId, expiration, cidr],
  );
  return tokens.map((token) => ({ expiration: expirationText(expiration), cidr: [...cidr], token }));
}

export async function findToken(db: Queryable, token: string): Promise<StoredToken | undefined> {
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS) return undefined;
  const { rows } = await db.query<{ resource_id: string; expiration: Date; cidr: string[] }>(
    "SELECT resource_id, expiration, cidr FROM host_factory_tokens WHERE token_sha256 = $1",
    [hashOf(token)],
  );
  const row = rows[0];
  return row ? { factoryId: row.resource_id, expiration: row.expiration, cidr: row.cidr } : undefined;
}

export async function deleteToken(db: Queryable, token: string): Promise<void> {
  await db.query("DELETE FROM host_factory_tokens WHERE token_sha256 = $1", [hashOf(token)]);
}

/** A token admits a request until its expiry, and only from inside its CIDRs when it has any. */
export function admits(stored: StoredToken, clientIp: string | undefined, now: Date): boolean {
  if (now.getTime() >= stored.expiration.getTime()) return false;
  if (stored.cidr.length === 0) return true;
  return clientIp !== undefined && addressInAny(clientIp, parseCidrs(stored.cidr));
}

/** What `GET /resources/{acct}/host_factory/{id}` adds: the layers and the live tokens (without their values). */
export async function describeFactory(
  db: Queryable,
  factoryId: string,
): Promise<{ layers: string[]; tokens: { expiration: string; cidr: string[] }[] }> {
  const layers = await db.query<{ role_id: string }>(
    "SELECT role_id FROM role_memberships WHERE member_id = $1 AND split_part(role_id, ':', 2) = 'layer' ORDER BY role_id",
    [factoryId],
  );
  const tokens = await db.query<{ expiration: Date; cidr: string[] }>(
    "SELECT expiration, cidr FROM host_factory_tokens WHERE resource_id = $1 AND expiration > now() ORDER BY expiration, created_at",
    [factoryId],
  );
  return {
    layers: layers.rows.map((r) => r.role_id),
    tokens: tokens.rows.map((t) => ({ expiration: expirationText(t.expiration), cidr: t.cidr })),
  };
}

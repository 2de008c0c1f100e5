/**
 * Conjur (ruby-jwt 2.7.1) picks a key by `kid` alone: a JWK's own `alg`, `use` and
 * `key_ops` are not matched against the token, so an RS384 token verifies with a key
 * published as `"alg":"RS256"`. jose does match them; we strip them so jose selects as
 * Conjur does. The algorithm allow-list (RS256/384/512) is enforced by `jwtVerify`, and
 * jose still refuses a key of the wrong type (an EC key for an RS256 token). Duplicate
 * `kid`s keep the first key, as ruby-jwt's finder does.
 */
import type { JSONWebKeySet, JWK } from "jose";

export function conjurKeySet(keys: unknown[]): JSONWebKeySet {
  const seen = new Set<string>();
  const cleaned: JWK[] = [];
  for (const key of keys) {
    if (typeof key !== "object" || key === null || Array.isArray(key)) continue;
    const { alg: _alg, use: _use, key_ops: _ops, ...rest } = key as JWK;
    if (typeof rest.kid === "string") {
      if (seen.has(rest.kid)) continue;
      seen.add(rest.kid);
    }
    cleaned.push(rest);
  }
  return { keys: cleaned };
}

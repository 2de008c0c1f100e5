/**
 * Where verification keys come from: `public-keys` (a JWKS in a variable) or `jwks-uri`
 * (fetched over HTTP(S), cached per URI and CA). As in Conjur, a verification that fails
 * for want of a key (unknown `kid`, signature mismatch) refetches the JWKS once and
 * retries, at most 10 refetches per URI per 5 minutes; a key set also expires after 10
 * minutes so a key removed at the issuer stops working (Conjur keeps it until a failure).
 */
import { createHash } from "node:crypto";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors as joseErrors,
  type JWTVerifyGetKey,
  type RemoteJWKSet,
} from "jose";
import { failures, JwtAuthnFailure } from "./failures.js";
import { jwksFetcher } from "./jwks-fetch.js";
import { conjurKeySet } from "./key-set.js";

export type SigningKeySource =
  { kind: "jwks-uri"; uri: string; caCert: string | undefined } | { kind: "public-keys"; keys: unknown[] };

export interface KeyResolver {
  getKey: JWTVerifyGetKey;
  /** Make sure keys are loaded (fetching if needed); throws the fetch failure. */
  load(): Promise<void>;
  /** Refetch after a failed verification, if allowed now; true when the keys were refetched. */
  refresh(): Promise<boolean>;
}

export interface SigningKeyCacheOptions {
  refreshesPerInterval?: number;
  intervalMs?: number;
  cacheMaxAgeMs?: number;
  timeoutMs?: number;
  maxEntries?: number;
  now?: () => number;
}

interface RemoteEntry {
  jwks: RemoteJWKSet;
  refreshedAt: number[];
}

/** Turn jose's fetch-side errors into Conjur's; our own failures pass through. */
function fetchFailure(uri: string, err: unknown): JwtAuthnFailure {
  if (err instanceof JwtAuthnFailure) return err;
  if (err instanceof joseErrors.JWKSTimeout) return failures.fetchJwksFailed(uri, "timed out");
  if (err instanceof joseErrors.JWKSInvalid) return failures.jwksNotJson(err.message);
  return failures.fetchJwksFailed(uri, (err as Error).message);
}

export class SigningKeyCache {
  readonly #remote = new Map<string, RemoteEntry>();
  readonly #local = new Map<string, JWTVerifyGetKey>();
  readonly #opts: Required<SigningKeyCacheOptions>;

  constructor(options: SigningKeyCacheOptions = {}) {
    this.#opts = {
      refreshesPerInterval: 10,
      intervalMs: 300_000,
      cacheMaxAgeMs: 600_000,
      timeoutMs: 5_000,
      maxEntries: 256,
      now: Date.now,
      ...options,
    };
  }

  resolverFor(source: SigningKeySource): KeyResolver {
    return source.kind === "public-keys" ? this.#publicKeys(source.keys) : this.#jwksUri(source.uri, source.caCert);
  }

  #publicKeys(keys: unknown[]): KeyResolver {
    // Parsed keys are reused while the variable's value stays the same.
    const cacheKey = JSON.stringify(keys);
    let getKey = this.#local.get(cacheKey);
    if (!getKey) {
      try {
        getKey = createLocalJWKSet(conjurKeySet(keys));
      } catch (err) {
        throw failures.invalidPublicKeys((err as Error).message);
      }
      this.#remember(this.#local, cacheKey, getKey);
    }
    return { getKey, load: () => Promise.resolve(), refresh: () => Promise.resolve(false) };
  }

  #jwksUri(uri: string, caCert: string | undefined): KeyResolver {
    const cacheKey = `${uri}\n${caCert ? createHash("sha256").update(caCert).digest("hex") : ""}`;
    let entry = this.#remote.get(cacheKey);
    if (!entry) {
      let url: URL;
      try {
        url = new URL(uri);
      } catch {
        throw failures.fetchJwksFailed(uri, "invalid URI");
      }
      const jwks = createRemoteJWKSet(url, {
        timeoutDuration: this.#opts.timeoutMs,
        // Refetching on a miss is ours to decide (rate-limited below), not jose's.
        cooldownDuration: Infinity,
        cacheMaxAge: this.#opts.cacheMaxAgeMs,
        [customFetch]: jwksFetcher(uri, caCert),
      });
      entry = { jwks, refreshedAt: [] };
      this.#remember(this.#remote, cacheKey, entry);
    }
    const { jwks } = entry;
    const reload = async (): Promise<void> => {
      try {
        await jwks.reload();
      } catch (err) {
        throw fetchFailure(uri, err);
      }
    };
    const load = async (): Promise<void> => {
      if (!jwks.fresh) await reload();
    };
    const refresh = async (): Promise<boolean> => {
      const now = this.#opts.now();
      const recent = entry.refreshedAt.filter((at) => now - at < this.#opts.intervalMs);
      entry.refreshedAt = recent;
      if (recent.length >= this.#opts.refreshesPerInterval) return false;
      recent.push(now);
      await reload();
      return true;
    };
    const getKey: JWTVerifyGetKey = async (header, token) => {
      await load();
      return jwks(header, token);
    };
    return { getKey, load, refresh };
  }

  /** Insert, evicting the oldest entry past the bound (URIs come from policy, still bounded). */
  #remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size >= this.#opts.maxEntries) map.delete(map.keys().next().value!);
    map.set(key, value);
  }
}

/**
 * The cluster's service-account signing keys, from its JWKS (by default the in-cluster API
 * server's `/openid/v1/jwks`, which needs the pod's own token: RBAC
 * `system:service-account-issuer-discovery`). jose caches the set for 10 minutes and
 * refetches at once on an unknown `kid` — at most once per cooldown, so tokens with made-up
 * kids cannot turn into a request flood at the API server. The fetch is ours: only the
 * configured CA is trusted, the bearer token is re-read each time (kubelet rotates it),
 * no redirects, 2xx only, size and time bounded.
 */
import { readFile } from "node:fs/promises";
import { boundedGet } from "../../outbound/bounded-get.js";
import { createRemoteJWKSet, customFetch, errors as joseErrors, type JWTVerifyGetKey } from "jose";
import { keysUnavailable, ServiceAccountAuthnFailure } from "./failures.js";

/** A JWKS is a few KiB. */
export const MAX_JWKS_BYTES = 256 * 1024;

export interface IssuerKeySettings {
  jwksUri: string;
  /** PEM file; when set, the only CA trusted for the JWKS URI. */
  caFile: string | undefined;
  /** Sent as `Authorization: Bearer`, re-read at every fetch. */
  tokenFile: string | undefined;
  /** Shortest time between refetches caused by an unknown kid (ms). */
  cooldownMs?: number;
  timeoutMs?: number;
}

async function readOptional(file: string | undefined, what: string): Promise<Buffer | undefined> {
  if (!file) return undefined;
  try {
    return await readFile(file);
  } catch (err) {
    throw keysUnavailable(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
}

function fetcher(settings: IssuerKeySettings) {
  return async (url: string, options: { headers: Headers; signal: AbortSignal }): Promise<Response> => {
    const [ca, token] = await Promise.all([
      readOptional(settings.caFile, "JWKS CA file"),
      readOptional(settings.tokenFile, "JWKS bearer token file"),
    ]);
    const headers: Record<string, string> = Object.fromEntries(options.headers);
    if (token) headers.authorization = `Bearer ${token.toString("utf8").trim()}`;
    let answer: { status: number; body: Buffer };
    try {
      answer = await boundedGet(new URL(url), {
        headers,
        ...(ca ? { ca } : {}),
        signal: options.signal,
        maxBytes: MAX_JWKS_BYTES,
      });
    } catch (err) {
      throw keysUnavailable(
        options.signal.aborted ? "timed out" : ((err as NodeJS.ErrnoException).code ?? (err as Error).message),
      );
    }
    if (answer.status < 200 || answer.status > 299)
      throw keysUnavailable(
        `HTTP ${answer.status} from the JWKS URI (403: bind the server's service account to system:service-account-issuer-discovery)`,
      );
    let keys: unknown;
    try {
      keys = (JSON.parse(answer.body.toString("utf8")) as { keys?: unknown } | null)?.keys;
    } catch {
      throw keysUnavailable("the JWKS URI did not answer JSON");
    }
    if (!Array.isArray(keys) || keys.length === 0) throw keysUnavailable("the JWKS has no keys");
    return new Response(JSON.stringify({ keys }), { status: 200, headers: { "content-type": "application/json" } });
  };
}

/** jose's key lookup over the issuer's JWKS; fetch problems surface as a 503 failure. */
export function issuerKeys(settings: IssuerKeySettings): JWTVerifyGetKey {
  const jwks = createRemoteJWKSet(new URL(settings.jwksUri), {
    timeoutDuration: settings.timeoutMs ?? 5_000,
    cooldownDuration: settings.cooldownMs ?? 5_000,
    cacheMaxAge: 600_000,
    [customFetch]: fetcher(settings),
  });
  return async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (err) {
      if (
        err instanceof ServiceAccountAuthnFailure ||
        err instanceof joseErrors.JWKSNoMatchingKey ||
        err instanceof joseErrors.JWKSMultipleMatchingKeys
      )
        throw err;
      if (err instanceof joseErrors.JWKSTimeout) throw keysUnavailable("timed out");
      if (err instanceof joseErrors.JWKSInvalid || err instanceof joseErrors.JOSEError)
        throw keysUnavailable(err.message);
      throw err;
    }
  };
}

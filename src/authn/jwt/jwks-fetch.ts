/**
 * Fetching a JWKS document from `jwks-uri` the way Conjur does (Net::HTTP GET, no
 * redirects; `ca-cert`, when set, is the only trust store), with bounds: a size cap and
 * jose's timeout signal. The result is handed to jose as a `Response`, so jose keeps the
 * cache; we only decide what counts as a valid document.
 */
import { boundedGet } from "../../outbound/bounded-get.js";
import { failures } from "./failures.js";
import { conjurKeySet } from "./key-set.js";

/** A JWKS is a few KiB; anything near this is not one. */
export const MAX_JWKS_BYTES = 1024 * 1024;

/** A `fetch` for jose's `customFetch`: validates as Conjur does, answers 200 with the cleaned key set. */
export function jwksFetcher(uriText: string, caCert: string | undefined) {
  return async (url: string, options: { headers: Headers; signal: AbortSignal }): Promise<Response> => {
    const uri = new URL(url);
    if (uri.protocol !== "https:" && uri.protocol !== "http:")
      throw failures.fetchJwksFailed(uriText, `unsupported URI scheme '${uri.protocol}'`);
    if (caCert && uri.protocol === "http:")
      throw failures.fetchJwksFailed(
        uriText,
        "TLS misconfiguration - ca-cert is provided but jwks-uri URI scheme is http",
      );
    let response: { status: number; body: Buffer };
    try {
      response = await boundedGet(uri, {
        headers: Object.fromEntries(options.headers),
        ...(caCert ? { ca: caCert } : {}),
        signal: options.signal,
        maxBytes: MAX_JWKS_BYTES,
      });
    } catch (err) {
      const reason = options.signal.aborted ? "timed out" : (err as Error).message;
      throw failures.fetchJwksFailed(uriText, reason);
    }
    if (response.status < 200 || response.status > 299)
      throw failures.jwksHttpError(uriText, `HTTP ${response.status}`);
    let document: unknown;
    try {
      document = JSON.parse(response.body.toString("utf8"));
    } catch (err) {
      throw failures.jwksNotJson((err as Error).message);
    }
    const keys = (document as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys) || keys.length === 0) throw failures.jwksKeysMissing();
    return new Response(JSON.stringify(conjurKeySet(keys)), {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  };
}

/**
 * Reading an authn-jwt service's settings from its variables, with Conjur's rules and
 * messages: which signing-key source (signing_key_settings_builder.rb, public_signing_keys.rb),
 * the expected issuer (fetch_issuer_value.rb) and audience (fetch_audience_value.rb).
 */
import { isBlank } from "./claim-path.js";
import { failures } from "./failures.js";
import type { SigningKeySource } from "./signing-keys.js";
import type { ServiceVariables } from "./variables.js";

export function signingKeySource(vars: ServiceVariables): SigningKeySource {
  // Conjur reads all five first, so a configured-but-empty one fails before any rule.
  const jwksUri = vars.optional("jwks-uri");
  const publicKeys = vars.optional("public-keys");
  const providerUri = vars.optional("provider-uri");
  const caCert = vars.optional("ca-cert");
  const issuer = vars.optional("issuer");
  const defined = (v: string | undefined): boolean => v !== undefined;
  const [j, p, o] = [defined(jwksUri), defined(publicKeys), defined(providerUri)];
  if (!j && !p && !o)
    throw failures.signingKeySettings("One of the following must be defined: jwks-uri, public-keys, or provider-uri");
  if (j && p && o)
    throw failures.signingKeySettings("jwks-uri, public-keys, and provider-uri cannot be defined simultaneously");
  if (j && o) throw failures.signingKeySettings("jwks-uri and provider-uri cannot be defined simultaneously");
  if (j && p) throw failures.signingKeySettings("jwks-uri and public-keys cannot be defined simultaneously");
  if (p && o) throw failures.signingKeySettings("public-keys and provider-uri cannot be defined simultaneously");
  if (defined(caCert) && !j && !o)
    throw failures.signingKeySettings("ca-cert can only be defined together with jwks-uri or provider-uri");
  if (p && !defined(issuer)) throw failures.signingKeySettings("issuer is mandatory when public-keys is defined");
  if (o)
    throw failures.signingKeySettings(
      "provider-uri is not supported by this server; use jwks-uri with the provider's JWKS URL",
    );
  if (j) return { kind: "jwks-uri", uri: jwksUri!, caCert };
  return { kind: "public-keys", keys: parsePublicKeys(publicKeys!) };
}

/** `{"type":"jwks","value":{"keys":[…]}}` → the keys. */
export function parsePublicKeys(text: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw failures.invalidPublicKeys("Value not in valid JSON format");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw failures.invalidPublicKeys("Value not in valid JSON format");
  const { type, value } = parsed as { type?: unknown; value?: unknown };
  const problems: string[] = [];
  if (isBlank(type)) problems.push("Type can't be blank");
  if (isBlank(value)) problems.push("Value can't be blank");
  if (!isBlank(type) && type !== "jwks")
    problems.push(`Type '${String(type)}' is not a valid public-keys type. Valid types are: jwks`);
  const keys = (value as { keys?: unknown } | null | undefined)?.keys;
  if (type === "jwks" && !(Array.isArray(keys) && keys.length > 0))
    problems.push("Value is not a valid JWKS (RFC7517)");
  if (problems.length > 0) throw failures.invalidPublicKeys(toSentence(problems));
  return keys as unknown[];
}

/** Rails' `Array#to_sentence`. */
function toSentence(items: string[]): string {
  if (items.length <= 2) return items.join(" and ");
  return `${items.slice(0, -1).join(", ")}, and ${items[items.length - 1]}`;
}

/** The expected `iss`: the `issuer` variable, else the hostname of `jwks-uri`. */
export function issuerValue(vars: ServiceVariables): string {
  if (vars.has("issuer")) return vars.required("issuer");
  const hasJwks = vars.has("jwks-uri");
  const hasProvider = vars.has("provider-uri");
  if (hasJwks === hasProvider) throw failures.invalidIssuerConfiguration();
  if (hasProvider) return vars.required("provider-uri");
  const jwksUri = vars.required("jwks-uri");
  return hostnameOf(jwksUri);
}

/** Ruby's `URI.parse(uri).hostname`: IPv6 without brackets; relative URIs have none. */
function hostnameOf(uri: string): string {
  // Ruby's URI.parse refuses whitespace and control characters.
  if (/\s/.test(uri) || [...uri].some((c) => c.charCodeAt(0) < 0x20)) throw failures.invalidUri(uri);
  let hostname: string;
  try {
    hostname = new URL(uri).hostname;
  } catch {
    hostname = "";
  }
  hostname = hostname.replace(/^\[(.*)\]$/, "$1");
  if (hostname === "") throw failures.hostnameMissing(uri);
  return hostname;
}

/** The expected `aud`, or "" when no `audience` variable exists. */
export function audienceValue(vars: ServiceVariables): string {
  if (!vars.has("audience")) return "";
  const audience = vars.required("audience");
  if (isBlank(audience)) throw failures.audienceEmpty();
  return audience;
}

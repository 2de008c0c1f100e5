/**
 * The one place that reads flags and environment. Every setting has a flag and a
 * `STRONGROOM_*` environment twin; flags win. The result is validated and frozen.
 */
import {
  boundedSetting,
  ConfigError,
  helpOf,
  parseFlagsOf,
  readSetting,
  type Flags,
  type Setting,
} from "./settings-table.js";

export { boundedSetting, ConfigError, helpOf, parseFlagsOf, readSetting, type Flags, type Setting };
import { CLIENT_SETTINGS, ENVIRONMENT_ONLY, SETTINGS, STORAGE_SETTINGS } from "./server-settings.js";
export { CLIENT_SETTINGS, ENVIRONMENT_ONLY, SETTINGS, STORAGE_SETTINGS };
import {
  agentAuthenticator,
  agentResources,
  parseAuthenticators,
  parseTrustedProxies,
  type AgentResources,
} from "./config-values.js";

export { agentResources, parseAuthenticators, parseTrustedProxies, type AgentResources };

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly account: string;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly webhookPort: number | undefined;
  readonly controller: boolean;
  /** Namespace of the controller's leader-election Lease. */
  readonly namespace: string;
  /** Controller tunables (docs/adr/0017-operator-runtime.md). */
  readonly controllerConcurrency: number;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly retryBackoffBaseMs: number;
  readonly retryBackoffMaxMs: number;
  readonly watchStaleAfterMs: number;
  readonly podNudgesPerSecond: number;
  /** base64 of 32 bytes; undefined means "generate one in the data dir" (embedded only). */
  readonly dataKey: string | undefined;
  /** Decrypt-only data keys (base64), for a key rotation; see docs/adr/0012-data-key-rotation.md. */
  readonly previousDataKeys: readonly string[];
  /** Rows `data-key rotate` re-encrypts per transaction. */
  readonly rotateBatchSize: number;
  readonly tokenTtlSeconds: number;
  readonly bodyLimitBytes: number;
  readonly logLevel: string;
  readonly secretVersionsKept: number;
  /** Enabled authenticators (`authn`, `authn-jwt/<service_id>`), as Conjur's CONJUR_AUTHENTICATORS. */
  readonly authenticators: readonly string[];
  /** Append audit records (JSON lines) here as well as to the log; undefined = log only. */
  readonly auditFile: string | undefined;
  /** Failed authentications per role, and per client address, before answering 429; 0 = off. */
  readonly authnMaxFailures: number;
  readonly authnMaxFailuresPerAddress: number;
  readonly authnFailureWindowSeconds: number;
  /** Longest wait for a database connection, new or from the pool (then 503). */
  readonly dbConnectTimeoutMs: number;
  /** Longest a database statement may run: server statement_timeout and client-side wait (then 503). */
  readonly dbQueryTimeoutMs: number;
  readonly dbPoolSize: number;
  /** After SIGTERM: keep serving this long with /ready answering 503, then drain and stop. */
  readonly shutdownDelayMs: number;
  /** Kubernetes Secrets the server makes itself when absent (docs/adr/0009-server-made-keys.md). */
  readonly dataKeySecret: string | undefined;
  readonly webhookTlsSecret: string | undefined;
  readonly webhookConfig: string | undefined;
  readonly webhookCertDays: number;
  readonly adminKeySecret: string | undefined;
  /** Proxies (normalised CIDRs) besides 127.0.0.1 and ::1 whose X-Forwarded-For is believed, as Conjur's TRUSTED_PROXIES. */
  readonly trustedProxies: readonly string[];
  /** Long-poll watches (GET /secrets/watch) one server holds at a time; more are answered 503. */
  readonly maxWatchers: number;
  /** What the webhook injects for inject-mode agent/init; undefined image = those modes are refused. */
  readonly agent: {
    readonly image: string | undefined;
    readonly serverUrl: string | undefined;
    readonly audience: string;
    readonly authenticator: string;
    readonly caFile: string | undefined;
    readonly resources: AgentResources | undefined;
  };
  /** authn-kubernetes: how service-account tokens are verified (docs/adr/0019-authn-kubernetes.md). */
  readonly kubernetesAuthn: {
    readonly issuer: string;
    readonly audience: string;
    readonly jwksUri: string;
    /** PEM CA file trusted for the JWKS URI (only that CA); undefined = the system's CAs. */
    readonly jwksCaFile: string | undefined;
    /** Bearer token file sent with the JWKS request; undefined = no Authorization header. */
    readonly jwksTokenFile: string | undefined;
    /** Ask the API server about every token too (TokenReview). */
    readonly tokenReview: boolean;
  };
}

/** The in-cluster API server's JWKS, and the pod's own credentials that read it. */
import { IN_CLUSTER_JWKS_URI } from "./server-settings.js";
export { IN_CLUSTER_JWKS_URI };
const IN_CLUSTER_SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export const parseFlags = (
  argv: string[],
  only: string[] = Object.keys(SETTINGS),
): { flags: Flags; positionals: string[] } => parseFlagsOf(SETTINGS, argv, only);

export const helpFor = (only: string[] = Object.keys(SETTINGS)): string => helpOf(SETTINGS, only);

const raw = (key: string, flags: Flags, env: NodeJS.ProcessEnv): string | boolean | undefined =>
  readSetting(SETTINGS, key, flags, env);

function str(key: string, flags: Flags, env: NodeJS.ProcessEnv): string | undefined {
  const v = raw(key, flags, env);
  return typeof v === "string" ? v : undefined;
}

function int(key: string, flags: Flags, env: NodeJS.ProcessEnv, min: number, max: number): number | undefined {
  const v = str(key, flags, env);
  return v === undefined ? undefined : boundedSetting(SETTINGS[key]!, v, min, max);
}

/** A setting whose table entry has a default: always a value (an entry without one is a bug, said at once). */
function defaulted<T>(key: string, value: T | undefined): T {
  if (value === undefined) throw new ConfigError(`--${SETTINGS[key]?.flag ?? key} has no value and no default`);
  return value;
}
const strSet = (key: string, flags: Flags, env: NodeJS.ProcessEnv): string => defaulted(key, str(key, flags, env));
const intSet = (key: string, flags: Flags, env: NodeJS.ProcessEnv, min: number, max: number): number =>
  defaulted(key, int(key, flags, env, min, max));

export function validateAccountName(name: string): string {
  if (!/^[^\s:/?#]+$/.test(name)) {
    throw new ConfigError(
      `account name '${name}' is invalid: it may not be empty or contain spaces, ':', '/', '?' or '#'`,
    );
  }
  return name;
}

const isDataKey = (b64: string): boolean =>
  /^[A-Za-z0-9+/]+={0,2}$/.test(b64) && Buffer.from(b64, "base64").length === 32;

/** The decrypt-only key list: each the base64 of 32 bytes, no repeats. Messages never echo a key. */
export function parsePreviousDataKeys(list: string | undefined, current: string | undefined): readonly string[] {
  const keys = (list ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k !== "");
  if (keys.length > 254) throw new ConfigError("STRONGROOM_PREVIOUS_DATA_KEYS lists more than 254 keys");
  const seen = new Set<string>(current ? [Buffer.from(current, "base64").toString("hex")] : []);
  keys.forEach((key, i) => {
    if (!isDataKey(key))
      throw new ConfigError(`STRONGROOM_PREVIOUS_DATA_KEYS: entry ${i + 1} must be the base64 of exactly 32 bytes`);
    const raw = Buffer.from(key, "base64").toString("hex");
    if (seen.has(raw))
      throw new ConfigError(
        `STRONGROOM_PREVIOUS_DATA_KEYS: entry ${i + 1} repeats STRONGROOM_DATA_KEY or an earlier entry`,
      );
    seen.add(raw);
  });
  return Object.freeze(keys);
}

/** A Kubernetes object name (DNS-1123 subdomain), or undefined when the setting is absent. */
function secretName(key: string, flags: Flags, env: NodeJS.ProcessEnv): string | undefined {
  const v = str(key, flags, env);
  if (v !== undefined && !(v.length <= 253 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v))) {
    throw new ConfigError(
      `--${SETTINGS[key]!.flag} must be a Kubernetes object name (lower-case letters, digits, '-' and '.'), got '${v.slice(0, 80)}'`,
    );
  }
  return v;
}

/** authn-kubernetes settings; the pod's own CA and token are used only with the in-cluster JWKS URI (never sent elsewhere). */
function kubernetesAuthnSettings(flags: Flags, env: NodeJS.ProcessEnv): Config["kubernetesAuthn"] {
  const jwksUri = strSet("kubernetesJwksUri", flags, env);
  if (!/^https:\/\/[^\s]+$/.test(jwksUri) || jwksUri.length > 2048)
    throw new ConfigError(`--kubernetes-jwks-uri must be an https:// URL, got '${jwksUri.slice(0, 80)}'`);
  const issuer = strSet("kubernetesIssuer", flags, env);
  const audience = strSet("kubernetesAudience", flags, env);
  if (issuer.length > 2048 || audience.length > 2048)
    throw new ConfigError("--kubernetes-issuer and --kubernetes-audience are at most 2048 characters");
  const inCluster = jwksUri === IN_CLUSTER_JWKS_URI;
  return Object.freeze({
    issuer,
    audience,
    jwksUri,
    jwksCaFile: str("kubernetesJwksCaFile", flags, env) ?? (inCluster ? `${IN_CLUSTER_SA_DIR}/ca.crt` : undefined),
    jwksTokenFile: str("kubernetesJwksTokenFile", flags, env) ?? (inCluster ? `${IN_CLUSTER_SA_DIR}/token` : undefined),
    tokenReview: raw("kubernetesTokenReview", flags, env) === true,
  });
}

function controllerTunables(flags: Flags, env: NodeJS.ProcessEnv) {
  const leaseDurationMs = intSet("leaseDuration", flags, env, 2, 3600) * 1000;
  const renewDeadlineMs = intSet("renewDeadline", flags, env, 1, 3600) * 1000;
  const retryPeriodMs = intSet("retryPeriod", flags, env, 1, 600) * 1000;
  if (renewDeadlineMs >= leaseDurationMs)
    throw new ConfigError(
      "--renew-deadline must be less than --lease-duration (a leader must stop before others may take over)",
    );
  if (renewDeadlineMs <= retryPeriodMs * 1.2)
    throw new ConfigError("--renew-deadline must be more than 1.2 × --retry-period");
  const retryBackoffBaseMs = intSet("retryBackoffBase", flags, env, 1, 600_000);
  const retryBackoffMaxMs = intSet("retryBackoffMax", flags, env, 1, 3_600_000);
  if (retryBackoffMaxMs < retryBackoffBaseMs)
    throw new ConfigError("--retry-backoff-max must be at least --retry-backoff-base");
  return {
    controllerConcurrency: intSet("controllerConcurrency", flags, env, 1, 256),
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    retryBackoffBaseMs,
    retryBackoffMaxMs,
    watchStaleAfterMs: intSet("watchStaleAfter", flags, env, 1, 86_400) * 1000,
    podNudgesPerSecond: intSet("podNudgeRate", flags, env, 1, 10_000),
  };
}

export function loadConfig(flags: Flags, env: NodeJS.ProcessEnv = process.env): Config {
  const tlsCert = str("tlsCert", flags, env);
  const tlsKey = str("tlsKey", flags, env);
  if (Boolean(tlsCert) !== Boolean(tlsKey)) throw new ConfigError("--tls-cert and --tls-key must be given together");
  const webhookPort = int("webhookPort", flags, env, 0, 65535);
  const webhookTlsSecret = secretName("webhookTlsSecret", flags, env);
  if (webhookTlsSecret && tlsCert)
    throw new ConfigError("--webhook-tls-secret and --tls-cert are alternatives: give one");
  const webhookConfig = secretName("webhookConfig", flags, env);
  if (webhookTlsSecret && !webhookConfig)
    throw new ConfigError(
      "--webhook-tls-secret needs --webhook-config (the MutatingWebhookConfiguration to put the CA in)",
    );
  if (webhookPort !== undefined && !tlsCert && !webhookTlsSecret)
    throw new ConfigError(
      "--webhook-port needs --tls-cert and --tls-key, or --webhook-tls-secret (admission webhooks are HTTPS only)",
    );
  const dataKeySecret = secretName("dataKeySecret", flags, env);
  const databaseUrl = str("databaseUrl", flags, env);
  const dataKey = env.STRONGROOM_DATA_KEY?.trim() || undefined;
  if (dataKeySecret && env.STRONGROOM_DATA_KEY?.trim())
    throw new ConfigError("STRONGROOM_DATA_KEY and --data-key-secret are alternatives: give one");
  if (databaseUrl && !dataKey && !dataKeySecret)
    throw new ConfigError(
      "STRONGROOM_DATA_KEY is required with an external database (generate one: strongroom data-key generate)",
    );
  if (dataKey && !isDataKey(dataKey))
    throw new ConfigError("STRONGROOM_DATA_KEY must be the base64 of exactly 32 bytes");
  const previousDataKeys = parsePreviousDataKeys(str("previousDataKeys", flags, env), dataKey);
  return Object.freeze({
    port: intSet("port", flags, env, 0, 65535),
    host: strSet("host", flags, env),
    dataDir: strSet("dataDir", flags, env),
    databaseUrl,
    account: validateAccountName(strSet("account", flags, env)),
    tlsCert,
    tlsKey,
    webhookPort,
    controller: raw("controller", flags, env) === true,
    namespace: strSet("namespace", flags, env),
    ...controllerTunables(flags, env),
    dataKey,
    previousDataKeys,
    rotateBatchSize: intSet("rotateBatchSize", flags, env, 1, 10_000),
    tokenTtlSeconds: intSet("tokenTtl", flags, env, 1, 18000),
    bodyLimitBytes: intSet("bodyLimit", flags, env, 1, 1024 * 1024 * 1024),
    logLevel: strSet("logLevel", flags, env),
    secretVersionsKept: 20,
    authenticators: parseAuthenticators(str("authenticators", flags, env) ?? env.CONJUR_AUTHENTICATORS),
    auditFile: str("auditFile", flags, env),
    authnMaxFailures: intSet("authnMaxFailures", flags, env, 0, 1_000_000),
    authnMaxFailuresPerAddress: intSet("authnMaxFailuresPerAddress", flags, env, 0, 1_000_000),
    authnFailureWindowSeconds: intSet("authnFailureWindow", flags, env, 1, 86_400),
    dbConnectTimeoutMs: intSet("dbConnectTimeout", flags, env, 100, 600_000),
    dbQueryTimeoutMs: intSet("dbQueryTimeout", flags, env, 100, 3_600_000),
    shutdownDelayMs: intSet("shutdownDelay", flags, env, 0, 300) * 1000,
    dbPoolSize: intSet("dbPoolSize", flags, env, 1, 1000),
    dataKeySecret,
    webhookTlsSecret,
    webhookConfig,
    webhookCertDays: intSet("webhookCertDays", flags, env, 1, 36_500),
    adminKeySecret: secretName("adminKeySecret", flags, env),
    trustedProxies: parseTrustedProxies(
      str("trustedProxies", flags, env) ?? env.TRUSTED_PROXIES ?? env.CONJUR_TRUSTED_PROXIES,
    ),
    maxWatchers: intSet("maxWatchers", flags, env, 0, 1_000_000),
    agent: Object.freeze({
      image: str("agentImage", flags, env),
      serverUrl: str("agentServerUrl", flags, env),
      audience: strSet("agentAudience", flags, env),
      authenticator: agentAuthenticator(strSet("agentAuthenticator", flags, env)),
      caFile: str("agentCaFile", flags, env),
      resources: agentResources(str("agentResources", flags, env)),
    }),
    kubernetesAuthn: kubernetesAuthnSettings(flags, env),
  });
}

/** Settings of the client commands (`policy`, `secret`) that talk to a running server. */
export interface ClientConfig {
  readonly url: string;
  readonly account: string;
  readonly login: string;
  readonly apiKey: string;
}

/** The client commands' settings (`policy`, `secret`): flag, env twin, default. */
export function loadClientConfig(flags: Flags, env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const pick = (key: string): string => {
    const s = CLIENT_SETTINGS[key]!;
    const v = flags[s.flag];
    return typeof v === "string" && v !== "" ? v : env[s.env] || s.default!;
  };
  const apiKey = env.STRONGROOM_API_KEY?.trim();
  if (!apiKey) throw new ConfigError("STRONGROOM_API_KEY is required (the API key of --login)");
  const url = pick("url").replace(/\/+$/, "");
  if (!/^https?:\/\//.test(url)) throw new ConfigError(`--url must start with http:// or https://, got '${url}'`);
  return Object.freeze({ url, account: validateAccountName(pick("account")), login: pick("login"), apiKey });
}

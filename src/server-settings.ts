/**
 * The settings tables (the server's, the client commands', the storage commands' share, and
 * the environment-only variables). The server's table: every flag, its STRONGROOM_* environment twin, default and help.
 * It is the source of `--help` and of docs/configuration.md (npm run docs:config); config.ts
 * reads and validates it into the frozen Config.
 */
import type { Setting } from "./settings-table.js";

export const IN_CLUSTER_JWKS_URI = "https://kubernetes.default.svc/openid/v1/jwks";

/** The settings table: also the source of `--help` and of the README's configuration table. */
export const SETTINGS: Record<string, Setting> = {
  port: { flag: "port", env: "STRONGROOM_PORT", type: "string", default: "8080", help: "REST API port" },
  host: { flag: "host", env: "STRONGROOM_HOST", type: "string", default: "0.0.0.0", help: "address to listen on" },
  dataDir: {
    flag: "data-dir",
    env: "STRONGROOM_DATA_DIR",
    type: "string",
    default: "./.strongroom",
    help: "embedded Postgres and generated data key live here",
  },
  databaseUrl: {
    flag: "database-url",
    env: "DATABASE_URL",
    type: "string",
    help: "external PostgreSQL URL (embedded Postgres when absent)",
  },
  account: {
    flag: "account",
    env: "STRONGROOM_ACCOUNT",
    type: "string",
    default: "default",
    help: "account to create if missing (and the controller's account)",
  },
  tlsCert: {
    flag: "tls-cert",
    env: "STRONGROOM_TLS_CERT",
    type: "string",
    help: "PEM certificate: serve HTTPS (required for the webhook)",
  },
  tlsKey: { flag: "tls-key", env: "STRONGROOM_TLS_KEY", type: "string", help: "PEM private key matching --tls-cert" },
  webhookPort: {
    flag: "webhook-port",
    env: "STRONGROOM_WEBHOOK_PORT",
    type: "string",
    help: "serve the admission webhook (HTTPS) on this port",
  },
  controller: {
    flag: "controller",
    env: "STRONGROOM_CONTROLLER",
    type: "boolean",
    help: "run the Kubernetes controller (KUBECONFIG or in-cluster)",
  },
  namespace: {
    flag: "namespace",
    env: "STRONGROOM_NAMESPACE",
    type: "string",
    default: "default",
    help: "namespace of the controller's leader-election Lease and of the server's own Secrets",
  },
  controllerConcurrency: {
    flag: "controller-concurrency",
    env: "STRONGROOM_CONTROLLER_CONCURRENCY",
    type: "string",
    default: "8",
    help: "controller: reconciles run at once",
  },
  leaseDuration: {
    flag: "lease-duration",
    env: "STRONGROOM_LEASE_DURATION",
    type: "string",
    default: "15",
    help: "controller: seconds a candidate waits, by its own clock, after the Lease last changed before taking it",
  },
  renewDeadline: {
    flag: "renew-deadline",
    env: "STRONGROOM_RENEW_DEADLINE",
    type: "string",
    default: "10",
    help: "controller: seconds the leader keeps retrying a renewal before it stops all work (below --lease-duration)",
  },
  retryPeriod: {
    flag: "retry-period",
    env: "STRONGROOM_RETRY_PERIOD",
    type: "string",
    default: "2",
    help: "controller: seconds between leader-election attempts and renewals",
  },
  retryBackoffBase: {
    flag: "retry-backoff-base",
    env: "STRONGROOM_RETRY_BACKOFF_BASE",
    type: "string",
    default: "250",
    help: "controller: ms before the first retry of a failed reconcile; doubles per failure",
  },
  retryBackoffMax: {
    flag: "retry-backoff-max",
    env: "STRONGROOM_RETRY_BACKOFF_MAX",
    type: "string",
    default: "30000",
    help: "controller: longest ms between retries of a failing reconcile",
  },
  watchStaleAfter: {
    flag: "watch-stale-after",
    env: "STRONGROOM_WATCH_STALE_AFTER",
    type: "string",
    default: "120",
    help: "controller: seconds of pod-watch silence after which /health/controller reports unhealthy",
  },
  podNudgeRate: {
    flag: "pod-nudge-rate",
    env: "STRONGROOM_POD_NUDGE_RATE",
    type: "string",
    default: "50",
    help: "controller: pod annotations per second written after a rotation to make kubelets re-sync at once",
  },
  tokenTtl: {
    flag: "token-ttl",
    env: "STRONGROOM_TOKEN_TTL",
    type: "string",
    default: "480",
    help: "access token lifetime in seconds (max 18000)",
  },
  bodyLimit: {
    flag: "body-limit",
    env: "STRONGROOM_BODY_LIMIT",
    type: "string",
    default: "1048576",
    help: "largest request body in bytes",
  },
  logLevel: { flag: "log-level", env: "STRONGROOM_LOG_LEVEL", type: "string", default: "info", help: "pino log level" },
  // No table default: an unset value falls back to CONJUR_AUTHENTICATORS, then `authn`.
  authenticators: {
    flag: "authenticators",
    env: "STRONGROOM_AUTHENTICATORS",
    type: "string",
    help: "comma-separated enabled authenticators, e.g. authn,authn-jwt/k8s (default authn; CONJUR_AUTHENTICATORS also read)",
  },
  previousDataKeys: {
    flag: "previous-data-keys",
    env: "STRONGROOM_PREVIOUS_DATA_KEYS",
    type: "string",
    help: "comma-separated base64 data keys that only decrypt, during a key rotation (prefer the env: flags show in ps)",
  },
  rotateBatchSize: {
    flag: "batch-size",
    env: "STRONGROOM_ROTATE_BATCH_SIZE",
    type: "string",
    default: "500",
    help: "data-key rotate: rows re-encrypted per transaction",
  },
  auditFile: {
    flag: "audit-file",
    env: "STRONGROOM_AUDIT_FILE",
    type: "string",
    help: "also append audit records (JSON lines, mode 0600) to this file; requests fail if it cannot be written",
  },
  authnMaxFailures: {
    flag: "authn-max-failures",
    env: "STRONGROOM_AUTHN_MAX_FAILURES",
    type: "string",
    default: "10",
    help: "failed authentications per role per window before 429 (0 = off)",
  },
  authnMaxFailuresPerAddress: {
    flag: "authn-max-failures-per-address",
    env: "STRONGROOM_AUTHN_MAX_FAILURES_PER_ADDRESS",
    type: "string",
    default: "100",
    help: "failed authentications per client address per window before 429 (0 = off)",
  },
  authnFailureWindow: {
    flag: "authn-failure-window",
    env: "STRONGROOM_AUTHN_FAILURE_WINDOW",
    type: "string",
    default: "300",
    help: "seconds failures are counted and a throttled role or address waits",
  },
  dbConnectTimeout: {
    flag: "db-connect-timeout",
    env: "STRONGROOM_DB_CONNECT_TIMEOUT",
    type: "string",
    default: "5000",
    help: "ms to wait for a database connection (new or pooled) before answering 503",
  },
  dbPoolSize: {
    flag: "db-pool-size",
    env: "STRONGROOM_DB_POOL_SIZE",
    type: "string",
    default: "10",
    help: "database connections per server process (more than Postgres has cores queues work in Postgres instead of here)",
  },
  dbQueryTimeout: {
    flag: "db-query-timeout",
    env: "STRONGROOM_DB_QUERY_TIMEOUT",
    type: "string",
    default: "15000",
    help: "ms a database statement may take (server and client side) before answering 503",
  },
  shutdownDelay: {
    flag: "shutdown-delay",
    env: "STRONGROOM_SHUTDOWN_DELAY",
    type: "string",
    default: "0",
    help: "seconds to keep serving after SIGTERM, /ready answering 503, before closing the listener (so Service endpoints and load balancers stop sending first; the chart sets 5)",
  },
  dataKeySecret: {
    flag: "data-key-secret",
    env: "STRONGROOM_DATA_KEY_SECRET",
    type: "string",
    help: "take the data key from this Kubernetes Secret in --namespace, creating it when absent (never overwritten)",
  },
  webhookTlsSecret: {
    flag: "webhook-tls-secret",
    env: "STRONGROOM_WEBHOOK_TLS_SECRET",
    type: "string",
    help: "serve HTTPS with a CA and certificate kept in this Secret, made when absent (instead of --tls-cert)",
  },
  webhookConfig: {
    flag: "webhook-config",
    env: "STRONGROOM_WEBHOOK_CONFIG",
    type: "string",
    help: "MutatingWebhookConfiguration whose caBundle the server keeps set (with --webhook-tls-secret)",
  },
  webhookCertDays: {
    flag: "webhook-cert-days",
    env: "STRONGROOM_WEBHOOK_CERT_DAYS",
    type: "string",
    default: "3650",
    help: "validity of a certificate made for --webhook-tls-secret",
  },
  trustedProxies: {
    flag: "trusted-proxies",
    env: "STRONGROOM_TRUSTED_PROXIES",
    type: "string",
    help: "comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For names the client (127.0.0.1 and ::1 always; TRUSTED_PROXIES also read)",
  },
  agentImage: {
    flag: "agent-image",
    env: "STRONGROOM_AGENT_IMAGE",
    type: "string",
    help: "webhook: image of the injected agent (inject-mode agent|init); usually the server's own image",
  },
  agentServerUrl: {
    flag: "agent-server-url",
    env: "STRONGROOM_AGENT_SERVER_URL",
    type: "string",
    help: "webhook: server URL the injected agent calls, e.g. https://strongroom.strongroom.svc:8080",
  },
  agentAudience: {
    flag: "agent-audience",
    env: "STRONGROOM_AGENT_AUDIENCE",
    type: "string",
    default: "strongroom",
    help: "webhook: audience of the agent's projected service-account token",
  },
  agentAuthenticator: {
    flag: "agent-authenticator",
    env: "STRONGROOM_AGENT_AUTHENTICATOR",
    type: "string",
    default: "authn-kubernetes",
    help: "webhook: how the injected agent logs in: authn-kubernetes, or authn-jwt/<service-id>",
  },
  agentCaFile: {
    flag: "agent-ca-file",
    env: "STRONGROOM_AGENT_CA_FILE",
    type: "string",
    help: "webhook: PEM CA the injected agent trusts for --agent-server-url (default: the CA the server made for --webhook-tls-secret)",
  },
  agentResources: {
    flag: "agent-resources",
    env: "STRONGROOM_AGENT_RESOURCES",
    type: "string",
    help: 'webhook: the injected agent\'s resources as JSON, e.g. {"requests":{"cpu":"10m","memory":"48Mi"},"limits":{"memory":"128Mi"}}',
  },
  kubernetesIssuer: {
    flag: "kubernetes-issuer",
    env: "STRONGROOM_KUBERNETES_ISSUER",
    type: "string",
    default: "https://kubernetes.default.svc.cluster.local",
    help: "authn-kubernetes: the cluster's service-account token issuer (kube-apiserver --service-account-issuer)",
  },
  kubernetesAudience: {
    flag: "kubernetes-audience",
    env: "STRONGROOM_KUBERNETES_AUDIENCE",
    type: "string",
    default: "strongroom",
    help: "authn-kubernetes: audience service-account tokens must carry (the agent's projected token audience)",
  },
  kubernetesTokenReview: {
    flag: "kubernetes-token-review",
    env: "STRONGROOM_KUBERNETES_TOKEN_REVIEW",
    type: "boolean",
    help: "authn-kubernetes: also ask the API server (TokenReview, KUBECONFIG or in-cluster) whether each token is still good, so a deleted ServiceAccount's or pod's token is refused before it expires (the chart sets it)",
  },
  kubernetesJwksUri: {
    flag: "kubernetes-jwks-uri",
    env: "STRONGROOM_KUBERNETES_JWKS_URI",
    type: "string",
    default: IN_CLUSTER_JWKS_URI,
    help: "authn-kubernetes: JWKS of the issuer; the default is read with the pod's own token and CA",
  },
  kubernetesJwksCaFile: {
    flag: "kubernetes-jwks-ca-file",
    env: "STRONGROOM_KUBERNETES_JWKS_CA_FILE",
    type: "string",
    help: "authn-kubernetes: PEM CA trusted for the JWKS URI (default: the pod's service-account CA with the default URI, else the system CAs)",
  },
  kubernetesJwksTokenFile: {
    flag: "kubernetes-jwks-token-file",
    env: "STRONGROOM_KUBERNETES_JWKS_TOKEN_FILE",
    type: "string",
    help: "authn-kubernetes: bearer token file for the JWKS request (default: the pod's service-account token with the default URI, else none)",
  },
  maxWatchers: {
    flag: "max-watchers",
    env: "STRONGROOM_MAX_WATCHERS",
    type: "string",
    default: "50000",
    help:
      "watches (GET /secrets/watch, streams or long-polls, used by agents) held at a time; more get 503 " +
      "(each costs about 10–18 KB of server memory: bench/README.md)",
  },
  adminKeySecret: {
    flag: "admin-key-secret",
    env: "STRONGROOM_ADMIN_KEY_SECRET",
    type: "string",
    help: "write a new account's admin API key to this Secret instead of printing it",
  },
};

export const CLIENT_SETTINGS: Record<string, Setting> = {
  url: { flag: "url", env: "STRONGROOM_URL", type: "string", default: "http://localhost:8080", help: "server URL" },
  account: { flag: "account", env: "STRONGROOM_ACCOUNT", type: "string", default: "default", help: "account" },
  login: {
    flag: "login",
    env: "STRONGROOM_LOGIN",
    type: "string",
    default: "admin",
    help: "login to authenticate as (hosts as host/<id>)",
  },
};

/** Settings of every command that touches storage, besides `server` (which takes them all). */
export const STORAGE_SETTINGS = [
  "dataDir",
  "databaseUrl",
  "logLevel",
  "dbConnectTimeout",
  "dbQueryTimeout",
  "dataKeySecret",
  "namespace",
];

/** Environment variables that have no flag (keys never go on a command line: flags show in ps). */
export const ENVIRONMENT_ONLY = {
  dataKey: {
    env: "STRONGROOM_DATA_KEY",
    help: "the data key, base64 of 32 bytes (required with --database-url; generated into --data-dir when absent)",
  },
  apiKey: { env: "STRONGROOM_API_KEY", help: "the API key of --login (required by the client commands)" },
  extraCa: { env: "NODE_EXTRA_CA_CERTS", help: "PEM file of a private CA, for an https:// --url" },
} as const;

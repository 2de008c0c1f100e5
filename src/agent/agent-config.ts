/**
 * Settings of `strongroom agent` (the in-pod agent the webhook injects). Every setting has a
 * flag and a STRONGROOM_* env twin, flags win; the webhook sets the env.
 */
import { boundedSetting, ConfigError, helpOf, parseFlagsOf, readSetting, type Setting } from "../settings-table.js";
import { RenderError } from "../render/errors.js";
import { fileNameProblem } from "../render/file-name.js";
import { buildFileSpec, type FileAnnotations, type FileSpec } from "../render/file-spec.js";

export interface AgentConfig {
  readonly url: string;
  readonly account: string;
  /**
   * How to log in with the token: `authn-kubernetes` (POST /authn-kubernetes/<account>[/<login>]/authenticate,
   * no policy beyond the host) or `authn-jwt/<service-id>` (Conjur's authn-jwt, with its policy).
   */
  readonly authenticator: string;
  /** Login in the URL (`host/<id>`); undefined = the token's default host (authn-jwt: token-app-property). */
  readonly login: string | undefined;
  readonly tokenFile: string;
  readonly caFile: string | undefined;
  /** PEM CA given inline (the webhook sets it); used when caFile is absent. */
  readonly caPem: string | undefined;
  readonly dir: string;
  readonly files: readonly FileSpec[];
  readonly once: boolean;
  readonly healthPort: number;
  readonly watchTimeoutSeconds: number;
  readonly backoffMaxMs: number;
  readonly logLevel: string;
}

export const AGENT_SETTINGS: Record<string, Setting> = {
  url: {
    flag: "url",
    env: "STRONGROOM_URL",
    type: "string",
    help: "server URL, e.g. https://strongroom.strongroom.svc:8080",
  },
  account: { flag: "account", env: "STRONGROOM_ACCOUNT", type: "string", default: "default", help: "account" },
  authenticator: {
    flag: "authenticator",
    env: "STRONGROOM_AUTHENTICATOR",
    type: "string",
    default: "authn-kubernetes",
    help: "authn-kubernetes (the pod's own host, no extra policy) or authn-jwt/<service-id>",
  },
  login: {
    flag: "login",
    env: "STRONGROOM_LOGIN",
    type: "string",
    help: "login in the authenticate URL (host/<id>); absent = kubernetes/<ns>/<sa> (authn-jwt: the service's token-app-property)",
  },
  tokenFile: {
    flag: "token-file",
    env: "STRONGROOM_TOKEN_FILE",
    type: "string",
    default: "/var/run/secrets/strongroom/token/token",
    help: "projected service-account token (re-read at every authentication)",
  },
  caFile: {
    flag: "ca-file",
    env: "STRONGROOM_CA_FILE",
    type: "string",
    help: "PEM CA to trust for the server's certificate",
  },
  caPem: {
    flag: "ca-pem",
    env: "STRONGROOM_CA_PEM",
    type: "string",
    help: "PEM CA to trust, inline (the webhook passes the server's CA this way)",
  },
  dir: {
    flag: "dir",
    env: "STRONGROOM_AGENT_DIR",
    type: "string",
    default: "/var/run/secrets/strongroom",
    help: "directory the files are written to",
  },
  files: {
    flag: "files",
    env: "STRONGROOM_AGENT_FILES",
    type: "string",
    help: 'JSON {"<file>": {"secret"|"secrets", "format", "template", "mode"}} (the pod annotations)',
  },
  once: {
    flag: "once",
    env: "STRONGROOM_AGENT_ONCE",
    type: "boolean",
    help: "write the files once and exit (init containers)",
  },
  healthPort: {
    flag: "health-port",
    env: "STRONGROOM_AGENT_HEALTH_PORT",
    type: "string",
    default: "8099",
    help: "port of /health (ready after the first write) and /metrics",
  },
  watchTimeout: {
    flag: "watch-timeout",
    env: "STRONGROOM_AGENT_WATCH_TIMEOUT",
    type: "string",
    default: "300",
    help:
      "seconds between the change stream's heartbeats (a safety net that re-checks: changes come at once; " +
      "CyberArk's Secrets Provider refreshes every 5 minutes)",
  },
  backoffMax: {
    flag: "backoff-max",
    env: "STRONGROOM_AGENT_BACKOFF_MAX",
    type: "string",
    default: "30000",
    help: "longest wait (ms) between retries while the server is unreachable",
  },
  logLevel: { flag: "log-level", env: "STRONGROOM_LOG_LEVEL", type: "string", default: "info", help: "pino log level" },
};

export const agentHelp = (): string => helpOf(AGENT_SETTINGS);

/** The webhook's JSON: file name → that file's annotations. Validated with the same rules as the webhook. */
export function parseAgentFiles(json: string): FileSpec[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new ConfigError("--files must be JSON");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed) || Object.keys(parsed).length === 0)
    throw new ConfigError("--files must be a non-empty JSON object of file name → annotations");
  return Object.entries(parsed as Record<string, FileAnnotations>).map(([file, annotations]) => {
    const problem = fileNameProblem(file);
    if (problem) throw new ConfigError(`--files: ${problem}`);
    try {
      return buildFileSpec(file, annotations);
    } catch (err) {
      if (err instanceof RenderError) throw new ConfigError(`--files: ${err.message}`);
      throw err;
    }
  });
}

export function loadAgentConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentConfig | "help" {
  const values = parseFlagsOf(AGENT_SETTINGS, argv, Object.keys(AGENT_SETTINGS), false).flags;
  if (values.help) return "help";
  const get = (key: string): string | boolean | undefined => readSetting(AGENT_SETTINGS, key, values, env);
  const str = (key: string): string | undefined => (typeof get(key) === "string" ? (get(key) as string) : undefined);
  const int = (key: string, min: number, max: number): number =>
    boundedSetting(AGENT_SETTINGS[key]!, str(key)!, min, max);
  const url = str("url")?.replace(/\/+$/, "");
  if (!url || !/^https?:\/\//.test(url))
    throw new ConfigError("--url (STRONGROOM_URL) is required and must start with http:// or https://");
  const authenticator = str("authenticator")!;
  if (authenticator !== "authn-kubernetes" && !/^authn-jwt\/[^\s/.?#%]{1,200}$/.test(authenticator))
    throw new ConfigError(
      `--authenticator must be authn-kubernetes or authn-jwt/<service-id>, got '${authenticator.slice(0, 80)}'`,
    );
  const files = str("files");
  if (!files) throw new ConfigError("--files (STRONGROOM_AGENT_FILES) is required");
  return Object.freeze({
    url,
    account: str("account")!,
    authenticator,
    login: str("login"),
    tokenFile: str("tokenFile")!,
    caFile: str("caFile"),
    caPem: str("caPem"),
    dir: str("dir")!,
    files: parseAgentFiles(files),
    once: get("once") === true,
    healthPort: int("healthPort", 0, 65535),
    watchTimeoutSeconds: int("watchTimeout", 1, 300),
    backoffMaxMs: int("backoffMax", 100, 600_000),
    logLevel: str("logLevel")!,
  });
}

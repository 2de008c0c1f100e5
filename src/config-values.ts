/**
 * The list- and JSON-valued settings, parsed and bounded: authenticators, trusted proxies, the
 * agent's resources and authenticator. Pure; config.ts calls them (and re-exports them).
 */
import { normalizeCidr } from "./authn/cidr.js";
import { ConfigError } from "./settings-table.js";

/** Conjur's CONJUR_AUTHENTICATORS: comma-separated, stripped, de-duplicated; empty means `authn`. */
export function parseAuthenticators(value: string | undefined): string[] {
  const names = [
    ...new Set(
      (value ?? "")
        .split(",")
        .map((name) => name.trim())
        .filter((name) => name !== ""),
    ),
  ];
  const bad = names.find((name) => !/^authn(-[a-z0-9]+)?(\/[^\s/.?#%]{1,200})?$/.test(name));
  if (bad !== undefined)
    throw new ConfigError(
      `--authenticators: '${bad.slice(0, 80)}' is not an authenticator name such as authn or authn-jwt/<service-id>`,
    );
  if (names.some((name) => name.startsWith("authn-kubernetes/")))
    throw new ConfigError(
      "--authenticators: authn-kubernetes takes no service id (its settings are the --kubernetes-* flags)",
    );
  return names.length > 0 ? names : ["authn"];
}

/** Conjur's TRUSTED_PROXIES: comma-separated IPs or CIDRs, each normalised (`10.0.0.1` → `10.0.0.1/32`). */
export function parseTrustedProxies(value: string | undefined): readonly string[] {
  const entries = (value ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (entries.length > 256) throw new ConfigError("--trusted-proxies lists more than 256 entries");
  return Object.freeze(
    entries.map((entry) => {
      const parsed = normalizeCidr(entry);
      if ("error" in parsed) throw new ConfigError(`--trusted-proxies: ${parsed.error}`);
      return parsed.cidr;
    }),
  );
}

/** A container's requests/limits: quantities by resource name. */
export type AgentResources = {
  readonly requests?: Readonly<Record<string, string>>;
  readonly limits?: Readonly<Record<string, string>>;
};

/** `--agent-resources`: JSON `{requests?, limits?}` of Kubernetes quantities; bounded, shape-checked. */
export function agentResources(json: string | undefined): AgentResources | undefined {
  if (json === undefined) return undefined;
  const fail = (why: string): never => {
    throw new ConfigError(
      `--agent-resources ${why}, e.g. {"requests":{"cpu":"10m","memory":"48Mi"},"limits":{"memory":"128Mi"}}`,
    );
  };
  if (json.length > 4096) fail("is longer than 4096 characters");
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    fail("must be JSON");
  }
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isMap(parsed) || Object.keys(parsed).some((k) => k !== "requests" && k !== "limits"))
    fail("must be an object with requests and/or limits");
  for (const part of Object.values(parsed as Record<string, unknown>)) {
    if (!isMap(part)) fail("requests and limits must be objects");
    for (const [name, quantity] of Object.entries(part as Record<string, unknown>)) {
      if (
        !/^[a-z0-9./-]{1,63}$/.test(name) ||
        typeof quantity !== "string" ||
        !/^[0-9.]+([eE][0-9]+|[numkKMGTPE]i?)?$/.test(quantity)
      )
        fail(`has an invalid entry '${name.slice(0, 40)}'`);
    }
  }
  return Object.freeze(parsed as AgentResources);
}

/** `--agent-authenticator`: authn-kubernetes (no policy of its own) or an authn-jwt service. */
export function agentAuthenticator(value: string): string {
  if (value === "authn-kubernetes" || /^authn-jwt\/[^\s/.?#%]{1,200}$/.test(value)) return value;
  throw new ConfigError(
    `--agent-authenticator must be authn-kubernetes or authn-jwt/<service-id>, got '${value.slice(0, 80)}'`,
  );
}

/**
 * The two places `strongroom server` asks Kubernetes for key material, as small functions the
 * composition root calls: both are no-ops unless their setting names a Secret.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Config } from "../../config.js";
import { kubernetesBootstrap } from "./index.js";

/** How often a running server re-checks the caBundle (a re-created configuration loses it). */
const CA_BUNDLE_CHECK_MS = 60_000;

export interface ServerMadeTls {
  tls: { cert: Buffer; key: Buffer };
  /** The CA that signed it: injected agents trust it for the REST API. */
  caPem: string;
  stop(): void;
}

export async function serverMadeTls(
  config: Config,
  log: Logger,
  kubeConfig: KubeConfig | undefined,
): Promise<ServerMadeTls | undefined> {
  if (!config.webhookTlsSecret || !config.webhookConfig) return undefined;
  const boot = kubernetesBootstrap({ namespace: config.namespace, log, ...(kubeConfig ? { kubeConfig } : {}) });
  const tls = await boot.webhookTls({
    secretName: config.webhookTlsSecret,
    configName: config.webhookConfig,
    validityDays: config.webhookCertDays,
  });
  const stop = boot.keepCaBundle(config.webhookConfig, tls.caPem, CA_BUNDLE_CHECK_MS);
  return { tls: { cert: Buffer.from(tls.certPem), key: Buffer.from(tls.keyPem) }, caPem: tls.caPem, stop };
}

/** Where a new account's admin key goes instead of stdout; undefined keeps the printed line. */
export function initialAdminKeySink(
  config: Config,
  log: Logger,
  kubeConfig: KubeConfig | undefined,
): ((apiKey: string) => Promise<void>) | undefined {
  const secretName = config.adminKeySecret;
  if (!secretName) return undefined;
  const boot = kubernetesBootstrap({ namespace: config.namespace, log, ...(kubeConfig ? { kubeConfig } : {}) });
  return (apiKey) => boot.saveInitialAdminKey(secretName, config.account, apiKey);
}

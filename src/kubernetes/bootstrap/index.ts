/**
 * What `strongroom server` needs from Kubernetes before it can serve, in the chart's
 * deployment: the data key, the webhook's certificate (with the caBundle patched), and a
 * place for the initial admin key other than the log. Each part is used only when its
 * setting names a Secret or configuration; see docs/adr/0009-server-made-keys.md.
 */
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import { defaultKubeConfig, statusMessage } from "../api/kube-client.js";
import { saveInitialAdminKey } from "./admin-key-secret.js";
import type { ServingCertificate } from "./certificates.js";
import { ensureDataKeySecret } from "./data-key-secret.js";
import { kubeSecretStore } from "./kube-secret-store.js";
import { kubeWebhookConfigApi } from "./kube-webhook-config.js";
import { BootstrapError, NotReadyError, type SecretStore } from "./secret-store.js";
import { ensureCaBundle, ensureWebhookTls, type WebhookConfigApi } from "./webhook-tls.js";
import { backoffMs } from "../../retry/backoff.js";

export { BootstrapError };
export type { ServingCertificate };

export interface KubernetesBootstrap {
  dataKey(secretName: string, mayCreate: () => Promise<boolean>): Promise<string>;
  webhookTls(opts: { secretName: string; configName: string; validityDays: number }): Promise<ServingCertificate>;
  /** Re-applies the caBundle periodically (the configuration may be re-created); returns a stop function. */
  keepCaBundle(configName: string, caPem: string, intervalMs: number): () => void;
  saveInitialAdminKey(secretName: string, account: string, apiKey: string): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Retries a step whose precondition may appear later (the chart applies objects in any order). */
async function patiently<T>(what: string, step: () => Promise<T>, log: Logger, attempts = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      // Only a missing object is worth waiting for; a bad Secret or an API error is not.
      if (attempt >= attempts || !(err instanceof NotReadyError)) throw err;
      log.warn({ attempt, err: err.message }, `${what}: retrying`);
      await sleep(backoffMs(attempt, { baseMs: 500, maxMs: 5_000 }));
    }
  }
}

/** An API error as one readable line naming the step (an operator reads it in the pod's log). */
async function explained<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof k8s.ApiException) throw new BootstrapError(`${what}: ${statusMessage(err)}`, { cause: err });
    throw err;
  }
}

export function kubernetesBootstrap(opts: {
  namespace: string;
  log: Logger;
  kubeConfig?: k8s.KubeConfig;
  store?: SecretStore;
  webhookConfigs?: WebhookConfigApi;
}): KubernetesBootstrap {
  const { log, namespace } = opts;
  const config = opts.kubeConfig ?? (opts.store && opts.webhookConfigs ? undefined : defaultKubeConfig());
  const store = opts.store ?? kubeSecretStore(config!.makeApiClient(k8s.CoreV1Api), namespace);
  const webhookConfigs =
    opts.webhookConfigs ?? kubeWebhookConfigApi(config!.makeApiClient(k8s.AdmissionregistrationV1Api));
  return {
    async dataKey(secretName, mayCreate) {
      const { dataKey, created } = await explained("data key", () =>
        ensureDataKeySecret(store, secretName, { mayCreate }),
      );
      if (created)
        log.warn(
          { secret: `${namespace}/${secretName}` },
          "created the data-key Secret: back it up now (losing it loses every stored secret)",
        );
      else log.info({ secret: `${namespace}/${secretName}` }, "using the data key from its Secret");
      return dataKey;
    },
    async webhookTls(o) {
      const { tls, created, patched } = await explained("webhook certificate", () =>
        patiently("webhook certificate", () => ensureWebhookTls(store, webhookConfigs, o), log),
      );
      log.info(
        {
          secret: `${namespace}/${o.secretName}`,
          created,
          caBundlePatched: patched,
          webhookConfiguration: o.configName,
        },
        "webhook certificate ready",
      );
      return tls;
    },
    keepCaBundle(configName, caPem, intervalMs) {
      const timer = setInterval(() => {
        ensureCaBundle(webhookConfigs, configName, caPem).then(
          (patched) =>
            patched && log.warn({ webhookConfiguration: configName }, "caBundle was missing or different: restored it"),
          (err: unknown) =>
            log.warn(
              { err: (err as Error).message, webhookConfiguration: configName },
              "could not check the webhook caBundle",
            ),
        );
      }, intervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
    async saveInitialAdminKey(secretName, account, apiKey) {
      const outcome = await explained("initial admin key", () =>
        saveInitialAdminKey(store, secretName, account, apiKey),
      );
      log.info(
        { secret: `${namespace}/${secretName}`, account, outcome },
        "initial admin API key written to its Secret (not to the log)",
      );
    },
  };
}

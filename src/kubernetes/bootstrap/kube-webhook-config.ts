/** WebhookConfigApi over the Kubernetes admissionregistration.k8s.io/v1 API. */
import * as k8s from "@kubernetes/client-node";
import { statusOf } from "../api/kube-client.js";
import type { WebhookConfigApi } from "./webhook-tls.js";

const jsonPatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch);

export function kubeWebhookConfigApi(api: k8s.AdmissionregistrationV1Api): WebhookConfigApi {
  return {
    async read(name) {
      try {
        const config = await api.readMutatingWebhookConfiguration({ name });
        return (config.webhooks ?? []).map((w) => ({
          name: w.name,
          caBundle: w.clientConfig.caBundle,
          service: w.clientConfig.service
            ? { name: w.clientConfig.service.name, namespace: w.clientConfig.service.namespace }
            : undefined,
          url: w.clientConfig.url,
        }));
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    },
    async setCaBundle(name, entries, caBundle) {
      // The test operations make the patch fail rather than touch a webhook that moved.
      const body = entries.flatMap((e) => [
        { op: "test", path: `/webhooks/${e.index}/name`, value: e.name },
        { op: "add", path: `/webhooks/${e.index}/clientConfig/caBundle`, value: caBundle },
      ]);
      await api.patchMutatingWebhookConfiguration({ name, body }, jsonPatch);
    },
  };
}

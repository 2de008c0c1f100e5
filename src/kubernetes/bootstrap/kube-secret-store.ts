/** SecretStore over the Kubernetes API, in one namespace. */
import type * as k8s from "@kubernetes/client-node";
import { statusOf } from "../api/kube-client.js";
import type { SecretData, SecretMeta, SecretStore } from "./secret-store.js";

/**
 * Labels deliberately omit `app.kubernetes.io/instance` and `managed-by`: Argo CD tracks (and
 * prunes) objects by the instance label, and the controller garbage-collects Secrets it
 * manages. These Secrets belong to neither.
 */
const LABELS = { "app.kubernetes.io/part-of": "strongroom" };

const encode = (data: SecretData): Record<string, string> =>
  Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.toString("base64")]));
const decode = (data: Record<string, string> | undefined): SecretData =>
  Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64")]));

export function kubeSecretStore(core: k8s.CoreV1Api, namespace: string): SecretStore {
  const body = (name: string, data: SecretData, meta: SecretMeta): k8s.V1Secret => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace,
      labels: { ...LABELS, "app.kubernetes.io/component": meta.component },
      ...(meta.annotations ? { annotations: meta.annotations } : {}),
    },
    type: meta.type ?? "Opaque",
    data: encode(data),
  });
  return {
    async read(name) {
      try {
        return decode((await core.readNamespacedSecret({ name, namespace })).data);
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    },
    async create(name, data, meta) {
      try {
        await core.createNamespacedSecret({ namespace, body: body(name, data, meta) });
        return true;
      } catch (err) {
        if (statusOf(err) === 409) return false;
        throw err;
      }
    },
    async replace(name, data, meta) {
      await core.replaceNamespacedSecret({ name, namespace, body: body(name, data, meta) });
    },
  };
}

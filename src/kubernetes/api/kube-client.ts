/** Kubernetes API clients from KUBECONFIG, ~/.kube/config or the in-cluster service account. */
import * as k8s from "@kubernetes/client-node";

export interface KubeClients {
  config: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
  coordination: k8s.CoordinationV1Api;
}

export function kubeClients(config = defaultKubeConfig()): KubeClients {
  return {
    config,
    core: config.makeApiClient(k8s.CoreV1Api),
    custom: config.makeApiClient(k8s.CustomObjectsApi),
    coordination: config.makeApiClient(k8s.CoordinationV1Api),
  };
}

export function defaultKubeConfig(): k8s.KubeConfig {
  const config = new k8s.KubeConfig();
  config.loadFromDefault();
  return config;
}

export const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

/** The HTTP status of a client error, if it is one. */
export function statusOf(err: unknown): number | undefined {
  return err instanceof k8s.ApiException ? err.code : undefined;
}

export const SECRET_BINDING = { group: "strongroom.io", version: "v1alpha1", plural: "secretbindings" } as const;

/** Kubernetes API clients from KUBECONFIG, ~/.kube/config or the in-cluster service account. */
import * as k8s from "@kubernetes/client-node";
import { sharedDispatcher, type ConnectOptions } from "./connection-pool.js";

export interface KubeClients {
  config: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
  coordination: k8s.CoordinationV1Api;
}

export function kubeClients(config = defaultKubeConfig()): KubeClients {
  reuseConnections(config);
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

/**
 * @kubernetes/client-node 2.0.1 builds a new undici Agent for every request to a TLS
 * cluster (KubeConfig.applySecurityAuthentication → createDispatcher), so every API call
 * paid a TLS handshake (docs/adr/0017-operator-runtime.md). Keep one dispatcher per
 * cluster and user, as the library already does for its https.Agent cache: for direct
 * connections our bounded, long-lived pool (./connection-pool.ts); through a proxy, the
 * library's own agent, memoised.
 */
export function reuseConnections(config: k8s.KubeConfig): void {
  const patched = config as unknown as {
    createDispatcher(cluster: k8s.Cluster | null, options: object): unknown;
    createDispatcherOptions(cluster: k8s.Cluster | null, options: object): { type: string; connect?: ConnectOptions };
    getAgentCacheKey(cluster: k8s.Cluster | null): string;
    __strongroomShared?: boolean;
  };
  if (patched.__strongroomShared) return;
  const original = patched.createDispatcher.bind(config);
  const cache = new Map<string, unknown>();
  patched.createDispatcher = (cluster, options) => {
    const key = patched.getAgentCacheKey(cluster);
    if (!cache.has(key)) {
      const planned = patched.createDispatcherOptions(cluster, options);
      cache.set(
        key,
        planned.type === "agent" || planned.type === "none"
          ? sharedDispatcher(planned.connect)
          : original(cluster, options),
      );
    }
    return cache.get(key);
  };
  patched.__strongroomShared = true;
}

export const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

/** The HTTP status of a client error, if it is one. */
export function statusOf(err: unknown): number | undefined {
  return err instanceof k8s.ApiException ? err.code : undefined;
}

/**
 * A client error for logs: status and reason only. The raw Status body (and the request
 * that caused it) stays out of logs; it can echo object content.
 */
export function describeError(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    let reason = "";
    try {
      reason = (JSON.parse(String(err.body)) as { reason?: string }).reason ?? "";
    } catch {
      // not a Status object
    }
    return `HTTP ${err.code}${reason ? ` ${reason}` : ""}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * What the API server said, for a human: the Status object's message (e.g. `secrets "x" is
 * forbidden: User "system:serviceaccount:…" cannot get resource "secrets"…`) instead of the
 * client's dump of code, escaped body and headers.
 */
export function statusMessage(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    try {
      const status = JSON.parse(String(err.body)) as { message?: string };
      if (status.message) return `${status.message} (HTTP ${err.code})`;
    } catch {
      // not a Status object
    }
    return describeError(err);
  }
  return err instanceof Error ? err.message : String(err);
}

export const SECRET_BINDING = { group: "strongroom.io", version: "v1alpha1", plural: "secretbindings" } as const;

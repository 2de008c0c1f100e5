/**
 * Creates or updates a managed Secret idempotently: no write when the data and owners are
 * already right; a stale update (409) is left to the queue's retry.
 */
import type { CoreV1Api, V1OwnerReference, V1Secret } from "@kubernetes/client-node";
import { statusOf } from "../api/kube-client.js";

export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";

export interface DesiredSecret {
  namespace: string;
  name: string;
  data: Record<string, string>;
  owners: V1OwnerReference[];
  annotations: Record<string, string>;
}

const sameData = (a: Record<string, string> | undefined, b: Record<string, string>): boolean =>
  JSON.stringify(Object.entries(a ?? {}).sort()) === JSON.stringify(Object.entries(b).sort());
const sameOwners = (a: V1OwnerReference[] | undefined, b: V1OwnerReference[]): boolean =>
  JSON.stringify((a ?? []).map((o) => o.uid).sort()) === JSON.stringify(b.map((o) => o.uid).sort());

export interface WriteResult {
  outcome: "created" | "updated" | "unchanged";
  /** The Secret's resourceVersion after the write (never derived from its values). */
  resourceVersion: string | undefined;
}

export async function writeSecret(core: CoreV1Api, desired: DesiredSecret): Promise<WriteResult> {
  let current: V1Secret | undefined;
  try {
    current = await core.readNamespacedSecret({ namespace: desired.namespace, name: desired.name });
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
  const body: V1Secret = {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name: desired.name,
      namespace: desired.namespace,
      labels: { [MANAGED_BY_LABEL]: "strongroom" },
      annotations: desired.annotations,
      ownerReferences: desired.owners,
    },
    data: desired.data,
  };
  if (!current) {
    const created = await core.createNamespacedSecret({ namespace: desired.namespace, body });
    return { outcome: "created", resourceVersion: created.metadata?.resourceVersion };
  }
  const dataSame = sameData(current.data, desired.data);
  if (dataSame && sameOwners(current.metadata?.ownerReferences, desired.owners)) return { outcome: "unchanged", resourceVersion: current.metadata?.resourceVersion };
  body.metadata!.resourceVersion = current.metadata?.resourceVersion;
  const replaced = await core.replaceNamespacedSecret({ namespace: desired.namespace, name: desired.name, body });
  return { outcome: dataSame ? "unchanged" : "updated", resourceVersion: replaced.metadata?.resourceVersion };
}

export async function deleteSecret(core: CoreV1Api, namespace: string, name: string): Promise<void> {
  try {
    await core.deleteNamespacedSecret({ namespace, name });
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
}

/**
 * Creates or updates a managed Secret idempotently, starting from the informer's copy (no
 * GET on the hot path): no write when data and owners are already right; an update carries
 * the resourceVersion it was computed from, and a 409 (someone wrote in between, or our
 * cache is behind) means a fresh read and another try; a 404 on update means the Secret was
 * deleted meanwhile (the garbage collector, after its last owner) — done, not an error.
 *
 * The ownership rule (ADR 21): the controller replaces or deletes only a Secret that carries
 * its managed-by label AND is owned by the object being reconciled — a pod Secret by pods
 * only, a binding's Secret by that binding (its uid). Anything else — a Secret someone else
 * made, another binding's, a pod Secret named by a binding — is `notOwned`: no write, and
 * the reconciler reports SecretNotOwned (as External Secrets' `creationPolicy: Owner` refuses
 * to adopt).
 */
import type { CoreV1Api, V1OwnerReference, V1Secret } from "@kubernetes/client-node";
import { statusOf } from "../api/kube-client.js";

export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
const ATTEMPTS = 3;

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

/** Who claims a Secret: pods (a pod Secret), or one SecretBinding by uid. */
export type Claimant = { kind: "Pod" } | { kind: "SecretBinding"; uid: string };

export function isOwnedBy(secret: V1Secret, claimant: Claimant): boolean {
  if (secret.metadata?.labels?.[MANAGED_BY_LABEL] !== "strongroom") return false;
  const owners = secret.metadata.ownerReferences ?? [];
  if (!owners.length) return false;
  if (claimant.kind === "Pod") return owners.every((o) => o.kind === "Pod" && o.apiVersion === "v1");
  return owners.length === 1 && owners[0]!.kind === "SecretBinding" && owners[0]!.uid === claimant.uid;
}

export interface WriteResult {
  outcome: "created" | "updated" | "owners" | "unchanged" | "gone" | "notOwned";
  /** The Secret's resourceVersion after the write (never derived from its values). */
  resourceVersion: string | undefined;
}

export class SecretConflictError extends Error {}

async function read(core: CoreV1Api, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ namespace, name });
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/**
 * `cached` is the informer's copy (undefined: not in the cache, which holds only labelled
 * Secrets); `mayCreate` is asked before any create.
 */
export async function writeSecret(
  core: CoreV1Api,
  desired: DesiredSecret,
  claimant: Claimant,
  cached: V1Secret | undefined,
  mayCreate: () => Promise<boolean> = () => Promise.resolve(true),
): Promise<WriteResult> {
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
  let current = cached;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    if (!current) {
      if (!(await mayCreate())) return { outcome: "gone", resourceVersion: undefined };
      try {
        const created = await core.createNamespacedSecret({ namespace: desired.namespace, body });
        return { outcome: "created", resourceVersion: created.metadata?.resourceVersion };
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
        current = await read(core, desired.namespace, desired.name); // it exists after all: update it
        continue;
      }
    }
    if (!isOwnedBy(current, claimant))
      return { outcome: "notOwned", resourceVersion: current.metadata?.resourceVersion };
    const dataSame = sameData(current.data, desired.data);
    if (dataSame && sameOwners(current.metadata?.ownerReferences, desired.owners))
      return { outcome: "unchanged", resourceVersion: current.metadata?.resourceVersion };
    try {
      const replaced = await core.replaceNamespacedSecret({
        namespace: desired.namespace,
        name: desired.name,
        body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion } },
      });
      return { outcome: dataSame ? "owners" : "updated", resourceVersion: replaced.metadata?.resourceVersion };
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return { outcome: "gone", resourceVersion: undefined };
      if (status !== 409) throw err;
      current = await read(core, desired.namespace, desired.name);
      if (!current) return { outcome: "gone", resourceVersion: undefined };
    }
  }
  throw new SecretConflictError(
    `Secret ${desired.namespace}/${desired.name} kept changing under us (${ATTEMPTS} conflicts); will retry`,
  );
}

/**
 * Deletes the informer's copy of a Secret if, and only if, the claimant owns it; the
 * preconditions make the API refuse when the Secret changed since (a 409: the next reconcile
 * decides again). Returns whether it was ours to delete.
 */
export async function deleteOwnedSecret(core: CoreV1Api, secret: V1Secret, claimant: Claimant): Promise<boolean> {
  if (!isOwnedBy(secret, claimant)) return false;
  const { namespace, name, uid, resourceVersion } = secret.metadata!;
  try {
    await core.deleteNamespacedSecret({
      namespace: namespace!,
      name: name!,
      body: { preconditions: { uid, resourceVersion } },
    });
  } catch (err) {
    const status = statusOf(err);
    if (status === 409)
      throw new SecretConflictError(`Secret ${namespace}/${name} changed before it could be deleted; will retry`);
    if (status !== 404) throw err;
  }
  return true;
}

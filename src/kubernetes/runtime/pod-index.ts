/**
 * Managed pods indexed by the Secret they use (key `<namespace>/<secret name>`), so a
 * reconcile reads its few pods instead of scanning every pod (O(pods) per key was O(pods²)
 * at cold start). It also tells which pod updates matter: a change only to our own
 * secret-version annotation (the echo of our nudge) or to the pod's status does not.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { SECRET_NAME_ANNOTATION, SECRET_VERSION_ANNOTATION } from "../injection/annotations.js";

export function podSecretKey(pod: V1Pod): string | undefined {
  const name = pod.metadata?.annotations?.[SECRET_NAME_ANNOTATION];
  return name && pod.metadata?.namespace ? `${pod.metadata.namespace}/${name}` : undefined;
}

/** What a reconcile reads from a pod; anything else changing is not worth a reconcile. */
function fingerprint(pod: V1Pod): string {
  const { [SECRET_VERSION_ANNOTATION]: _ours, ...annotations } = pod.metadata?.annotations ?? {};
  return JSON.stringify([annotations, pod.spec?.serviceAccountName, Boolean(pod.metadata?.deletionTimestamp)]);
}

const uidOf = (pod: V1Pod): string => pod.metadata?.uid ?? `${pod.metadata?.namespace}/${pod.metadata?.name}`;

export class PodIndex {
  readonly #byKey = new Map<string, Map<string, V1Pod>>();
  readonly #entries = new Map<string, { key: string | undefined; fingerprint: string; pod: V1Pod }>();

  /** Add or update a pod; returns the keys that need a reconcile (none for an echo). */
  upsert(pod: V1Pod): string[] {
    const uid = uidOf(pod);
    const key = podSecretKey(pod);
    const print = fingerprint(pod);
    const before = this.#entries.get(uid);
    this.#entries.set(uid, { key, fingerprint: print, pod });
    if (before?.key && before.key !== key) this.#byKey.get(before.key)?.delete(uid);
    if (key) (this.#byKey.get(key) ?? this.#byKey.set(key, new Map()).get(key)!).set(uid, pod);
    if (before && before.key === key && before.fingerprint === print) return [];
    return [...new Set([before?.key, key].filter((k): k is string => !!k))];
  }

  /** Remove a pod; returns the key it used. */
  remove(pod: V1Pod): string[] {
    const uid = uidOf(pod);
    const before = this.#entries.get(uid);
    this.#entries.delete(uid);
    const key = before?.key ?? podSecretKey(pod);
    if (!key) return [];
    const pods = this.#byKey.get(key);
    pods?.delete(uid);
    if (pods && !pods.size) this.#byKey.delete(key);
    return [key];
  }

  podsFor(key: string): V1Pod[] {
    return [...(this.#byKey.get(key)?.values() ?? [])];
  }

  has(uid: string): boolean {
    return this.#entries.has(uid);
  }

  get(uid: string): V1Pod | undefined {
    return this.#entries.get(uid)?.pod;
  }

  keys(): string[] {
    return [...this.#byKey.keys()];
  }
}

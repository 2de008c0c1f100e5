/**
 * The controller's informer caches — managed pods (indexed by the Secret they use), managed
 * Secrets (so reconciles read no Secret from the API; deletions leave tombstones), and
 * SecretBindings — and the rules for which of their events need a reconcile.
 */
import type * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import { SECRET_BINDING, type KubeClients } from "./api/kube-client.js";
import { watchedCache, type WatchedCache } from "./api/watched-cache.js";
import { MANAGED_LABEL } from "./injection/annotations.js";
import type { SecretBinding } from "./reconcilers/secret-bindings.js";
import { MANAGED_BY_LABEL } from "./reconcilers/secret-writer.js";
import { PodIndex } from "./runtime/pod-index.js";

type Binding = SecretBinding & k8s.KubernetesObject;
const TOMBSTONE_MS = 10 * 60_000;
const MAX_TOMBSTONES = 10_000;

export class ControllerCaches {
  readonly pods = new PodIndex();
  readonly #podCache: WatchedCache<k8s.V1Pod>;
  readonly #secrets: WatchedCache<k8s.V1Secret>;
  readonly #bindings: WatchedCache<Binding>;
  readonly #generations = new Map<string, number | undefined>();
  readonly #tombstones = new Map<string, { owners: string[]; at: number }>();

  constructor(
    kube: KubeClients,
    log: Logger,
    enqueue: { podKeys: (keys: string[]) => void; bindingKey: (key: string) => void },
  ) {
    const podSelector = `${MANAGED_LABEL}=true`;
    this.#podCache = watchedCache<k8s.V1Pod>({
      config: kube.config,
      path: "/api/v1/pods",
      labelSelector: podSelector,
      list: () => kube.core.listPodForAllNamespaces({ labelSelector: podSelector }),
      log,
      onAdd: (pod) => enqueue.podKeys(this.pods.upsert(pod)),
      // Echoes of our own nudges and status-only changes enqueue nothing.
      onUpdate: (pod) => enqueue.podKeys(this.pods.upsert(pod)),
      onDelete: (pod) => enqueue.podKeys(this.pods.remove(pod)),
    });
    const secretSelector = `${MANAGED_BY_LABEL}=strongroom`;
    const secretKey = (s: k8s.V1Secret): string => `${s.metadata?.namespace}/${s.metadata?.name}`;
    this.#secrets = watchedCache<k8s.V1Secret>({
      config: kube.config,
      path: "/api/v1/secrets",
      labelSelector: secretSelector,
      list: () => kube.core.listSecretForAllNamespaces({ labelSelector: secretSelector }),
      log,
      onAdd: (s) => this.#tombstones.delete(secretKey(s)),
      onUpdate: () => undefined,
      onDelete: (s) => {
        const owners = s.metadata?.ownerReferences ?? [];
        const podOwners = owners.filter((o) => o.kind === "Pod").map((o) => o.uid);
        if (podOwners.length) {
          this.#tombstones.set(secretKey(s), { owners: podOwners, at: Date.now() });
          if (this.#tombstones.size > MAX_TOMBSTONES) this.#tombstones.delete(this.#tombstones.keys().next().value!);
          // Deleted while pods still use it (by hand, say): the reconcile decides whether to bring it back.
          if (this.pods.podsFor(secretKey(s)).length) enqueue.podKeys([secretKey(s)]);
        }
        const binding = owners.find((o) => o.kind === "SecretBinding");
        if (binding) enqueue.bindingKey(`${s.metadata?.namespace}/${binding.name}`);
      },
    });
    const bindingKey = (b: Binding): string => `${b.metadata.namespace}/${b.metadata.name}`;
    const onBinding = (b: Binding, force: boolean): void => {
      // Our own status writes come back as updates; only spec changes (generation) matter.
      if (!force && this.#generations.get(bindingKey(b)) === b.metadata.generation) return;
      this.#generations.set(bindingKey(b), b.metadata.generation);
      enqueue.bindingKey(bindingKey(b));
    };
    this.#bindings = watchedCache<Binding>({
      config: kube.config,
      path: `/apis/${SECRET_BINDING.group}/${SECRET_BINDING.version}/${SECRET_BINDING.plural}`,
      list: () =>
        kube.custom.listClusterCustomObject({ ...SECRET_BINDING }) as Promise<k8s.KubernetesListObject<Binding>>,
      log,
      onAdd: (b) => onBinding(b, true),
      onUpdate: (b) => onBinding(b, false),
      onDelete: (b) => {
        this.#generations.delete(bindingKey(b));
        enqueue.bindingKey(bindingKey(b));
      },
    });
  }

  /**
   * Pods and Secrets must be complete before any reconcile. SecretBindings are optional
   * (the CRD may not be installed): their reconciles read an empty cache until it syncs.
   */
  whenSynced(): Promise<void> {
    return Promise.all([this.#podCache.synced(), this.#secrets.synced()]).then(() => undefined);
  }

  synced(): boolean {
    return this.#podCache.hasSynced() && this.#secrets.hasSynced();
  }

  lastEventAt(): number {
    return this.#podCache.lastEventAt();
  }

  secret(namespace: string, name: string): k8s.V1Secret | undefined {
    return this.#secrets.get(name, namespace);
  }

  tombstone(namespace: string, name: string): string[] | undefined {
    const t = this.#tombstones.get(`${namespace}/${name}`);
    return t && Date.now() - t.at < TOMBSTONE_MS ? t.owners : undefined;
  }

  binding(namespace: string, name: string): Binding | undefined {
    return this.#bindings.get(name, namespace);
  }

  bindingKeys(): string[] {
    return this.#bindings.list().map((b) => `${b.metadata.namespace}/${b.metadata.name}`);
  }

  async stop(): Promise<void> {
    await Promise.all([this.#podCache.stop(), this.#secrets.stop(), this.#bindings.stop()]);
  }
}

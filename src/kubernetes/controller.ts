/**
 * The controller: while this replica leads (Lease), informers on managed pods and on
 * SecretBindings feed one de-duplicating work queue; a Postgres LISTEN turns every secret
 * write into re-resolves of exactly the keys that use the variable; each key is also
 * re-resolved on its refresh interval as a safety net.
 */
import type * as k8s from "@kubernetes/client-node";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Aead } from "../crypto/aead.js";
import type { Queryable } from "../storage/database.js";
import type { Metrics } from "../telemetry/metrics.js";
import { MANAGED_LABEL } from "./injection/annotations.js";
import { SECRET_BINDING, type KubeClients } from "./api/kube-client.js";
import { LeaderElector } from "./runtime/leader-election.js";
import { PodSecrets, type ReconcileResult } from "./reconcilers/pod-secrets.js";
import { SecretBindings, type SecretBinding } from "./reconcilers/secret-bindings.js";
import { SecretChangeListener } from "./runtime/secret-change-listener.js";
import { watchedCache, type WatchedCache } from "./api/watched-cache.js";
import { WorkQueue } from "./runtime/work-queue.js";

export interface ControllerDeps {
  db: Queryable;
  databaseUrl: string;
  aead: Aead;
  account: string;
  kube: KubeClients;
  log: Logger;
  metrics: Metrics;
  /** Namespace of the Lease (the pod's own namespace in a cluster). */
  leaseNamespace: string;
  identity?: string;
}

const STALE_AFTER_MS = 120_000;
const POD = "pod:";
const BINDING = "binding:";

export class Controller {
  readonly #elector: LeaderElector;
  readonly #keysByVariable = new Map<string, Set<string>>();
  readonly #variablesByKey = new Map<string, string[]>();
  readonly #bindingGenerations = new Map<string, number | undefined>();
  #queue: WorkQueue | undefined;
  #pods: WatchedCache<k8s.V1Pod> | undefined;
  #bindings: WatchedCache<SecretBinding & k8s.KubernetesObject> | undefined;
  #listener: SecretChangeListener | undefined;
  #gaugeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ControllerDeps) {
    this.#elector = new LeaderElector(
      deps.kube.coordination,
      {
        namespace: deps.leaseNamespace,
        name: "strongroom-controller",
        identity: deps.identity ?? `${hostname()}-${randomBytes(4).toString("hex")}`,
        onStartedLeading: () => this.#run(),
        onStoppedLeading: () => this.#halt(),
      },
      deps.log,
    );
  }

  get leading(): boolean {
    return this.#elector.leading;
  }

  start(): void {
    this.#elector.start();
  }

  async stop(): Promise<void> {
    await this.#elector.stop();
    await this.#halt();
  }

  /** undefined when healthy; a reason when the pod watch has gone silent. */
  health(): string | undefined {
    if (!this.#pods) return undefined;
    const age = Date.now() - this.#pods.lastEventAt();
    return age > STALE_AFTER_MS ? `pod watch silent for ${Math.round(age / 1000)}s` : undefined;
  }

  /** Resolves when the queue is empty (tests). */
  async idle(): Promise<void> {
    await this.#queue?.idle();
  }

  async #run(): Promise<void> {
    const { deps } = this;
    const podSecrets = new PodSecrets({ ...deps, core: deps.kube.core, pods: () => [...(this.#pods?.list() ?? [])] });
    const secretBindings = new SecretBindings({ ...deps, core: deps.kube.core, custom: deps.kube.custom, get: (ns, name) => this.#bindings?.get(name, ns) });
    const queue = (this.#queue = new WorkQueue((key) => this.#reconcile(key, podSecrets, secretBindings), {
      onDepth: (n) => deps.metrics.queueDepth.set(n),
      onError: (key, err) => deps.log.warn({ key, err: (err as Error).message }, "reconcile failed; will retry"),
    }));
    const enqueuePod = (pod: k8s.V1Pod): void => {
      const key = PodSecrets.keyOf(pod);
      if (key) queue.add(POD + key);
    };
    this.#pods = watchedCache<k8s.V1Pod>({
      config: deps.kube.config,
      path: "/api/v1/pods",
      labelSelector: `${MANAGED_LABEL}=true`,
      list: () => deps.kube.core.listPodForAllNamespaces({ labelSelector: `${MANAGED_LABEL}=true` }),
      log: deps.log,
      onAdd: enqueuePod,
      onUpdate: enqueuePod,
      onDelete: enqueuePod,
    });
    const enqueueBinding = (b: SecretBinding, force: boolean): void => {
      const key = `${b.metadata.namespace}/${b.metadata.name}`;
      // Our own status writes come back as updates; only spec changes (generation) matter.
      if (!force && this.#bindingGenerations.get(key) === b.metadata.generation) return;
      this.#bindingGenerations.set(key, b.metadata.generation);
      queue.add(BINDING + key);
    };
    this.#bindings = watchedCache<SecretBinding & k8s.KubernetesObject>({
      config: deps.kube.config,
      path: `/apis/${SECRET_BINDING.group}/${SECRET_BINDING.version}/${SECRET_BINDING.plural}`,
      list: () => deps.kube.custom.listClusterCustomObject({ ...SECRET_BINDING }) as Promise<k8s.KubernetesListObject<SecretBinding & k8s.KubernetesObject>>,
      log: deps.log,
      onAdd: (b) => enqueueBinding(b, true),
      onUpdate: (b) => enqueueBinding(b, false),
      onDelete: (b) => {
        this.#bindingGenerations.delete(`${b.metadata.namespace}/${b.metadata.name}`);
        queue.add(`${BINDING}${b.metadata.namespace}/${b.metadata.name}`);
      },
    });
    this.#listener = new SecretChangeListener(deps.databaseUrl, (variable) => {
      for (const key of this.#keysByVariable.get(variable) ?? []) queue.add(key);
    }, deps.log);
    await this.#listener.start();
    this.#gaugeTimer = setInterval(() => {
      if (this.#pods) deps.metrics.watchEventAge.set((Date.now() - this.#pods.lastEventAt()) / 1000);
    }, 1000);
    this.#gaugeTimer.unref();
  }

  async #reconcile(key: string, podSecrets: PodSecrets, secretBindings: SecretBindings): Promise<void> {
    const kind = key.startsWith(POD) ? "pod" : "binding";
    const end = this.deps.metrics.reconcileDuration.startTimer({ kind });
    let result: ReconcileResult;
    try {
      result = kind === "pod" ? await podSecrets.reconcile(key.slice(POD.length)) : await secretBindings.reconcile(key.slice(BINDING.length));
      this.deps.metrics.reconciles.inc({ kind, outcome: "success" });
    } catch (err) {
      this.deps.metrics.reconciles.inc({ kind, outcome: "error" });
      throw err;
    } finally {
      end();
    }
    this.#index(key, result.variables);
    if (result.refreshMs === undefined) this.#queue?.forget(key);
    else this.#queue?.add(key, result.refreshMs);
  }

  #index(key: string, variables: string[]): void {
    for (const v of this.#variablesByKey.get(key) ?? []) this.#keysByVariable.get(v)?.delete(key);
    if (!variables.length) this.#variablesByKey.delete(key);
    else this.#variablesByKey.set(key, variables);
    for (const v of variables) (this.#keysByVariable.get(v) ?? this.#keysByVariable.set(v, new Set()).get(v)!).add(key);
  }

  async #halt(): Promise<void> {
    clearInterval(this.#gaugeTimer);
    this.#queue?.stop();
    await Promise.all([this.#pods?.stop(), this.#bindings?.stop(), this.#listener?.stop()]);
    this.#queue = this.#pods = this.#bindings = this.#listener = undefined;
  }
}

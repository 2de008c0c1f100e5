/**
 * The controller's manager: it builds a term when this replica starts leading (Lease) and
 * tears it down, all at once, when it stops. A term is informers on managed pods, managed
 * Secrets and SecretBindings feeding one de-duplicating work queue, whose workers start only
 * once the caches have synced (WaitForCacheSync), and the dispatcher (dispatcher.ts) that
 * says what each key means. The server's LISTEN (secrets/changes.ts) turns every secret
 * write into re-resolves of exactly the keys that use the variable (and, after any
 * reconnect, of every key); each key is also re-resolved on its refresh interval as a
 * safety net. Tunables: controller-tunables.ts.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Aead } from "../crypto/aead.js";
import type { Queryable } from "../storage/database.js";
import type { Metrics } from "../telemetry/metrics.js";
import { EventRecorder } from "./api/events.js";
import { describeError, type KubeClients } from "./api/kube-client.js";
import { leaseApi } from "./api/lease-api.js";
import { ControllerCaches } from "./controller-caches.js";
import { PodSecrets } from "./reconcilers/pod-secrets.js";
import { FailureReporter } from "./reconcilers/report-failure.js";
import { SecretBindings } from "./reconcilers/secret-bindings.js";
import { LeaderElector } from "./runtime/leader-election.js";
import { PodNudger } from "./runtime/pod-nudger.js";
import type { SecretChanges } from "../secrets/changes.js";
import { BINDING, Dispatcher, POD } from "./dispatcher.js";
import { WorkQueue } from "./runtime/work-queue.js";
import { DEFAULT_TUNABLES, type ControllerTunables } from "./controller-tunables.js";

export { controllerTunables, DEFAULT_TUNABLES, type ControllerTunables } from "./controller-tunables.js";

export interface ControllerDeps {
  db: Queryable;
  /** The server's one LISTEN connection (secrets/changes.ts): the controller subscribes while it leads. */
  changes: SecretChanges;
  aead: Aead;
  account: string;
  kube: KubeClients;
  log: Logger;
  metrics: Metrics;
  /** Namespace of the Lease (the pod's own namespace in a cluster). */
  leaseNamespace: string;
  tunables?: ControllerTunables;
}

export interface ControllerHealth {
  healthy: boolean;
  leading: boolean;
  synced: boolean;
  lastEventAgeSeconds: number | undefined;
  reason: string | undefined;
}

/** Everything that exists only while leading; dropped as a whole when leadership ends. */
interface Term {
  queue: WorkQueue;
  caches: ControllerCaches;
  unsubscribe: () => void;
  nudger: PodNudger;
  events: EventRecorder;
  dispatcher: Dispatcher;
  gaugeTimer: NodeJS.Timeout;
}

export class Controller {
  readonly #elector: LeaderElector;
  readonly #tunables: ControllerTunables;
  #term: Term | undefined;

  constructor(private readonly deps: ControllerDeps) {
    this.#tunables = deps.tunables ?? DEFAULT_TUNABLES;
    this.#elector = new LeaderElector(
      leaseApi(deps.kube.coordination, deps.leaseNamespace, "strongroom-controller"),
      {
        identity: `${hostname()}-${randomBytes(4).toString("hex")}`,
        timings: this.#tunables.leaderElection,
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

  /** Health of the controller alone (never part of the API's or webhook's readiness). */
  health(): ControllerHealth {
    const term = this.#term;
    const leading = this.#elector.leading;
    if (!term) return { healthy: true, leading, synced: false, lastEventAgeSeconds: undefined, reason: undefined };
    const synced = term.caches.synced();
    const age = (Date.now() - term.caches.lastEventAt()) / 1000;
    const reason = !synced
      ? "informer caches not synced yet"
      : age * 1000 > this.#tunables.staleAfterMs
        ? `pod watch silent for ${Math.round(age)}s`
        : undefined;
    return { healthy: !reason, leading, synced, lastEventAgeSeconds: age, reason };
  }

  /** Resolves when no reconcile, Event or nudge is pending (tests, benchmarks). */
  async idle(): Promise<void> {
    const term = this.#term;
    if (!term) return;
    await term.caches.whenSynced();
    await term.queue.idle();
    await Promise.all([term.nudger.idle(), term.events.flush()]);
  }

  /** Counters for benchmarks and tests. */
  stats(): { nudges: number; resyncs: number } {
    return { nudges: this.#term?.nudger.sent ?? 0, resyncs: this.deps.changes.resyncs };
  }

  async #run(): Promise<void> {
    const { deps } = this;
    const t = this.#tunables;
    const events = new EventRecorder(deps.kube.core, deps.log);
    const failures = new FailureReporter({ events, metrics: deps.metrics, log: deps.log });
    const nudger = new PodNudger(deps.kube.core, deps.log, {
      perSecond: t.podNudgesPerSecond,
      concurrency: 2,
      busy: () => queue.readyDepth + queue.running > 0,
    });
    const queue: WorkQueue = new WorkQueue((key) => dispatcher.reconcile(key), {
      concurrency: t.concurrency,
      baseDelayMs: t.retryBaseDelayMs,
      maxDelayMs: t.retryMaxDelayMs,
      onDepth: ({ ready, scheduled }) => {
        deps.metrics.queueDepth.set(ready);
        deps.metrics.queueScheduled.set(scheduled);
      },
      onError: (key, err, failures) =>
        deps.log.warn({ key, err: describeError(err), failures }, "reconcile failed; will retry"),
    });
    const caches = new ControllerCaches(deps.kube, deps.log, {
      podKeys: (keys) => keys.forEach((k) => queue.add(POD + k)),
      bindingKey: (k) => queue.add(BINDING + k),
    });
    const common = {
      db: deps.db,
      aead: deps.aead,
      account: deps.account,
      core: deps.kube.core,
      log: deps.log,
      metrics: deps.metrics,
      events,
      failures,
    };
    const podSecrets = new PodSecrets({
      ...common,
      nudger,
      podsFor: (key) => caches.pods.podsFor(key),
      podCached: (uid) => caches.pods.has(uid),
      cachedSecret: (ns, name) => caches.secret(ns, name),
      tombstone: (ns, name) => caches.tombstone(ns, name),
    });
    const secretBindings = new SecretBindings({
      ...common,
      custom: deps.kube.custom,
      get: (ns, name) => caches.binding(ns, name),
      cachedSecret: (ns, name) => caches.secret(ns, name),
    });
    const dispatcher: Dispatcher = new Dispatcher({
      podSecrets,
      secretBindings,
      metrics: deps.metrics,
      requeue: (key) => queue.add(key),
      leading: () => this.#term?.queue === queue && this.#elector.leading,
    });
    // A rotation queues the keys that read the variable; a LISTEN gap re-resolves every key.
    const unsubscribe = deps.changes.subscribe({
      changed: (variable) => dispatcher.changed(variable).forEach((k) => queue.add(k)),
      resync: () => this.#resyncAll(),
    });
    const gaugeTimer = setInterval(() => {
      const h = this.health();
      deps.metrics.watchEventAge.set(h.lastEventAgeSeconds ?? 0);
      deps.metrics.controllerHealthy.set(h.healthy ? 1 : 0);
    }, 1000);
    gaugeTimer.unref();
    this.#term = { queue, caches, unsubscribe, nudger, events, dispatcher, gaugeTimer };
    deps.metrics.controllerLeading.set(1);
    // WaitForCacheSync: reconciling a partial view would shrink ownership or delete Secrets.
    await caches.whenSynced();
    if (this.#term?.queue !== queue) return; // leadership ended while syncing
    deps.log.info({ pods: caches.pods.keys().length }, "controller caches synced; starting workers");
    queue.start();
  }

  #resyncAll(): void {
    const term = this.#term;
    if (!term) return;
    this.deps.log.info({ pods: term.caches.pods.keys().length }, "re-resolving every key");
    for (const key of term.caches.pods.keys()) term.queue.add(POD + key);
    for (const key of term.caches.bindingKeys()) term.queue.add(BINDING + key);
  }

  async #halt(): Promise<void> {
    const term = this.#term;
    this.#term = undefined;
    this.deps.metrics.controllerLeading.set(0);
    if (!term) return;
    clearInterval(term.gaugeTimer);
    term.queue.stop();
    term.nudger.stop();
    term.unsubscribe();
    await term.caches.stop();
  }
}

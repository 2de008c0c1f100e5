/**
 * The controller: while this replica leads (Lease), informers on managed pods, managed
 * Secrets and SecretBindings feed one de-duplicating work queue; workers start only once
 * the caches have synced. A Postgres LISTEN turns every secret write into re-resolves of
 * exactly the keys that use the variable (and, after any reconnect, of every key); each key
 * is also re-resolved on its refresh interval as a safety net. Losing the Lease stops all
 * of it at once.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Config } from "../config.js";
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
import { LeaderElector, type LeaderElectionTimings } from "./runtime/leader-election.js";
import { PodNudger } from "./runtime/pod-nudger.js";
import type { SecretChanges } from "../secrets/changes.js";
import { VariableIndex } from "./runtime/variable-index.js";
import { WorkQueue, type ReconcileOutcome } from "./runtime/work-queue.js";

/** The controller's tunables (src/config.ts documents each and its default). */
export interface ControllerTunables {
  concurrency: number;
  leaderElection: LeaderElectionTimings;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  staleAfterMs: number;
  podNudgesPerSecond: number;
}

export const DEFAULT_TUNABLES: ControllerTunables = {
  concurrency: 8,
  leaderElection: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
  retryBaseDelayMs: 250,
  retryMaxDelayMs: 30_000,
  staleAfterMs: 120_000,
  podNudgesPerSecond: 50,
};

/** The tunables as src/config.ts reads them. */
export function controllerTunables(
  c: Pick<
    Config,
    | "controllerConcurrency"
    | "leaseDurationMs"
    | "renewDeadlineMs"
    | "retryPeriodMs"
    | "retryBackoffBaseMs"
    | "retryBackoffMaxMs"
    | "watchStaleAfterMs"
    | "podNudgesPerSecond"
  >,
): ControllerTunables {
  return {
    concurrency: c.controllerConcurrency,
    leaderElection: {
      leaseDurationMs: c.leaseDurationMs,
      renewDeadlineMs: c.renewDeadlineMs,
      retryPeriodMs: c.retryPeriodMs,
    },
    retryBaseDelayMs: c.retryBackoffBaseMs,
    retryMaxDelayMs: c.retryBackoffMaxMs,
    staleAfterMs: c.watchStaleAfterMs,
    podNudgesPerSecond: c.podNudgesPerSecond,
  };
}

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

const POD = "pod:";
const BINDING = "binding:";

/** Everything that exists only while leading; dropped as a whole when leadership ends. */
interface Term {
  queue: WorkQueue;
  caches: ControllerCaches;
  unsubscribe: () => void;
  nudger: PodNudger;
  events: EventRecorder;
  variables: VariableIndex;
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
    const variables = new VariableIndex();
    const queue = new WorkQueue((key) => this.#reconcile(key), {
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
    // A rotation queues the keys that read the variable; a LISTEN gap re-resolves every key.
    const unsubscribe = deps.changes.subscribe({
      changed: (variable) => {
        this.#changedAt.set(variable, ++this.#changes);
        variables.keysFor(variable).forEach((k) => queue.add(k));
      },
      resync: () => this.#resyncAll(),
    });
    const gaugeTimer = setInterval(() => {
      const h = this.health();
      deps.metrics.watchEventAge.set(h.lastEventAgeSeconds ?? 0);
      deps.metrics.controllerHealthy.set(h.healthy ? 1 : 0);
    }, 1000);
    gaugeTimer.unref();
    this.#term = { queue, caches, unsubscribe, nudger, events, variables, gaugeTimer };
    this.#reconcilers = { podSecrets, secretBindings };
    deps.metrics.controllerLeading.set(1);
    // WaitForCacheSync: reconciling a partial view would shrink ownership or delete Secrets.
    await caches.whenSynced();
    if (this.#term?.queue !== queue) return; // leadership ended while syncing
    deps.log.info({ pods: caches.pods.keys().length }, "controller caches synced; starting workers");
    queue.start();
  }

  #reconcilers: { podSecrets: PodSecrets; secretBindings: SecretBindings } | undefined;
  /**
   * Change signals received so far, and the count at each variable's latest one. A signal
   * for a variable whose key is still in its first reconcile finds no key to queue (the
   * index learns a key's variables when that reconcile ends), and that reconcile may have
   * read the value before the change: so a reconcile that ends checks for signals of its
   * variables since it started, and runs again if there were any.
   */
  #changes = 0;
  readonly #changedAt = new Map<string, number>();

  #resyncAll(): void {
    const term = this.#term;
    if (!term) return;
    this.deps.log.info({ pods: term.caches.pods.keys().length }, "re-resolving every key");
    for (const key of term.caches.pods.keys()) term.queue.add(POD + key);
    for (const key of term.caches.bindingKeys()) term.queue.add(BINDING + key);
  }

  async #reconcile(key: string): Promise<ReconcileOutcome> {
    const term = this.#term;
    const reconcilers = this.#reconcilers;
    // Leadership lost (or halted): do nothing more, not even one write.
    if (!term || !reconcilers || !this.#elector.leading) return {};
    const kind = key.startsWith(POD) ? "pod" : "binding";
    const end = this.deps.metrics.reconcileDuration.startTimer({ kind });
    const started = this.#changes;
    try {
      const result =
        kind === "pod"
          ? await reconcilers.podSecrets.reconcile(key.slice(POD.length))
          : await reconcilers.secretBindings.reconcile(key.slice(BINDING.length));
      this.deps.metrics.reconciles.inc({ kind, outcome: "success" });
      term.variables.set(key, result.variables);
      // Marked dirty while it is processing: the queue runs it again right after this one.
      if (result.variables.some((v) => (this.#changedAt.get(v) ?? 0) > started)) term.queue.add(key);
      return { requeueAfterMs: result.requeueAfterMs };
    } catch (err) {
      this.deps.metrics.reconciles.inc({ kind, outcome: "error" });
      throw err;
    } finally {
      end();
    }
  }

  async #halt(): Promise<void> {
    const term = this.#term;
    this.#term = undefined;
    this.#reconcilers = undefined;
    this.deps.metrics.controllerLeading.set(0);
    if (!term) return;
    clearInterval(term.gaugeTimer);
    term.queue.stop();
    term.nudger.stop();
    term.unsubscribe();
    await term.caches.stop();
  }
}

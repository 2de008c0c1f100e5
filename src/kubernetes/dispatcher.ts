/**
 * The dispatcher: what a queued key means while this replica leads. `pod:<key>` goes to the
 * pod-Secret reconciler, `binding:<namespace>/<name>` to the SecretBinding reconciler. Each
 * reconcile reports the variables its key read (VariableIndex), so a secret change queues
 * exactly the keys that use the variable.
 *
 * A change signal for a variable whose key is still in its first reconcile finds no key to
 * queue (the index learns a key's variables when that reconcile ends), and that reconcile
 * may have read the value before the change: so a reconcile that ends checks for signals of
 * its variables since it started, and runs again if there were any (controller-runtime's
 * "dirty while processing").
 */
import type { Metrics } from "../telemetry/metrics.js";
import type { PodSecrets } from "./reconcilers/pod-secrets.js";
import type { SecretBindings } from "./reconcilers/secret-bindings.js";
import { VariableIndex } from "./runtime/variable-index.js";
import type { ReconcileOutcome } from "./runtime/work-queue.js";

export const POD = "pod:";
export const BINDING = "binding:";

export interface DispatcherDeps {
  podSecrets: PodSecrets;
  secretBindings: SecretBindings;
  metrics: Metrics;
  /** Queue a key again (it was changed while it ran). */
  requeue: (key: string) => void;
  /** Leadership can end mid-reconcile: then no further write, not even one. */
  leading: () => boolean;
}

export class Dispatcher {
  readonly #variables = new VariableIndex();
  /** Change signals received so far, and the count at each variable's latest one. */
  #changes = 0;
  readonly #changedAt = new Map<string, number>();

  constructor(private readonly deps: DispatcherDeps) {}

  /** A variable got a new version: the keys that read it (to queue). */
  changed(variable: string): string[] {
    this.#changedAt.set(variable, ++this.#changes);
    return this.#variables.keysFor(variable);
  }

  async reconcile(key: string): Promise<ReconcileOutcome> {
    if (!this.deps.leading()) return {};
    const kind = key.startsWith(POD) ? "pod" : "binding";
    const { metrics } = this.deps;
    const end = metrics.reconcileDuration.startTimer({ kind });
    const started = this.#changes;
    try {
      const result =
        kind === "pod"
          ? await this.deps.podSecrets.reconcile(key.slice(POD.length))
          : await this.deps.secretBindings.reconcile(key.slice(BINDING.length));
      metrics.reconciles.inc({ kind, outcome: "success" });
      this.#variables.set(key, result.variables);
      if (result.variables.some((v) => (this.#changedAt.get(v) ?? 0) > started)) this.deps.requeue(key);
      return { requeueAfterMs: result.requeueAfterMs };
    } catch (err) {
      metrics.reconciles.inc({ kind, outcome: "error" });
      throw err;
    } finally {
      end();
    }
  }
}

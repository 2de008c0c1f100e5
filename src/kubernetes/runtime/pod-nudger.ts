/**
 * After a rotation, any change to a pod makes the kubelet sync its Secret volume now
 * instead of within ~90 s. The nudge is a merge patch of our secret-version annotation,
 * sent off the reconcile's critical path: Secrets are written first, nudges drain here with
 * bounded concurrency and a client-side rate limit (token bucket), one per pod with the
 * latest version winning, and pods already carrying that version are skipped.
 */
import type { CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { SECRET_VERSION_ANNOTATION } from "../injection/annotations.js";
import { describeError, mergePatch, statusOf } from "../api/kube-client.js";

export interface NudgeTarget {
  namespace: string;
  name: string;
  /** Current value of the pod's annotation, if known (from the informer cache). */
  current: string | undefined;
}

export class PodNudger {
  readonly #pending = new Map<string, { namespace: string; name: string; version: string }>();
  #inFlight = 0;
  #tokens: number;
  #at = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  sent = 0;

  constructor(
    private readonly core: CoreV1Api,
    private readonly log: Logger,
    private readonly opts: { perSecond: number; burst?: number; concurrency?: number },
  ) {
    this.#tokens = opts.burst ?? opts.perSecond;
  }

  nudge(pods: NudgeTarget[], version: string): void {
    if (this.#stopped) return;
    for (const pod of pods) {
      const id = `${pod.namespace}/${pod.name}`;
      if (pod.current === version) this.#pending.delete(id);
      else this.#pending.set(id, { namespace: pod.namespace, name: pod.name, version });
    }
    this.#drain();
  }

  get backlog(): number {
    return this.#pending.size;
  }

  async idle(): Promise<void> {
    while (this.#pending.size || this.#inFlight) await new Promise((r) => setTimeout(r, 5));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#pending.clear();
  }

  #drain(): void {
    const now = Date.now();
    const burst = this.opts.burst ?? this.opts.perSecond;
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#at) / 1000) * this.opts.perSecond);
    this.#at = now;
    while (!this.#stopped && this.#pending.size && this.#inFlight < (this.opts.concurrency ?? 8) && this.#tokens >= 1) {
      const [id, next] = this.#pending.entries().next().value!;
      this.#pending.delete(id);
      this.#tokens--;
      this.#inFlight++;
      void this.#send(next).finally(() => {
        this.#inFlight--;
        this.#drain();
      });
    }
    if (this.#pending.size && this.#tokens < 1 && !this.#timer && !this.#stopped) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#drain();
      }, Math.ceil(((1 - this.#tokens) / this.opts.perSecond) * 1000));
      this.#timer.unref();
    }
  }

  async #send(p: { namespace: string; name: string; version: string }): Promise<void> {
    try {
      await this.core.patchNamespacedPod({ namespace: p.namespace, name: p.name, body: { metadata: { annotations: { [SECRET_VERSION_ANNOTATION]: p.version } } } }, mergePatch);
      this.sent++;
    } catch (err) {
      // A pod gone meanwhile needs no nudge; anything else: the kubelet's own sync catches up.
      if (statusOf(err) !== 404) this.log.warn({ pod: `${p.namespace}/${p.name}`, err: describeError(err) }, "could not nudge pod");
    }
  }
}

/**
 * After a rotation, any change to a pod makes the kubelet sync its Secret volume now
 * instead of within ~90 s. The nudge is a merge patch of our secret-version annotation,
 * sent off the reconcile's critical path: Secrets are written first, nudges drain here with
 * bounded concurrency and a client-side rate limit (token bucket), one per pod with the
 * latest version winning, and pods already carrying that version are skipped.
 *
 * "Secrets first" is enforced, not hoped for: while `busy()` says reconciles are waiting or
 * running, no nudge is sent (a rotation's Secret writes would otherwise queue behind pod
 * PATCHes on the shared connections: p99 went from 0.8 s to 3.2 s with a 4-connection
 * pool). A nudge deferred for `maxDeferMs` goes anyway, so a never-idle queue cannot starve
 * them. Concurrency stays below the connection pool's size, leaving connections to writes.
 */
import type { CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { SECRET_VERSION_ANNOTATION } from "../injection/annotations.js";
import { describeError, mergePatch, statusOf } from "../api/kube-client.js";

/** How often a deferred drain looks again whether the reconciles are done. */
const YIELD_CHECK_MS = 20;

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
  #deferredSince: number | undefined;
  sent = 0;

  constructor(
    private readonly core: CoreV1Api,
    private readonly log: Logger,
    private readonly opts: {
      perSecond: number;
      burst?: number;
      concurrency?: number;
      busy?: () => boolean;
      maxDeferMs?: number;
    },
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
    if (this.#stopped || !this.#pending.size) return;
    const now = Date.now();
    if (this.#mustDefer(now)) return this.#wake(YIELD_CHECK_MS);
    const burst = this.opts.burst ?? this.opts.perSecond;
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#at) / 1000) * this.opts.perSecond);
    this.#at = now;
    while (this.#pending.size && this.#inFlight < (this.opts.concurrency ?? 2) && this.#tokens >= 1) {
      const [id, next] = this.#pending.entries().next().value!;
      this.#pending.delete(id);
      this.#tokens--;
      this.#inFlight++;
      void this.#send(next).finally(() => {
        this.#inFlight--;
        this.#drain();
      });
    }
    if (this.#pending.size && this.#tokens < 1)
      this.#wake(Math.ceil(((1 - this.#tokens) / this.opts.perSecond) * 1000));
  }

  /** Reconciles come first; past maxDeferMs of waiting, nudges go anyway. */
  #mustDefer(now: number): boolean {
    if (!this.opts.busy?.()) {
      this.#deferredSince = undefined;
      return false;
    }
    this.#deferredSince ??= now;
    return now - this.#deferredSince < (this.opts.maxDeferMs ?? 5_000);
  }

  #wake(afterMs: number): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#drain();
    }, afterMs);
    this.#timer.unref();
  }

  async #send(p: { namespace: string; name: string; version: string }): Promise<void> {
    try {
      await this.core.patchNamespacedPod(
        {
          namespace: p.namespace,
          name: p.name,
          body: { metadata: { annotations: { [SECRET_VERSION_ANNOTATION]: p.version } } },
        },
        mergePatch,
      );
      this.sent++;
    } catch (err) {
      // A pod gone meanwhile needs no nudge; anything else: the kubelet's own sync catches up.
      if (statusOf(err) !== 404)
        this.log.warn({ pod: `${p.namespace}/${p.name}`, err: describeError(err) }, "could not nudge pod");
    }
  }
}

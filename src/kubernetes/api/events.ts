/**
 * Kubernetes Events on the objects we act for, recorded the way client-go's event recorder
 * keeps them cheap: off the caller's path (a bounded background queue), the same
 * (object, reason, message) at most once per dedupe window, and per object a token bucket
 * (burst, then one per refill interval) so a crash-looping workload cannot flood the API.
 */
import type { CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { API_CONNECTIONS } from "./connection-pool.js";
import { describeError } from "./kube-client.js";

export interface EventTarget {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  uid: string | undefined;
}

export interface EventRecorderOptions {
  dedupeWindowMs?: number;
  burst?: number;
  refillMs?: number;
  maxBacklog?: number;
  now?: () => number;
}

interface Pending {
  target: EventTarget;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

const MAX_TRACKED = 10_000;
/** Events in flight: half of the shared connection pool (./connection-pool.ts), so Secret writes never wait behind Events. */
const IN_FLIGHT = Math.max(1, API_CONNECTIONS / 2);

export class EventRecorder {
  readonly #seen = new Map<string, number>();
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #backlog: Pending[] = [];
  #inFlight = 0;
  #dropped = 0;

  constructor(
    private readonly core: CoreV1Api,
    private readonly log: Logger,
    private readonly opts: EventRecorderOptions = {},
  ) {}

  get dropped(): number {
    return this.#dropped;
  }

  /** Queue an Event; returns false when it was deduplicated, rate-limited or the backlog is full. */
  record(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): boolean {
    const now = (this.opts.now ?? Date.now)();
    const object = `${target.namespace}/${target.kind}/${target.name}/${target.uid ?? ""}`;
    const key = `${object}|${type}|${reason}|${message}`;
    const last = this.#seen.get(key);
    if (last !== undefined && now - last < (this.opts.dedupeWindowMs ?? 600_000)) return false;
    if (!this.#take(object, now) || this.#backlog.length >= (this.opts.maxBacklog ?? 1000)) {
      this.#dropped++;
      return false;
    }
    remember(this.#seen, key, now);
    this.#backlog.push({ target, type, reason, message });
    this.#drain();
    return true;
  }

  /** Resolves once every queued Event has been sent (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.#inFlight || this.#backlog.length) await new Promise((r) => setTimeout(r, 5));
  }

  #take(object: string, now: number): boolean {
    const burst = this.opts.burst ?? 25;
    const refillMs = this.opts.refillMs ?? 300_000;
    const b = this.#buckets.get(object) ?? { tokens: burst, at: now };
    const tokens = Math.min(burst, b.tokens + (now - b.at) / refillMs);
    if (tokens < 1) return false;
    remember(this.#buckets, object, { tokens: tokens - 1, at: now });
    return true;
  }

  #drain(): void {
    while (this.#inFlight < IN_FLIGHT && this.#backlog.length) {
      const next = this.#backlog.shift()!;
      this.#inFlight++;
      void this.#send(next).finally(() => {
        this.#inFlight--;
        this.#drain();
      });
    }
  }

  async #send({ target, type, reason, message }: Pending): Promise<void> {
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace: target.namespace,
        body: {
          metadata: { generateName: `${target.name}.`, namespace: target.namespace },
          involvedObject: {
            kind: target.kind,
            apiVersion: target.apiVersion,
            namespace: target.namespace,
            name: target.name,
            ...(target.uid ? { uid: target.uid } : {}),
          },
          reason,
          message,
          type,
          source: { component: "strongroom" },
          reportingComponent: "strongroom.io/controller",
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      this.log.warn({ err: describeError(err), reason }, "could not record event");
    }
  }
}

/** Insert, evicting the oldest entry when the map is full (Map keeps insertion order). */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_TRACKED) map.delete(map.keys().next().value!);
}

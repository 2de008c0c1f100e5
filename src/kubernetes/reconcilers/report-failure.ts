/**
 * One place that reports a reconcile failure to everything that shows it, together (as
 * External Secrets does): the denial metric by reason, a Warning Event on each affected
 * object (deduplicated and rate-limited by the recorder), a status condition when the
 * object has one, and one log line per new reason — never secret values.
 */
import type { Logger } from "pino";
import type { Metrics } from "../../telemetry/metrics.js";
import type { EventRecorder, EventTarget } from "../api/events.js";

export interface FailureSinks {
  events: EventRecorder;
  metrics: Metrics;
  log: Logger;
}

export interface Failure {
  /** The object reconciled (`namespace/name`), for the log. */
  key: string;
  reason: string;
  message: string;
  targets: EventTarget[];
  /** Sets the object's status condition (SecretBinding Ready=False). */
  setCondition?: () => Promise<void>;
}

export class FailureReporter {
  /** Last reason per key, so the log says it once, not on every retry. */
  readonly #last = new Map<string, string>();

  constructor(private readonly sinks: FailureSinks) {}

  async report(f: Failure): Promise<void> {
    this.sinks.metrics.denials.inc({ reason: f.reason });
    if (this.#last.get(f.key) !== f.reason) {
      this.#last.set(f.key, f.reason);
      this.sinks.log.warn({ key: f.key, reason: f.reason, message: f.message }, "reconcile refused");
    }
    for (const target of f.targets) this.sinks.events.record(target, "Warning", f.reason, f.message);
    await f.setCondition?.();
  }

  /** The key is healthy again (or gone): the next failure is news. */
  clear(key: string): void {
    this.#last.delete(key);
  }
}

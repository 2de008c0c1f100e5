/**
 * The one prom-client registry. Every name starts with `strongroom_`; labels are route
 * templates, statuses and outcomes, never ids or values.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** prom-client defaults whose cost grows with the number of open connections. */
const O_OF_CONNECTIONS_DEFAULTS = [
  "nodejs_active_handles",
  "nodejs_active_handles_total",
  "nodejs_active_resources",
  "nodejs_active_resources_total",
];

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: "strongroom_http_requests_total",
    help: "HTTP requests by method, route template and status",
    labelNames: ["method", "route", "status"],
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: "strongroom_http_request_duration_seconds",
    help: "HTTP request latency by method, route template and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly secretsRead = new Counter({
    name: "strongroom_secrets_read_total",
    help: "Secret values returned (a batch of n counts n)",
    registers: [this.registry],
  });
  readonly secretsWritten = new Counter({
    name: "strongroom_secrets_written_total",
    help: "Secret versions written",
    registers: [this.registry],
  });
  readonly authn = new Counter({
    name: "strongroom_authn_total",
    help: "Authentication attempts by outcome",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly authnThrottled = new Counter({
    name: "strongroom_authn_throttled_total",
    help: "Authentication attempts refused unchecked (429) after too many failures, by which counter refused: role or address",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly auditWriteFailures = new Counter({
    name: "strongroom_audit_write_failures_total",
    help: "Audit writes that failed (each fails its request closed)",
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: "strongroom_reconcile_total",
    help: "Controller reconciles by kind and outcome",
    labelNames: ["kind", "outcome"],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: "strongroom_reconcile_duration_seconds",
    help: "Controller reconcile latency",
    labelNames: ["kind"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "strongroom_queue_depth",
    help: "Controller work ready to run now (keys waiting for a worker); scheduled refreshes and retries are strongroom_queue_scheduled",
    registers: [this.registry],
  });
  readonly queueScheduled = new Gauge({
    name: "strongroom_queue_scheduled",
    help: "Controller keys scheduled for later: refresh intervals, requeues and backed-off retries",
    registers: [this.registry],
  });
  readonly controllerHealthy = new Gauge({
    name: "strongroom_controller_healthy",
    help: "1 when the controller (if leading) has synced caches and a pod watch heard from within --watch-stale-after, else 0",
    registers: [this.registry],
  });
  readonly controllerLeading = new Gauge({
    name: "strongroom_controller_leading",
    help: "1 while this replica holds the controller Lease",
    registers: [this.registry],
  });
  readonly injections = new Counter({
    name: "strongroom_webhook_injections_total",
    help: "Admission reviews by outcome (injected, skipped, rejected)",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly denials = new Counter({
    name: "strongroom_denials_total",
    help: "Pods or bindings refused their secrets, by reason",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly watchEventAge = new Gauge({
    name: "strongroom_watch_last_event_age_seconds",
    help: "Seconds since the controller's pod watch last delivered an event or re-listed",
    registers: [this.registry],
  });

  readonly databaseUp = new Gauge({
    name: "strongroom_database_up",
    help: "1 when the last readiness probe reached the database within its budget, else 0",
    registers: [this.registry],
  });

  readonly tlsReloads = new Counter({
    name: "strongroom_tls_reloads_total",
    help: "Certificate files re-read from disk: applied (new certificate served) or refused (kept the current one)",
    labelNames: ["outcome"],
    registers: [this.registry],
  });

  readonly secretWatchers = new Gauge({
    name: "strongroom_secret_watchers",
    help: "Long-poll watches (GET /secrets/watch) waiting now",
    registers: [this.registry],
  });
  readonly secretWatchResponses = new Counter({
    name: "strongroom_secret_watch_responses_total",
    help: "Answers to GET /secrets/watch by outcome: changed, unchanged (timed out), refused (too many watchers)",
    labelNames: ["outcome"],
    registers: [this.registry],
  });

  readonly secretWatchWaveDuration = new Histogram({
    name: "strongroom_secret_watch_wave_seconds",
    help: "One wave of the change stream: from a change's notification to every follower's answer written",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor(defaults = true) {
    if (!defaults) return;
    collectDefaultMetrics({ register: this.registry, prefix: "strongroom_" });
    // These list every handle (each held watch's socket) on each scrape: at 10,000 watches a
    // scrape blocked the event loop for 80–100 ms, most of it here (bench/README.md, agents).
    // strongroom_secret_watchers and process_open_fds say the same for far less.
    for (const name of O_OF_CONNECTIONS_DEFAULTS) this.registry.removeSingleMetric(`strongroom_${name}`);
  }
}

/** The agent's metrics live with the agent (no prom-client in its import graph). */
export { AgentMetrics } from "../agent/agent-metrics.js";

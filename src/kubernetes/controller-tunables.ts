/** The controller's tunables, their defaults, and how src/config.ts's settings map onto them. */
import type { Config } from "../config.js";
import type { LeaderElectionTimings } from "./runtime/leader-election.js";

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

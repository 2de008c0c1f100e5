/**
 * `strongroom agent`: composition root of the in-pod agent. `--once` (init containers)
 * writes the files and exits 0, or exits 1 with one clear line on denial (at once) or when
 * the server stays unreachable (after a few retries). Otherwise it keeps the files fresh
 * until SIGTERM.
 */
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import type { AgentLog } from "./agent-log.js";
import { AgentMetrics } from "./agent-metrics.js";
import { Agent } from "./agent.js";
import { backoffMs } from "../retry/backoff.js";
import type { AgentConfig } from "./agent-config.js";
import { startHealthServer } from "./health-server.js";
import { ServerClient, ServerError } from "./server-client.js";
import { writeFileAtomically } from "./write-files.js";

export interface RunningAgent {
  agent: Agent;
  healthPort: number;
  /** Resolves when the loop ends (after stop()). */
  done: Promise<void>;
  stop(): Promise<void>;
}

export class AgentFailure extends Error {}

function build(config: AgentConfig, log: AgentLog, metrics: AgentMetrics): { agent: Agent; client: ServerClient } {
  const client = new ServerClient({
    url: config.url,
    account: config.account,
    authenticator: config.authenticator,
    login: config.login,
    tokenFile: config.tokenFile,
    ...(config.caFile ? { ca: readFileSync(config.caFile) } : config.caPem ? { ca: Buffer.from(config.caPem) } : {}),
  });
  const agent = new Agent({
    server: client,
    write: (name, content, mode) => writeFileAtomically(config.dir, name, content, mode),
    files: config.files,
    log,
    metrics,
    watchTimeoutSeconds: config.watchTimeoutSeconds,
    backoffMaxMs: config.backoffMaxMs,
  });
  return { agent, client };
}

/** Init-container mode: write once. Denials fail at once; outages are retried `attempts` times. */
export async function runOnce(config: AgentConfig, log: AgentLog, attempts = 5): Promise<void> {
  await mkdir(config.dir, { recursive: true });
  const { agent, client } = build(config, log, new AgentMetrics(false));
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await agent.syncOnce();
        log.info({ files: config.files.length, dir: config.dir }, "files written");
        return;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const retryable = err instanceof ServerError && !err.denial;
        if (!retryable || attempt >= attempts)
          throw new AgentFailure(retryable ? `server unreachable after ${attempts} attempts: ${message}` : message);
        log.warn({ attempt, err: message }, "retrying");
        await new Promise((ok) => setTimeout(ok, backoffMs(attempt + 1, { baseMs: 250, maxMs: config.backoffMaxMs })));
      }
    }
  } finally {
    client.close();
  }
}

export async function startAgent(
  config: AgentConfig,
  log: AgentLog,
  options: { metrics?: AgentMetrics; healthHost?: string } = {},
): Promise<RunningAgent> {
  await mkdir(config.dir, { recursive: true });
  const metrics = options.metrics ?? new AgentMetrics();
  const { agent, client } = build(config, log, metrics);
  const health = await startHealthServer(
    config.healthPort,
    options.healthHost ?? "0.0.0.0",
    () => agent.status(),
    metrics,
  );
  const done = agent.run();
  return {
    agent,
    healthPort: health.port,
    done,
    async stop() {
      agent.stop();
      client.close(); // ends the stream (or long-poll) in flight
      await done;
      await health.close();
    },
  };
}

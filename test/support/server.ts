/** Starts the real server in-process on port 0 against a fresh real database. */
import type { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { startServer, type RunningServer } from "../../src/cli/server.js";
import { loadConfig } from "../../src/config.js";
import { generateDataKey } from "../../src/crypto/aead.js";
import { BatchingDestination } from "../../src/telemetry/logger.js";
import { Metrics } from "../../src/telemetry/metrics.js";
import { freshDatabase } from "./postgres.js";

export interface TestServer extends RunningServer {
  account: string;
  adminKey: string;
  databaseUrl: string;
  dataKey: string;
}

export async function startTestServer(
  opts: {
    account?: string;
    tokenTtl?: number;
    env?: Record<string, string>;
    flags?: Record<string, string | boolean>;
    kubeConfig?: KubeConfig;
    databaseUrl?: string;
    dataKey?: string;
    logLines?: string[];
  } = {},
): Promise<TestServer> {
  const databaseUrl = opts.databaseUrl ?? (await freshDatabase());
  const dataKey = opts.dataKey ?? generateDataKey();
  const account = opts.account ?? "test";
  const config = loadConfig(
    {
      port: "0",
      host: "127.0.0.1",
      account,
      "database-url": databaseUrl,
      ...(opts.tokenTtl ? { "token-ttl": String(opts.tokenTtl) } : {}),
      ...opts.flags,
    },
    { STRONGROOM_DATA_KEY: dataKey, ...opts.env },
  );
  const log = opts.logLines
    ? pino(
        { level: "debug" },
        new BatchingDestination({
          write: (chunk: string) => void opts.logLines!.push(...chunk.split("\n").filter((line) => line !== "")),
        }),
      )
    : pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const running = await startServer(config, log, {
    metrics: new Metrics(false),
    ...(opts.kubeConfig ? { kubeConfig: opts.kubeConfig } : {}),
  });
  return { ...running, account, adminKey: running.adminApiKey!, databaseUrl, dataKey };
}

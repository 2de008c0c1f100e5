/** Starts the real server in-process on port 0 against a fresh real database. */
import { pino } from "pino";
import { startServer, type RunningServer } from "../../src/cli/server.js";
import { loadConfig } from "../../src/config.js";
import { generateDataKey } from "../../src/crypto/aead.js";
import { Metrics } from "../../src/telemetry/metrics.js";
import { freshDatabase } from "./postgres.js";

export interface TestServer extends RunningServer {
  account: string;
  adminKey: string;
  databaseUrl: string;
  dataKey: string;
}

export async function startTestServer(opts: { account?: string; tokenTtl?: number; env?: Record<string, string> } = {}): Promise<TestServer> {
  const databaseUrl = await freshDatabase();
  const dataKey = generateDataKey();
  const account = opts.account ?? "test";
  const config = loadConfig(
    { port: "0", host: "127.0.0.1", account, "database-url": databaseUrl, ...(opts.tokenTtl ? { "token-ttl": String(opts.tokenTtl) } : {}) },
    { STRONGROOM_DATA_KEY: dataKey, ...opts.env },
  );
  const running = await startServer(config, pino({ level: "silent" }), new Metrics(false));
  return { ...running, account, adminKey: running.adminApiKey!, databaseUrl, dataKey };
}

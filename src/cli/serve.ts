/** `strongroom server`: start, print a new account's admin key once, drain and stop on SIGINT/SIGTERM. */
import type { Config } from "../config.js";
import { createLogger } from "../telemetry/logger.js";
import { startServer } from "./server.js";

/** Returns -1: the process keeps running until a signal. */
export async function serve(config: Config): Promise<number> {
  const log = createLogger(config.logLevel);
  const running = await startServer(config, log);
  // With --admin-key-secret (the chart) the key went to a Secret: never to the log.
  if (running.adminApiKey && !config.adminKeySecret)
    process.stdout.write(`API key for admin: ${running.adminApiKey}\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down: draining requests");
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  return -1;
}

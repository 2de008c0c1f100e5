/**
 * `strongroom server`: start, print a new account's admin key once, drain and stop on SIGINT/SIGTERM.
 * SIGTERM (Kubernetes, podman stop) first waits --shutdown-delay with /ready answering 503: the pod's
 * endpoints are removed while it still answers, so no client meets a closed port. SIGINT (Ctrl-C) stops at once.
 */
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
  let delay: NodeJS.Timeout | undefined;
  let closing = false;
  const close = (signal: string): void => {
    if (closing) return;
    closing = true;
    clearTimeout(delay);
    log.info({ signal }, "shutting down: draining requests");
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  const stop = (signal: string): void => {
    running.beginDraining();
    // A second signal, or SIGINT, during the delay stops at once.
    if (signal === "SIGTERM" && config.shutdownDelayMs > 0 && !delay) {
      log.info({ signal, delaySeconds: config.shutdownDelayMs / 1000 }, "shutting down: /ready is 503, still serving");
      delay = setTimeout(() => close(signal), config.shutdownDelayMs);
    } else close(signal);
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  return -1;
}

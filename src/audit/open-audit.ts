/** Builds the server's Audit from configuration: the log sink always, the file sink with `--audit-file`. */
import type { Logger } from "pino";
import type { Metrics } from "../telemetry/metrics.js";
import { Audit, type AuditSink } from "./audit.js";
import { FileAuditSink } from "./file-sink.js";
import { LogAuditSink } from "./log-sink.js";

export async function openAudit(options: {
  auditFile: string | undefined;
  log: Logger;
  metrics: Metrics;
}): Promise<Audit> {
  const sinks: AuditSink[] = [new LogAuditSink(options.log)];
  if (options.auditFile) {
    try {
      sinks.push(await FileAuditSink.open(options.auditFile));
    } catch (err) {
      // One line for the operator, as for other startup problems; no stack trace.
      throw new Error(
        `cannot open the audit file '${options.auditFile}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        { cause: err },
      );
    }
  }
  let lastLogged = 0;
  return new Audit(sinks, (err) => {
    options.metrics.auditWriteFailures.inc();
    // At most one log line per 10 s while failing, not one per refused request.
    if (Date.now() - lastLogged < 10_000) return;
    lastLogged = Date.now();
    options.log.error(
      { err: { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message } },
      "audit sink failed: refusing audited requests",
    );
  });
}

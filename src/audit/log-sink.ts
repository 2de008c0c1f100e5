/**
 * The always-on audit sink: the server's pino log on stdout, one line per record marked
 * `"audit":true`. An error the destination throws fails the request. The lines of one call
 * (a batch read's n records) go to the destination in one write (telemetry/logger.ts).
 */
import type { Logger } from "pino";
import { logInOneWrite } from "../telemetry/logger.js";
import type { AuditRecord, AuditSink } from "./audit.js";

export class LogAuditSink implements AuditSink {
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log.child({ audit: true });
  }

  write(records: readonly AuditRecord[]): Promise<void> {
    logInOneWrite(this.#log, () => {
      for (const { time: _time, ...event } of records) this.#log.info(event, `audit ${event.action} ${event.outcome}`);
    });
    return Promise.resolve();
  }
}
